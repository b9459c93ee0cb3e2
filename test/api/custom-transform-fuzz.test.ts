import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTransformation } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// Hostile but plausible batches thrown at POST /customTransform. Any website visitor can put odd
// keys and values into an event through rudder-server's gateway, so whatever an entry holds, the
// answer must be one rudder-server can act on (spec 7.6): 200 with valid JSON in which every input
// is accounted for, or a retryable 503. One event may fail only its own entry.

let server: TestServer;
const versions: string[] = [];

const code = [
  `export function transformEvent(event) { return event; }`,
  `export function transformEvent(event) { return [event, { ...event, copy: true }]; }`,
  `export function transformEvent(event) { return typeof event.drop === 'boolean' && event.drop ? null : event; }`,
  `export function transformEvent(event, metadata) { if (event.fail) throw new Error('refused ' + JSON.stringify(event.fail).slice(0, 40)); return { ...event, meta: metadata(event) }; }`,
  `export function transformBatch(events) { for (const e of events) e.batched = true; return events; }`,
];

/** Placeholders replaced in the body text by values JSON.stringify cannot write (too deep for it). */
const DEEP = '"\u0000deep\u0000"';
const deepText = (depth: number): string => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

const oddKey = fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', 'then', '', '\u0000', '\ud800', 'a'.repeat(300), 'messageId', 'sourceId');
const oddScalar = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom('\ud800', '\udfff', '\u2028', '\u202e', '</script>', '\\', '"', DEEP),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(1e308, -0, Number.MAX_SAFE_INTEGER + 2, 0.1),
  fc.boolean(),
  fc.constant(null),
);
const oddValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, oddScalar, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 4 }),
  object: fc.dictionary(fc.oneof(oddKey, fc.string({ maxLength: 8 })), tie('value'), { maxKeys: 4 }),
})).value;
const oddObject = fc.dictionary(fc.oneof(oddKey, fc.string({ maxLength: 8 })), oddValue, { maxKeys: 5 });

const entry = (index: number) =>
  fc.record({
    shape: fc.constantFrom('ok', 'ok', 'ok', 'ok', 'noMessage', 'badMetadata', 'notObject', 'badVersion', 'unknownVersion', 'arrayMessage'),
    version: fc.nat(code.length - 1),
    message: oddObject,
    metadata: oddObject,
    destinationId: fc.oneof(fc.constantFrom('d1', 'd2'), oddValue),
    sourceId: fc.oneof(fc.constant('s1'), oddValue),
    extra: fc.record({ drop: fc.boolean(), fail: fc.oneof(fc.constant(undefined), oddValue) }, { requiredKeys: [] }),
  }).map((g) => {
    const versionId = versions[g.version] as string;
    const metadata = { ...g.metadata, fuzzIndex: index, destinationId: g.destinationId, sourceId: g.sourceId };
    const message = { ...g.message, ...g.extra, type: 'track', messageId: `m${index}` };
    const destination = { Transformations: [{ VersionID: versionId }] };
    switch (g.shape) {
      case 'noMessage':
        return { metadata, destination };
      case 'badMetadata':
        return { message, metadata: [metadata], destination };
      case 'notObject':
        return index % 2 === 0 ? null : 'event';
      case 'badVersion':
        return { message, metadata, destination: { Transformations: [{ VersionID: 7 }] } };
      case 'unknownVersion':
        return { message, metadata, destination: { Transformations: [{ VersionID: 'no-such-version' }] } };
      case 'arrayMessage':
        return { message: [message], metadata, destination };
      default:
        return { message, metadata, destination };
    }
  });

const batch = fc.integer({ min: 1, max: 12 }).chain((size) => fc.tuple(...Array.from({ length: size }, (_, i) => entry(i))));

beforeAll(async () => {
  server = await startTestServer();
  for (const source of code) versions.push((await createTransformation(server, { workspaceId: server.workspaceId, code: source })).versionId);
});

afterAll(async () => {
  await server?.close();
});

