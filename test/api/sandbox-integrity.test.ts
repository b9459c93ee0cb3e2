import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTransformation, trackEvent, wireEvent } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// Attacks on what Tiller reads back from a sandbox, each as a tenant would mount it: code that
// poisons built-ins to forge the runner's answer, output that is not JSON, and output large or
// numerous enough to hurt the server. Another tenant's group in the same request must come back
// exactly as its own code made it, and the answer must stay valid JSON with every input in it.

let server: TestServer;
let victimVersion: string;
let victimWorkspace: string;

/** Rewrites the runner's encoded answer (if it ever sees it) into one that adds forged entries. */
const forgeSource = `
function forge(encoded) {
  const extra = '{"x":1}},"metadata":{"sourceId":"forged","workspaceId":"someone-else"},"statusCode":200},{"output":{"y":2}';
  const honest = '{"type":"track","forged":true}';
  const header = '0,0,0,0,200,' + honest.length + ',0,200,' + extra.length + ',';
  return header.length + ':' + header + honest + extra;
}
`;

const attacks: Record<string, string> = {
  // await and promise resolution read .constructor and .then: replace both so every promise the
  // runner awaits hands its value through the attacker's code.
  promiseThen: `${forgeSource}
const realThen = Promise.prototype.then;
Promise.prototype.constructor = function FakePromise(executor) { return new Promise(executor); };
Promise.prototype.then = function (onFulfilled, onRejected) {
  return realThen.call(this, (value) => (typeof value === 'string' && /^\\d+:/.test(value) ? onFulfilled(forge(value)) : onFulfilled ? onFulfilled(value) : value), onRejected);
};
export async function transformEvent(event) { return event; }`,
  // The same on a species constructor: then() builds its result through it.
  promiseSpecies: `${forgeSource}
class Evil extends Promise {}
Object.defineProperty(Promise, Symbol.species, { get() { return Evil; } });
const realThen = Promise.prototype.then;
Promise.prototype.then = function (f, r) { return realThen.call(this, (v) => (typeof v === 'string' && /^\\d+:/.test(v) ? f(forge(v)) : f ? f(v) : v), r); };
export async function transformEvent(event) { await null; return event; }`,
  // Synchronous runs through replaced String and JSON helpers.
  builtins: `${forgeSource}
JSON.stringify = () => '{"forged":true},{"x":1}';
String.prototype.charCodeAt = () => 123;
String.prototype.slice = function () { return 'forged'; };
Array.isArray = () => false;
export function transformEvent(event) { return { ...event, n: 1 }; }`,
  // Output whose own serialization is not a JSON object.
  toJsonTrick: `export function transformEvent(event) { return { toJSON() { return 5; } }; }`,
};

beforeAll(async () => {
  server = await startTestServer({ env: { TILLER_RUNTIME_PORT: '0', TILLER_SANDBOX_MAX_OUTPUT_MB: '1', TILLER_SANDBOX_MAX_OUTPUTS_PER_EVENT: '50' } });
  const victim = await server.createWorkspace('victim');
  victimWorkspace = victim.workspaceId;
  victimVersion = (await createTransformation(server, { workspaceId: victim.workspaceId, code: `export function transformEvent(e) { e.properties.victim = 'kept'; return e; }` })).versionId;
});

afterAll(async () => {
  await server?.close();
});

async function customTransform(body: unknown): Promise<{ status: number; text: string }> {
  // The credential-free runtime listener: groups of any workspace may share one request.
  const res = await fetch(`${server.runtimeUrl}/customTransform`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, text: await res.text() };
}

/** Three attacker events and three of another workspace's, in one request. */
function mixedBatch(attackerVersion: string) {
  return [0, 1, 2, 3, 4, 5].map((n) =>
    n % 2 === 0
      ? wireEvent(n, { versionId: attackerVersion, sourceId: 'attacker-src', destinationId: 'attacker-dst', workspaceId: server.workspaceId })
      : wireEvent(n, { versionId: victimVersion, sourceId: 'victim-src', destinationId: 'victim-dst', workspaceId: victimWorkspace }),
  );
}

