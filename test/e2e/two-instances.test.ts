import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, startTestServer, testDialect, type TestServer } from '../helpers/server.js';

// Two instances on one PostgreSQL database: a revocation on one reaches the other's credential
// cache through LISTEN/NOTIFY. SQLite serves one process, so this runs on PostgreSQL only.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(testDialect() !== 'postgres')('two instances sharing PostgreSQL', () => {
  let database: { url: string; drop(): Promise<void> };
  let a: TestServer;
  let b: TestServer;

  beforeAll(async () => {
    database = await createTestDatabase();
    a = await startTestServer({ databaseUrl: database.url });
    b = await startTestServer({ databaseUrl: database.url, workspace: { workspaceId: a.workspaceId, workspaceToken: a.workspaceToken } });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await database?.drop();
  });

  const selfOn = async (server: TestServer, token: string) => (await fetch(`${server.url}/accessTokens/self`, { headers: { authorization: `Bearer ${token}` } })).status;

  /** Polls for up to a second; answers the first status that is not 200, or 200 if it never changed. */
  async function refusedWithinOneSecond(server: TestServer, token: string): Promise<number> {
    const until = Date.now() + 1000;
    let status = await selfOn(server, token);
    while (status === 200 && Date.now() < until) {
      await sleep(20);
      status = await selfOn(server, token);
    }
    return status;
  }

  it('per-transformation stats of live traffic on both instances sum, read from either', async () => {
    const { token } = await a.issueAccessToken({ name: 'stats', scopes: ['read', 'write'] });
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const created = await fetch(`${a.url}/transformations?publish=true`, { method: 'POST', headers: auth, body: JSON.stringify({ name: 'on-both', code: 'export function transformEvent(e) { return e; }' }) });
    const { id, versionId } = (await created.json()) as { id: string; versionId: string };
    const batch = (n: number) =>
      JSON.stringify(Array.from({ length: n }, (_, i) => ({ message: { type: 'track', event: 'x', messageId: `m-${i}` }, metadata: { messageId: `m-${i}` }, destination: { ID: 'd', Transformations: [{ VersionID: versionId }] } })));
    for (const [server, n] of [[a, 3], [b, 5], [b, 2]] as const) expect((await fetch(`${server.url}/customTransform`, { method: 'POST', headers: auth, body: batch(n) })).status).toBe(200);
    await Promise.all([a.server.services.liveStats!.flush(), b.server.services.liveStats!.flush()]);
    for (const server of [a, b]) {
      const stats = (await (await fetch(`${server.url}/transformations/${id}/stats`, { headers: auth })).json()) as { totals: { eventsIn: number; batches: number } };
      expect(stats.totals).toMatchObject({ eventsIn: 10, batches: 3 });
    }
  });

  it('a canary splits the same users the same way on both instances, and a guard trip on one withdraws it on the other', async () => {
    const { token } = await a.issueAccessToken({ name: 'canary', scopes: ['read', 'write'] });
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const code = (tag: string, failing: boolean) => `export function transformEvent(e) { if (${failing} && e.properties.n % 2 === 0) throw new Error('no'); e.tag = '${tag}'; return e; }`;
    const post = async (server: TestServer, path: string, body: unknown) => {
      const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: auth, body: JSON.stringify(body) });
      expect(res.status, path).toBe(200);
      return (await res.json()) as Record<string, any>;
    };
    const created = await post(a, '/transformations?publish=true', { name: 'canaried', code: code('stable', false) });
    const draft = await post(a, `/transformations/${created.id}?publish=false`, { code: code('canary', true) });
    await post(a, `/transformations/${created.id}/canary`, { versionId: draft.versionId, percent: 40, guards: { minEvents: 1000 } });
    const batch = (users: number[], failing: boolean) =>
      JSON.stringify(users.map((n) => ({ message: { type: 'track', event: 'x', userId: `u${n}`, messageId: `m-${n}`, properties: { n: failing ? 2 * n : 2 * n + 1 } }, metadata: { messageId: `m-${n}` }, destination: { ID: 'd', Transformations: [{ VersionID: created.versionId }] } })));
    const tags = async (server: TestServer, users: number[], failing = false) => {
      const res = await fetch(`${server.url}/customTransform`, { method: 'POST', headers: auth, body: batch(users, failing) });
      return ((await res.json()) as Array<{ output?: { tag: string } }>).map((entry) => entry.output?.tag ?? 'failed');
    };
    const users = Array.from({ length: 100 }, (_, n) => n);
    // B learns of the canary through the change channel.
    let onB = await tags(b, users);
    for (let i = 0; i < 50 && !onB.includes('canary'); i++) {
      await sleep(20);
      onB = await tags(b, users);
    }
    expect(onB).toEqual(await tags(a, users));
    expect(onB.filter((tag) => tag === 'canary').length).toBeGreaterThan(20);

    // A fresh canary with a low bar, tripped on A by events its version fails; B stops splitting within a second.
    const aborted = await fetch(`${a.url}/transformations/${created.id}/canary`, { method: 'DELETE', headers: auth });
    expect(aborted.status).toBe(200);
    await post(a, `/transformations/${created.id}/canary`, { versionId: draft.versionId, percent: 40, guards: { minEvents: 20 } });
    await sleep(200);
    for (let i = 0; i < 5; i++) await tags(a, users, true);
    const until = Date.now() + 1000;
    let last = await tags(b, users);
    while (last.includes('canary') && Date.now() < until) {
      await sleep(20);
      last = await tags(b, users);
    }
    expect(new Set(last)).toEqual(new Set(['stable']));
    const state = (await (await fetch(`${b.url}/transformations/${created.id}/release`, { headers: auth })).json()) as { canary: { status: string } };
    expect(state.canary.status).toBe('rolled_back');
  });

  it('a token issued on one instance works on the other', async () => {
    const { token } = await a.issueAccessToken({ name: 'shared' });
    expect(await selfOn(b, token)).toBe(200);
    expect(await selfOn(a, token)).toBe(200);
  });

  it('a revocation on one instance is refused on the other within a second, though it was cached there', async () => {
    const { token, id } = await a.issueAccessToken({ name: 'revoke-me' });
    // Warm both caches.
    expect(await selfOn(b, token)).toBe(200);
    expect(await selfOn(b, token)).toBe(200);
    expect(await selfOn(a, token)).toBe(200);
    const res = await fetch(`${a.url}/accessTokens/${id}`, { method: 'DELETE', headers: { authorization: a.workspaceAuth } });
    expect(res.status).toBe(200);
    expect(await selfOn(a, token)).toBe(401);
    expect(await refusedWithinOneSecond(b, token)).toBe(401);
  });

  it('a delete by name on the second instance reaches the first', async () => {
    const { token } = await b.issueAccessToken({ name: 'by-name' });
    expect(await selfOn(a, token)).toBe(200);
    const res = await fetch(`${b.url}/accessTokens?name=by-name`, { method: 'DELETE', headers: { authorization: b.workspaceAuth } });
    expect(await res.json()).toEqual({ success: true, deleted: 1 });
    expect(await refusedWithinOneSecond(a, token)).toBe(401);
  });

  it('a rotation without grace on one instance stops the old secret on the other', async () => {
    const { token, id } = await a.issueAccessToken({ name: 'rotate-me' });
    expect(await selfOn(b, token)).toBe(200);
    const res = await fetch(`${a.url}/accessTokens/${id}/rotate`, { method: 'POST', headers: { authorization: a.workspaceAuth, 'content-type': 'application/json' }, body: '{}' });
    const fresh = ((await res.json()) as { data: { token: string } }).data.token;
    expect(await refusedWithinOneSecond(b, token)).toBe(401);
    expect(await selfOn(b, fresh)).toBe(200);
  });

  it('revoking a successor on one instance stops its predecessor, still in grace and cached, on the other', async () => {
    const { token, id } = await a.issueAccessToken({ name: 'chain' });
    const res = await fetch(`${a.url}/accessTokens/${id}/rotate`, { method: 'POST', headers: { authorization: a.workspaceAuth, 'content-type': 'application/json' }, body: '{"gracePeriodSeconds": 3600}' });
    const successor = ((await res.json()) as { data: { id: string } }).data.id;
    expect(await selfOn(b, token)).toBe(200);
    expect((await fetch(`${a.url}/accessTokens/${successor}`, { method: 'DELETE', headers: { authorization: a.workspaceAuth } })).status).toBe(200);
    expect(await selfOn(a, token)).toBe(401);
    expect(await refusedWithinOneSecond(b, token)).toBe(401);
  });
});