describe('POST /customTransform under generated hostile batches', () => {
  it('always answers 200 with every input accounted for, or a retryable 503, and /health answers throughout', async () => {
    const token = await server.issueAccessToken({ name: 'fuzz', scopes: ['read'] });
    let stop = false;
    const health: number[] = [];
    const watch = (async () => {
      while (!stop) {
        health.push((await fetch(`${server.url}/health`)).status);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    try {
      await fc.assert(
        fc.asyncProperty(batch, fc.boolean(), fc.nat(3), async (entries, filterDropped, deepAt) => {
          // Deep values are spliced in as text: 6,000 levels is past what JSON.stringify can write.
          const body = JSON.stringify(entries).replaceAll(JSON.stringify(DEEP.slice(1, -1)), () => deepText(deepAt === 0 ? 10 : 6000));
          const res = await fetch(`${server.url}/customTransform`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token.token}`, 'content-type': 'application/json', ...(filterDropped ? { 'x-feature-filter-code': '?1' } : {}) },
            body,
          });
          const text = await res.text();
          if (res.status === 503) {
            expect(res.headers.get('x-rudder-should-retry')).toBe('true');
            return;
          }
          expect({ status: res.status, text: text.slice(0, 300) }).toMatchObject({ status: 200 });
          const answer = JSON.parse(text) as Array<{ statusCode: number; metadata: Record<string, unknown>; output?: unknown; error?: unknown }>;
          expect(Array.isArray(answer)).toBe(true);
          const answered = new Set<unknown>();
          for (const item of answer) {
            expect([200, 298, 400, 404]).toContain(item.statusCode);
            expect(item.metadata !== null && typeof item.metadata === 'object').toBe(true);
            if (item.statusCode === 200) expect(item.output !== null && typeof item.output === 'object' && !Array.isArray(item.output)).toBe(true);
            else if (item.statusCode !== 298) expect(typeof item.error).toBe('string');
            answered.add(item.metadata.fuzzIndex);
          }
          // An input leaves the answer only when its code dropped it and no 298 was asked for.
          const mayDrop = !filterDropped && body.includes(versions[2] as string);
          entries.forEach((sent, index) => {
            if (sent === null || typeof sent !== 'object' || Array.isArray((sent as { metadata?: unknown }).metadata)) return;
            if (!mayDrop) expect(answered.has(index), `input ${index} has an answer`).toBe(true);
          });
          if (filterDropped) expect(answer.length).toBeGreaterThanOrEqual(entries.length);
        }),
        { numRuns: 200, interruptAfterTimeLimit: 60_000 },
      );
    } finally {
      stop = true;
      await watch;
    }
    expect(health.length).toBeGreaterThan(0);
    expect(health.every((status) => status === 200)).toBe(true);
  }, 120_000);

  it('keeps __proto__ and constructor keys as plain data, in the output and in the echoed metadata', async () => {
    const token = await server.issueAccessToken({ name: 'proto', scopes: ['read'] });
    const body = `[{"message":{"type":"track","__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}},"messageId":"p1"},"metadata":{"messageId":"p1","__proto__":{"sourceId":"forged"}},"destination":{"Transformations":[{"VersionID":"${versions[0]}"}]}},{"message":{"type":"track","messageId":"p2"},"metadata":{"messageId":"p2"},"destination":{"Transformations":[{"VersionID":"${versions[0]}"}]}}]`;
    const res = await fetch(`${server.url}/customTransform`, { method: 'POST', headers: { authorization: `Bearer ${token.token}`, 'content-type': 'application/json' }, body });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('"__proto__":{"polluted":true}');
    const answer = JSON.parse(text);
    expect(answer).toHaveLength(2);
    expect(answer.map((a: { statusCode: number }) => a.statusCode)).toEqual([200, 200]);
    expect(Object.keys(answer[0].output)).toContain('constructor');
    expect(Object.keys(answer[0].metadata)).toEqual(['messageId', '__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('fails only the entry whose message or metadata is nested too deeply, echoing what metadata it can', async () => {
    const token = await server.issueAccessToken({ name: 'deep', scopes: ['read'] });
    const entryText = (n: number, message: string, metadata: string) =>
      `{"message":${message},"metadata":${metadata},"destination":{"Transformations":[{"VersionID":"${versions[0]}"}]}}`.replace('%N', String(n));
    const body = `[${[
      entryText(0, '{"type":"track","n":0}', '{"jobId":1,"messageId":"a"}'),
      entryText(1, `{"type":"track","deep":${deepText(6000)}}`, '{"jobId":2,"messageId":"b"}'),
      entryText(2, '{"type":"track","n":2}', `{"jobId":3,"messageId":"c","deep":${deepText(6000)}}`),
      entryText(3, '{"type":"track","n":3}', '{"jobId":4,"messageId":"d"}'),
    ].join(',')}]`;
    const res = await fetch(`${server.url}/customTransform`, { method: 'POST', headers: { authorization: `Bearer ${token.token}`, 'content-type': 'application/json' }, body });
    expect(res.status).toBe(200);
    const answer = await res.json();
    expect(answer.map((a: { statusCode: number; metadata: { jobId: number } }) => [a.metadata.jobId, a.statusCode])).toEqual([
      [1, 200],
      [2, 400],
      [3, 400],
      [4, 200],
    ]);
    expect(answer[1].error).toMatch(/nested too deeply/);
    expect(answer[2].error).toMatch(/metadata .*nested too deeply/);
    expect(answer[2].metadata).toEqual({ jobId: 3, messageId: 'c' });
  });
});