describe('code that poisons built-ins cannot forge the answer', () => {
  for (const [name, code] of Object.entries(attacks)) {
    it(`${name}: the answer is valid JSON, each input answered once, the other workspace's group intact`, async () => {
      const attacker = await createTransformation(server, { workspaceId: server.workspaceId, code });
      const { status, text } = await customTransform(mixedBatch(attacker.versionId));
      expect(status).toBe(200);
      expect(text).not.toContain('forged');
      expect(text).not.toContain('someone-else');
      const answer = JSON.parse(text) as Array<{ statusCode: number; metadata: { jobId: number; sourceId: string }; output?: Record<string, any>; error?: string }>;
      expect(answer.map((entry) => entry.metadata.jobId)).toEqual([0, 1, 2, 3, 4, 5]);
      for (const entry of answer) {
        if (entry.metadata.sourceId === 'victim-src') {
          expect(entry.statusCode).toBe(200);
          expect(entry.output).toEqual({ ...trackEvent(entry.metadata.jobId), properties: { ...(trackEvent(entry.metadata.jobId).properties as object), victim: 'kept' } });
        } else {
          expect(entry.metadata.sourceId).toBe('attacker-src');
          // The attacker's own events: transformed honestly, or failed with a clear error.
          if (entry.statusCode === 400) expect(entry.error).toMatch(/output|JSON|not a function|serializ/i);
          else expect(entry.statusCode).toBe(200);
        }
      }
    });
  }
});

describe('output bounds', () => {
  it('fails a group whose output passes the size cap with a per-event error naming it, and keeps the other group', async () => {
    const big = await createTransformation(server, { workspaceId: server.workspaceId, code: `export function transformEvent(e) { return { ...e, pad: 'x'.repeat(400 * 1024) }; }` });
    const { status, text } = await customTransform(mixedBatch(big.versionId));
    expect(status).toBe(200);
    const answer = JSON.parse(text);
    expect(answer).toHaveLength(6);
    for (const entry of answer) {
      if (entry.metadata.sourceId === 'victim-src') expect(entry.statusCode).toBe(200);
      else expect(entry).toMatchObject({ statusCode: 400, error: expect.stringMatching(/larger than the 1 MB output limit/) });
    }
  });

  it('fails a group that fans one event out past the per-event cap, naming the cap', async () => {
    const fan = await createTransformation(server, { workspaceId: server.workspaceId, code: `export function transformEvent(e) { return Array.from({ length: 51 }, (_, i) => ({ i })); }` });
    const answer = JSON.parse((await customTransform(mixedBatch(fan.versionId))).text);
    expect(answer).toHaveLength(6);
    for (const entry of answer) {
      if (entry.metadata.sourceId === 'victim-src') expect(entry.statusCode).toBe(200);
      else expect(entry).toMatchObject({ statusCode: 400, error: expect.stringMatching(/more than 50 output events for one input event/) });
    }
  });

  it('fails only the events whose output nests deeper than the limit, keeping the answer parseable', async () => {
    const deep = await createTransformation(server, {
      workspaceId: server.workspaceId,
      code: `export function transformEvent(e) { if (e.messageId === 'msg-2') return e; let o = {}; for (let i = 0; i < 30000; i++) o = { o }; return { ...e, o }; }`,
    });
    const { status, text } = await customTransform(mixedBatch(deep.versionId));
    expect(status).toBe(200);
    const answer = JSON.parse(text);
    expect(answer.map((entry: any) => [entry.metadata.jobId, entry.statusCode])).toEqual([[0, 400], [1, 200], [2, 200], [3, 200], [4, 400], [5, 200]]);
    expect(answer[0].error).toMatch(/nests deeper than the limit of 1000 levels/);
  });

  it('caps transformBatch output at the per-event cap times the inputs', async () => {
    const fan = await createTransformation(server, { workspaceId: server.workspaceId, code: `export function transformBatch(events) { return Array.from({ length: events.length * 50 + 1 }, (_, i) => ({ i })); }` });
    const answer = JSON.parse((await customTransform(mixedBatch(fan.versionId))).text);
    expect(answer.filter((entry: any) => entry.metadata.sourceId === 'attacker-src').map((entry: any) => entry.statusCode)).toEqual([400, 400, 400]);
  });

  it('answers a test call whose output passes the cap with 400 output_limit instead of holding it', async () => {
    const token = await server.issueAccessToken({ name: 'big-test', scopes: ['read'] });
    const res = await fetch(`${server.url}/transformations/test`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ code: `export function transformEvent(e) { return { ...e, pad: 'x'.repeat(2 * 1024 * 1024) }; }` }),
    });
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.error.code).toBe('output_limit');
    expect(body.error.message).toMatch(/1 MB output limit/);
  });
});
