import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

// A rotation with a grace period leaves the old secret working for a while. Whoever revokes or
// deletes any token of that rotation chain means the lineage is compromised: every secret of the
// chain still in grace must stop at once (not when its grace ends, up to 7 days later), and the
// audit log must say which.

let server: TestServer;

interface AuditEvent {
  action: string;
  target: string | null;
  outcome: string;
  reason: string | null;
}

const GRACE = { gracePeriodSeconds: 3600 };

async function status(token: string): Promise<number> {
  return (await fetch(`${server.url}/accessTokens/self`, { headers: { authorization: `Bearer ${token}` } })).status;
}

async function rotate(id: string): Promise<{ token: string; id: string }> {
  const res = await fetch(`${server.url}/accessTokens/${id}/rotate`, { method: 'POST', headers: { authorization: server.workspaceAuth, 'content-type': 'application/json' }, body: JSON.stringify(GRACE) });
  expect(res.status).toBe(200);
  const { data } = (await res.json()) as { data: { token: string; id: string } };
  return data;
}

async function revoke(id: string): Promise<number> {
  return (await fetch(`${server.url}/accessTokens/${id}`, { method: 'DELETE', headers: { authorization: server.workspaceAuth } })).status;
}

async function auditLog(): Promise<AuditEvent[]> {
  return (await (await fetch(`${server.url}/auditLog?limit=1000`, { headers: { authorization: server.workspaceAuth } })).json()) as AuditEvent[];
}

async function listedIds(): Promise<string[]> {
  return ((await (await fetch(`${server.url}/accessTokens`, { headers: { authorization: server.workspaceAuth } })).json()) as { id: string }[]).map((t) => t.id);
}

beforeAll(async () => {
  server = await startTestServer({ env: { TILLER_SANDBOX_PROCESSES: '1' } });
});
afterAll(async () => {
  await server?.close();
});

describe('revoking a token of a rotation chain', () => {
  it('stops the old secret at once when its successor is deleted during the grace period', async () => {
    const old = await server.issueAccessToken({ name: 'leaked' });
    const successor = await rotate(old.id);
    // Both work (and both are now cached by the verifier).
    expect(await status(old.token)).toBe(200);
    expect(await status(successor.token)).toBe(200);

    expect(await revoke(successor.id)).toBe(200);
    expect(await status(successor.token)).toBe(401);
    expect(await status(old.token)).toBe(401);
    expect(await listedIds()).not.toContain(old.id);

    const log = await auditLog();
    expect(log.find((e) => e.action === 'access_token.delete' && e.target === successor.id)).toMatchObject({ outcome: 'success', reason: expect.stringContaining('1 secret of its rotation chain') });
    const chained = log.find((e) => e.action === 'access_token.revoke_chain' && e.target === old.id);
    expect(chained).toMatchObject({ outcome: 'success' });
    expect(chained?.reason).toContain(successor.id);
  });

  it('stops every in-grace member of a chain of three rotations when the middle one is deleted; the live head keeps working', async () => {
    const t0 = await server.issueAccessToken({ name: 'chain' });
    const t1 = await rotate(t0.id);
    const t2 = await rotate(t1.id);
    const t3 = await rotate(t2.id);
    // An unrelated token of the same name is no member of the chain.
    const stranger = await server.issueAccessToken({ name: 'chain' });
    for (const t of [t0, t1, t2, t3, stranger]) expect(await status(t.token)).toBe(200);

    expect(await revoke(t1.id)).toBe(200);
    for (const t of [t0, t1, t2]) expect(await status(t.token), t.id).toBe(401);
    expect(await status(t3.token)).toBe(200);
    expect(await status(stranger.token)).toBe(200);

    const log = await auditLog();
    const chained = log.filter((e) => e.action === 'access_token.revoke_chain' && e.reason?.includes(t1.id));
    expect(chained.map((e) => e.target).sort()).toEqual([t0.id, t2.id].sort());
    expect(log.find((e) => e.action === 'access_token.delete' && e.target === t1.id)?.reason).toContain('2 secrets');
    const listed = await listedIds();
    for (const t of [t0, t1, t2]) expect(listed).not.toContain(t.id);
    expect(listed).toContain(t3.id);
  });

  it('stops the whole chain when the live head is deleted', async () => {
    const t0 = await server.issueAccessToken({ name: 'head' });
    const t1 = await rotate(t0.id);
    const t2 = await rotate(t1.id);
    expect(await revoke(t2.id)).toBe(200);
    for (const t of [t0, t1, t2]) expect(await status(t.token), t.id).toBe(401);
  });

  it('leaves members already stopped (rotated without grace) alone, and audits only the ones it stopped', async () => {
    const t0 = await server.issueAccessToken({ name: 'no-grace' });
    const res = await fetch(`${server.url}/accessTokens/${t0.id}/rotate`, { method: 'POST', headers: { authorization: server.workspaceAuth, 'content-type': 'application/json' }, body: '{}' });
    const t1 = ((await res.json()) as { data: { id: string; token: string } }).data;
    const t2 = await rotate(t1.id);
    expect(await revoke(t2.id)).toBe(200);
    expect(await status(t1.token)).toBe(401);
    const chained = (await auditLog()).filter((e) => e.action === 'access_token.revoke_chain' && e.reason?.includes(t2.id));
    expect(chained.map((e) => e.target)).toEqual([t1.id]);
  });

  it('refuses to rotate a token of a revoked chain', async () => {
    const t0 = await server.issueAccessToken({ name: 'dead-chain' });
    const t1 = await rotate(t0.id);
    expect(await revoke(t1.id)).toBe(200);
    const res = await fetch(`${server.url}/accessTokens/${t0.id}/rotate`, { method: 'POST', headers: { authorization: server.workspaceAuth, 'content-type': 'application/json' }, body: JSON.stringify(GRACE) });
    expect(res.status).toBe(404);
  });

  it('stops a chain deleted by name, counting each token once', async () => {
    const t0 = await server.issueAccessToken({ name: 'by-name-chain' });
    const t1 = await rotate(t0.id);
    const res = await fetch(`${server.url}/accessTokens?name=by-name-chain`, { method: 'DELETE', headers: { authorization: server.workspaceAuth } });
    expect(await res.json()).toEqual({ success: true, deleted: 2 });
    expect(await status(t0.token)).toBe(401);
    expect(await status(t1.token)).toBe(401);
  });
});
