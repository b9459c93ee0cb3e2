import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLibrary, createTransformation, trackEvent, wireEvent } from '../helpers/fixtures.js';
import { basicAuth, startTestServer, type TestServer } from '../helpers/server.js';

// POST /customTransform as rudder-server speaks it (spec 7.3): grouping, input order, metadata
// passthrough, fan-out, drops, per-event errors, unknown versions, libraries and malformed input.

let server: TestServer;
let accessAuth: string;
const versions: Record<string, string> = {};

interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

async function transform(body: unknown, headers: Record<string, string> = {}, base = server.url): Promise<Answer> {
  const all: Record<string, string> = { authorization: accessAuth, 'content-type': 'application/json; charset=utf-8', ...headers };
  // An empty authorization means "send none".
  if (all.authorization === '') delete all.authorization;
  const res = await fetch(`${base}/customTransform`, {
    method: 'POST',
    headers: all,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

const code = {
  tagA: `export function transformEvent(event) { event.properties.tagged = 'A'; return event; }`,
  tagB: `export function transformEvent(event) { event.properties.tagged = 'B'; return event; }`,
  fanOut: `export function transformEvent(event) { return [{ ...event, copy: 1 }, { ...event, copy: 2 }]; }`,
  dropOdd: `export function transformEvent(event) { return Number(event.messageId.slice(4)) % 2 === 1 ? null : event; }`,
  throwOnOrder: `export function transformEvent(event) { if (event.event === 'Order Completed') throw new TypeError('orders are not allowed'); return event; }`,
  readMetadata: `export function transformEvent(event, metadata) { const m = metadata(event); return { ...event, seenJobId: m.jobId, seenSource: m.sourceId }; }`,
  batchReverse: `export function transformBatch(events) { return events.slice().reverse().map((e) => ({ ...e, batched: true })); }`,
  batchExtra: `export function transformBatch(events) { return [...events, { type: 'track', event: 'Summary', count: events.length }]; }`,
  batchThrows: `export function transformBatch() { throw new Error('batch refused'); }`,
  usesLibrary: `import { shout } from 'shoutingLib';\nexport function transformEvent(event) { event.event = shout(event.event); return event; }`,
  async: `export async function transformEvent(event) { await null; return { ...event, awaited: true }; }`,
};

beforeAll(async () => {
  server = await startTestServer({ env: { TILLER_RUNTIME_PORT: '0' } });
  const token = await server.issueAccessToken({ name: 'wire', scopes: ['read'] });
  accessAuth = basicAuth('', token.token);
  for (const [name, source] of Object.entries(code)) {
    versions[name] = (await createTransformation(server, { workspaceId: server.workspaceId, code: source, name })).versionId;
  }
  versions.shoutingLib = (await createLibrary(server, { workspaceId: server.workspaceId, name: 'Shouting Lib', code: `export function shout(s) { return String(s).toUpperCase() + '!'; }` })).versionId;
});

afterAll(async () => {
  await server?.close();
});

describe('POST /customTransform: answers', () => {
  it('transforms a batch and answers { output, metadata, statusCode: 200 } per event, in input order, with apiVersion 2', async () => {
    const events = Array.from({ length: 20 }, (_, n) => wireEvent(n, { versionId: versions.tagA! }));
    const res = await transform(events);
    expect(res.status).toBe(200);
    expect(res.headers.get('apiversion')).toBe('2');
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body).toHaveLength(20);
    res.body.forEach((answer: any, n: number) => {
      expect(Object.keys(answer)).toEqual(['output', 'metadata', 'statusCode']);
      expect(answer.statusCode).toBe(200);
      expect(answer.output).toEqual({ ...trackEvent(n), properties: { ...(trackEvent(n).properties as object), tagged: 'A' } });
      expect(answer.metadata).toEqual((events[n] as any).metadata);
    });
  });

  it('passes metadata through unchanged, nested fields and unknown keys included', async () => {
    const event = wireEvent(1, { versionId: versions.tagA! });
    (event.metadata as any).custom = { nested: [1, 'two', { three: null }], unicode: 'żółw ✓' };
    (event.metadata as any).sourceTpConfig = { a: { b: true } };
    const res = await transform([event]);
    expect(res.body[0].metadata).toEqual(event.metadata);
  });

  it('answers an empty array for an empty batch', async () => {
    const res = await transform([]);
    expect(res.status).toBe(200);
    expect(res.body).toEqual([]);
  });

  it('lets the code read each event\'s metadata through metadata(event)', async () => {
    const res = await transform([wireEvent(7, { versionId: versions.readMetadata!, sourceId: 'src-9' })]);
    expect(res.body[0].output).toMatchObject({ seenJobId: 7, seenSource: 'src-9' });
  });

  it('runs async transformEvent code', async () => {
    const res = await transform([wireEvent(1, { versionId: versions.async! })]);
    expect(res.body[0]).toMatchObject({ statusCode: 200, output: { awaited: true } });
  });
});

describe('POST /customTransform: grouping', () => {
  it('groups by destinationId and sourceId; each group runs the version its first event names', async () => {
    const events = [
      wireEvent(0, { versionId: versions.tagA!, destinationId: 'd1', sourceId: 's1' }),
      wireEvent(1, { versionId: versions.tagB!, destinationId: 'd2', sourceId: 's1' }),
      // Same group as event 0, but names another version: the group's first event decides.
      wireEvent(2, { versionId: versions.tagB!, destinationId: 'd1', sourceId: 's1' }),
      // Same destination, other source: its own group.
      wireEvent(3, { versionId: versions.tagB!, destinationId: 'd1', sourceId: 's2' }),
      wireEvent(4, { versionId: versions.tagA!, destinationId: 'd2', sourceId: 's1' }),
    ];
    const res = await transform(events);
    expect(res.status).toBe(200);
    expect(res.body.map((a: any) => [a.metadata.messageId, a.output.properties.tagged])).toEqual([
      ['msg-0', 'A'],
      ['msg-1', 'B'],
      ['msg-2', 'A'],
      ['msg-3', 'B'],
      ['msg-4', 'B'],
    ]);
  });

  it('keeps input order when interleaved groups run concurrently', async () => {
    const events = Array.from({ length: 60 }, (_, n) =>
      wireEvent(n, { versionId: n % 3 === 0 ? versions.tagA! : n % 3 === 1 ? versions.tagB! : versions.async!, destinationId: `d${n % 3}` }),
    );
    const res = await transform(events);
    expect(res.body.map((a: any) => a.metadata.messageId)).toEqual(events.map((e: any) => e.metadata.messageId));
    expect(res.body.filter((a: any) => a.output.awaited === true)).toHaveLength(20);
  });

  it('fans out: several answers for one event stay together, in the order the code returned them, with its metadata', async () => {
    const events = [wireEvent(0, { versionId: versions.fanOut! }), wireEvent(1, { versionId: versions.fanOut! })];
    const res = await transform(events);
    expect(res.body.map((a: any) => [a.metadata.messageId, a.output.copy])).toEqual([
      ['msg-0', 1],
      ['msg-0', 2],
      ['msg-1', 1],
      ['msg-1', 2],
    ]);
  });

  it('maps transformBatch outputs back to their input metadata', async () => {
    const events = Array.from({ length: 4 }, (_, n) => wireEvent(n, { versionId: versions.batchReverse! }));
    const res = await transform(events);
    expect(res.body).toHaveLength(4);
    for (const answer of res.body) {
      expect(answer.statusCode).toBe(200);
      expect(answer.output.batched).toBe(true);
      expect(answer.metadata.messageId).toBe(answer.output.messageId);
    }
  });

  it('gives transformBatch outputs that trace back to no input the first input\'s metadata with a new messageId, as rudder-transformer does', async () => {
    const events = [wireEvent(0, { versionId: versions.batchExtra! }), wireEvent(1, { versionId: versions.batchExtra! })];
    const res = await transform(events);
    expect(res.body).toHaveLength(3);
    const summary = res.body[2];
    expect(summary.output).toEqual({ type: 'track', event: 'Summary', count: 2 });
    expect(summary.metadata).toEqual({ ...(events[0] as any).metadata, messageId: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/), eventName: 'Summary', eventType: 'track' });
  });
});

describe('POST /customTransform: drops and failures', () => {
  it('leaves dropped events out without X-Feature-Filter-Code', async () => {
    const events = Array.from({ length: 6 }, (_, n) => wireEvent(n, { versionId: versions.dropOdd! }));
    const res = await transform(events);
    expect(res.body.map((a: any) => a.metadata.messageId)).toEqual(['msg-0', 'msg-2', 'msg-4']);
  });

  it.each(['true', '?1'])('answers dropped events { statusCode: 298, metadata } with X-Feature-Filter-Code: %s', async (flag) => {
    const events = Array.from({ length: 4 }, (_, n) => wireEvent(n, { versionId: versions.dropOdd! }));
    const res = await transform(events, { 'X-Feature-Filter-Code': flag });
    expect(res.body.map((a: any) => [a.metadata.messageId, a.statusCode])).toEqual([
      ['msg-0', 200],
      ['msg-1', 298],
      ['msg-2', 200],
      ['msg-3', 298],
    ]);
    expect(res.body[1]).toEqual({ statusCode: 298, metadata: (events[1] as any).metadata });
  });

  it('fails only the events whose code threw, with the message and the user\'s frame, no host stack frames', async () => {
    const events = Array.from({ length: 4 }, (_, n) => wireEvent(n, { versionId: versions.throwOnOrder! }));
    const res = await transform(events);
    expect(res.body.map((a: any) => a.statusCode)).toEqual([200, 400, 200, 400]);
    // Spec 7.5: the frame names the transformation (its name here is the key of `code`) and the user's line and column.
    const column = code.throwOnOrder.indexOf('new TypeError') + 1;
    expect(res.body[1]).toEqual({ statusCode: 400, error: `TypeError: orders are not allowed\n    at transformEvent (throwOnOrder:1:${column})`, metadata: (events[1] as any).metadata });
    expect(res.body[1].error).not.toMatch(/node_modules|\.ts:|file:/);
  });

  it('fails every event of a group whose transformBatch threw, and only that group', async () => {
    const events = [
      wireEvent(0, { versionId: versions.batchThrows!, destinationId: 'bad' }),
      wireEvent(1, { versionId: versions.tagA!, destinationId: 'good' }),
      wireEvent(2, { versionId: versions.batchThrows!, destinationId: 'bad' }),
    ];
    const res = await transform(events);
    expect(res.body.map((a: any) => a.statusCode)).toEqual([400, 200, 400]);
    expect(res.body[0].error).toContain('batch refused');
    expect(res.body[2].metadata).toEqual((events[2] as any).metadata);
  });

  it('answers statusCode 404 per event for a version id that does not exist, and still runs the other groups', async () => {
    const events = [
      wireEvent(0, { versionId: 'no-such-version', destinationId: 'x' }),
      wireEvent(1, { versionId: versions.tagA!, destinationId: 'y' }),
      wireEvent(2, { versionId: 'no-such-version', destinationId: 'x' }),
    ];
    const res = await transform(events);
    expect(res.status).toBe(200);
    expect(res.body.map((a: any) => a.statusCode)).toEqual([404, 200, 404]);
    expect(res.body[0]).toEqual({ statusCode: 404, error: 'transformation version no-such-version not found', metadata: (events[0] as any).metadata });
  });
});

describe('POST /customTransform: libraries', () => {
  it('links the library versions listed in the first event', async () => {
    const events = [wireEvent(0, { versionId: versions.usesLibrary!, libraries: [versions.shoutingLib!, 'unknown-library-version'] }), wireEvent(1, { versionId: versions.usesLibrary! })];
    const res = await transform(events);
    expect(res.body.map((a: any) => a.output?.event)).toEqual(['PRODUCT VIEWED!', 'ORDER COMPLETED!']);
  });

  it('ignores libraries listed on any event but the first', async () => {
    const events = [wireEvent(0, { versionId: versions.usesLibrary! }), wireEvent(1, { versionId: versions.usesLibrary!, libraries: [versions.shoutingLib!] })];
    const res = await transform(events);
    expect(res.body.map((a: any) => a.statusCode)).toEqual([400, 400]);
    expect(res.body[0].error).toMatch(/library "shoutingLib" not found/);
  });

  it('never links another workspace\'s library, whatever the request lists', async () => {
    const other = await server.createWorkspace('other');
    const foreign = await createLibrary(server, { workspaceId: other.workspaceId, name: 'Shouting Lib', code: `export function shout() { return 'stolen'; }` });
    const res = await transform([wireEvent(0, { versionId: versions.usesLibrary!, libraries: [foreign.versionId] })]);
    expect(res.body[0].statusCode).toBe(400);
    expect(res.body[0].error).toMatch(/library "shoutingLib" not found/);
  });
});

describe('POST /customTransform: malformed input', () => {
  it('answers a clear per-event 400 for each malformed entry and runs the rest', async () => {
    const good = wireEvent(0, { versionId: versions.tagA! });
    const noDestination = { message: trackEvent(1), metadata: { messageId: 'm1' } };
    const noTransformations = { message: trackEvent(2), metadata: { messageId: 'm2' }, destination: { Transformations: [] } };
    const noVersionId = { message: trackEvent(3), metadata: { messageId: 'm3' }, destination: { Transformations: [{ ID: 'x' }] } };
    const badMessage = { message: 'not an object', metadata: { messageId: 'm4' }, destination: { Transformations: [{ VersionID: versions.tagA }] } };
    const badMetadata = { message: trackEvent(5), metadata: 'nope', destination: { Transformations: [{ VersionID: versions.tagA }] } };
    const res = await transform([good, noDestination, noTransformations, noVersionId, badMessage, badMetadata, 42, null]);
    expect(res.status).toBe(200);
    expect(res.body).toHaveLength(8);
    expect(res.body[0].statusCode).toBe(200);
    expect(res.body.slice(1).map((a: any) => a.statusCode)).toEqual([400, 400, 400, 400, 400, 400, 400]);
    expect(res.body[1]).toEqual({ statusCode: 400, error: 'destination is required and must be an object', metadata: { messageId: 'm1' } });
    expect(res.body[2].error).toBe('destination.Transformations must be a non-empty array');
    expect(res.body[3].error).toBe('destination.Transformations[0].VersionID is required and must be a non-empty string');
    expect(res.body[4].error).toBe('message is required and must be an object');
    expect(res.body[5]).toEqual({ statusCode: 400, error: 'metadata must be an object', metadata: {} });
    expect(res.body[6]).toEqual({ statusCode: 400, error: 'each event must be an object with message, metadata and destination', metadata: {} });
  });

  it('answers a 400 envelope for a body that is not an array', async () => {
    for (const body of [{ message: {} }, '"text"', '12']) {
      const res = await transform(body);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ success: false, error: { code: 'invalid_body' } });
      expect(res.body.error.message).toMatch(/JSON array/);
    }
  });

  it('answers 400 for malformed JSON and for an empty body, and 415 for a non-JSON body', async () => {
    expect((await transform('[{"message": ')).body).toMatchObject({ error: { code: 'invalid_json' } });
    const empty = await transform('');
    expect(empty.status).toBe(400);
    expect(empty.body.error.code).toBe('invalid_body');
    const res = await fetch(`${server.url}/customTransform`, { method: 'POST', headers: { authorization: accessAuth, 'content-type': 'text/plain' }, body: '[]' });
    expect(res.status).toBe(415);
  });

  it('keeps prototype-poisoning keys as plain data instead of failing the batch (as rudder-transformer does)', async () => {
    const res = await transform(`[{"message": {"__proto__": {"polluted": true}, "properties": {}}, "metadata": {}, "destination": {"Transformations": [{"VersionID": "${versions.tagA}"}]}}]`);
    expect(res.status).toBe(200);
    expect(res.body[0].statusCode).toBe(200);
    expect(Object.keys(res.body[0].output)).toContain('__proto__');
    expect(({} as any).polluted).toBeUndefined();
  });
});

