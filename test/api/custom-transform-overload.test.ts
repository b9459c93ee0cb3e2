import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTransformation, wireEvent } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// When a workspace's batches cannot get a turn in time, /customTransform answers the whole request
// 503 with Retry-After (rudder-server retries 5xx) instead of failing its events for good.

let server: TestServer;
let hangVersion: string;
let quickVersion: string;

beforeAll(async () => {
  // One batch per workspace at a time, and a batch may wait no longer than the wall-clock limit.
  server = await startTestServer({ env: { TILLER_RUNTIME_PORT: '0', TILLER_WORKSPACE_CONCURRENCY: '1', TILLER_SANDBOX_CPU_MS: '200', TILLER_SANDBOX_WALL_MS: '300' } });
  hangVersion = (await createTransformation(server, { workspaceId: server.workspaceId, code: `export function transformEvent(e) { return e.hang ? new Promise(() => {}) : e; }` })).versionId;
  quickVersion = (await createTransformation(server, { workspaceId: server.workspaceId, code: `export function transformEvent(e) { return { ...e, quick: true }; }` })).versionId;
});

afterAll(async () => {
  await server?.close();
});

async function transform(entries: unknown[]) {
  const res = await fetch(`${server.runtimeUrl}/customTransform`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(entries) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

describe('POST /customTransform under overload', () => {
  it('answers 503 with Retry-After when the workspace\'s batches cannot get a turn, then serves again', async () => {
    const hanging = [wireEvent(0, { versionId: hangVersion, message: { hang: true } })];
    // The first batch holds the workspace's only slot until its wall-clock limit; the ones queued
    // behind it give up after waiting that long.
    const answers = await Promise.all([transform(hanging), transform(hanging), transform(hanging), transform(hanging)]);
    const refused = answers.filter((a) => a.status === 503);
    expect(refused.length).toBeGreaterThan(0);
    for (const answer of refused) {
      expect(answer.headers.get('retry-after')).toBe('1');
      expect(answer.body).toMatchObject({ success: false, error: { code: 'overloaded' } });
    }
    for (const answer of answers.filter((a) => a.status === 200)) expect(answer.body[0].error).toMatch(/did not finish within 300 ms/);

    const after = await transform([wireEvent(1, { versionId: quickVersion })]);
    expect(after.status).toBe(200);
    expect(after.body[0]).toMatchObject({ statusCode: 200, output: { quick: true } });
  });
});