describe('POST /customTransform: authentication and workspaces', () => {
  it('answers 401 without credentials on the main listener', async () => {
    const res = await transform([wireEvent(0, { versionId: versions.tagA! })], { authorization: '' });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="tiller"');
  });

  it('accepts the workspace token and a read-only access token', async () => {
    expect((await transform([wireEvent(0, { versionId: versions.tagA! })], { authorization: server.workspaceAuth })).body[0].statusCode).toBe(200);
    expect((await transform([wireEvent(0, { versionId: versions.tagA! })])).body[0].statusCode).toBe(200);
  });

  it('answers 404 per event for another workspace\'s version when a credential is given', async () => {
    const other = await server.createWorkspace('neighbour');
    const foreign = await createTransformation(server, { workspaceId: other.workspaceId, code: code.tagB });
    const res = await transform([wireEvent(0, { versionId: foreign.versionId, destinationId: 'f' }), wireEvent(1, { versionId: versions.tagA!, destinationId: 'o' })]);
    expect(res.body.map((a: any) => a.statusCode)).toEqual([404, 200]);
    // The neighbour's own credential sees it.
    const theirs = await transform([wireEvent(0, { versionId: foreign.versionId })], { authorization: other.workspaceAuth });
    expect(theirs.body[0].output.properties.tagged).toBe('B');
  });

  it('needs no credentials on the runtime listener, where every workspace\'s versions run', async () => {
    expect(server.runtimeUrl).toBeDefined();
    const other = await server.createWorkspace('third');
    const foreign = await createTransformation(server, { workspaceId: other.workspaceId, code: code.tagB });
    const res = await transform([wireEvent(0, { versionId: foreign.versionId, destinationId: 'f' }), wireEvent(1, { versionId: versions.tagA!, destinationId: 'o' })], { authorization: '' }, server.runtimeUrl);
    expect(res.status).toBe(200);
    expect(res.body.map((a: any) => a.output.properties.tagged)).toEqual(['B', 'A']);
  });

  it('still refuses a wrong credential on the runtime listener', async () => {
    const res = await transform([wireEvent(0, { versionId: versions.tagA! })], { authorization: basicAuth('not-a-token') }, server.runtimeUrl);
    expect(res.status).toBe(401);
  });

  it('serves only the runtime and config-backend routes on the runtime listener', async () => {
    const res = await fetch(`${server.runtimeUrl}/transformations/x/run`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"events":[{}]}' });
    expect(res.status).toBe(404);
  });
});
