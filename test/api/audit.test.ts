import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuth, startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;

interface AuditEvent {
  id: string;
  at: string;
  actor: { type: string; id: string | null; name: string | null };
  action: string;
  target: string | null;
  targetName: string | null;
  ip: string | null;
  userAgent: string | null;
  outcome: string;
  reason: string | null;
}

async function get(path: string, auth: string | null = server.workspaceAuth) {
  const res = await fetch(server.url + path, { headers: auth === null ? {} : { authorization: auth } });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any, text: '' };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe('GET /auditLog names versions and tells a rollback from a publish', () => {
  it('version numbers in the reasons, transformation names, the token that acted, and rollback as its own action', async () => {
    // A workspace of its own, so the other tests' exact event lists stay as they are.
    const workspace = await server.createWorkspace('audit-names');
    const writer = await server.issueAccessToken({ name: 'ci-deployer', scopes: ['read', 'write'] }, workspace.workspaceAuth);
    const call = async (method: string, path: string, body: unknown) => {
      const res = await fetch(server.url + path, { method, headers: { authorization: `Bearer ${writer.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(res.status, path).toBe(200);
      return (await res.json()) as { id?: string; versionId: string };
    };
    const created = await call('POST', '/transformations?publish=true', { name: 'audited-transformation', code: 'export function transformEvent(e) { return e; }' });
    await call('POST', `/transformations/${created.id}?publish=true`, { code: 'export function transformEvent(e) { e.v = 2; return e; }' });
    await call('POST', '/transformations/publish', { transformations: [{ versionId: created.versionId }] });
    const mine = ((await get('/auditLog', workspace.workspaceAuth)).body as AuditEvent[]).filter((e) => e.target === created.id);
    // Events of one transaction share a millisecond, so their order within it is not fixed: compare as sets.
    expect(mine.map((e) => e.action).sort()).toEqual(['transformation.create', 'transformation.publish', 'transformation.publish', 'transformation.rollback', 'transformation.update']);
    for (const event of mine) expect(event).toMatchObject({ targetName: 'audited-transformation', actor: { type: 'access_token', id: writer.id, name: 'ci-deployer' } });
    expect(mine.find((e) => e.action === 'transformation.rollback')!.reason).toBe(`version 1 (${created.versionId}) (was version 2)`);
    expect(mine.filter((e) => e.action === 'transformation.publish').map((e) => e.reason!.slice(0, 10)).sort()).toEqual(['version 1 ', 'version 2 ']);
  });
});

describe('GET /auditLog (ext)', () => {
  let issued: { token: string; id: string };
  let rotatedId: string;

  beforeAll(async () => {
    issued = await server.issueAccessToken({ name: 'audited' });
    const rotate = await fetch(`${server.url}/accessTokens/${issued.id}/rotate`, { method: 'POST', headers: { authorization: server.workspaceAuth, 'content-type': 'application/json', 'user-agent': 'audit-test/1.0' }, body: '{}' });
    rotatedId = ((await rotate.json()) as { data: { id: string } }).data.id;
    await fetch(`${server.url}/accessTokens/self`, { headers: { authorization: `Bearer ${issued.token}`, 'user-agent': 'reuser/2.0' } });
    await fetch(`${server.url}/accessTokens/${rotatedId}`, { method: 'DELETE', headers: { authorization: server.workspaceAuth } });
    // The failure event is written off the request path.
    for (let i = 0; i < 40; i++) {
      const events = (await get('/auditLog')).body as AuditEvent[];
      if (events.some((e) => e.action === 'access_token.reuse')) break;
      await sleep(50);
    }
  });

  it('answers events newest first with the documented fields', async () => {
    const answer = await get('/auditLog');
    expect(answer.status).toBe(200);
    const events = answer.body as AuditEvent[];
    expect(events.map((e) => e.action)).toEqual(['access_token.delete', 'access_token.reuse', 'access_token.rotate', 'access_token.create', 'workspace.create']);
    for (const event of events) {
      expect(Object.keys(event).sort()).toEqual(['action', 'actor', 'at', 'id', 'ip', 'outcome', 'reason', 'target', 'targetName', 'userAgent']);
    }
    const sorted = [...events].sort((a, b) => (a.id < b.id ? 1 : -1));
    expect(events.map((e) => e.id)).toEqual(sorted.map((e) => e.id));
    expect(events.find((e) => e.action === 'access_token.create')).toMatchObject({ actor: { type: 'workspace', id: server.workspaceId }, target: issued.id, outcome: 'success', ip: expect.stringMatching(/127\.0\.0\.1/) });
    expect(events.find((e) => e.action === 'access_token.rotate')).toMatchObject({ target: issued.id, userAgent: 'audit-test/1.0', outcome: 'success' });
    expect(events.find((e) => e.action === 'access_token.reuse')).toMatchObject({ actor: { type: 'access_token', id: issued.id }, userAgent: 'reuser/2.0', outcome: 'failure', reason: 'rotated_out' });
    expect(events.find((e) => e.action === 'access_token.delete')).toMatchObject({ target: rotatedId });
  });

  it('names each target and token actor, deleted tokens included', async () => {
    const events = (await get('/auditLog')).body as AuditEvent[];
    for (const action of ['access_token.create', 'access_token.rotate', 'access_token.delete']) expect(events.find((e) => e.action === action)?.targetName, action).toBe('audited');
    expect(events.find((e) => e.action === 'access_token.reuse')?.actor.name).toBe('audited');
    expect(events.find((e) => e.action === 'workspace.create')?.targetName).toEqual(expect.any(String));
  });

  it('never carries a secret', async () => {
    const res = await fetch(`${server.url}/auditLog`, { headers: { authorization: server.workspaceAuth } });
    const text = await res.text();
    expect(text).not.toContain(issued.token);
    expect(text).not.toContain(server.workspaceToken);
    expect(text).not.toContain('tlr_at_');
    expect(text).not.toContain('tlr_ws_');
  });

  it('pages with limit and before', async () => {
    const all = (await get('/auditLog')).body as AuditEvent[];
    const first = (await get('/auditLog?limit=2')).body as AuditEvent[];
    expect(first.map((e) => e.id)).toEqual(all.slice(0, 2).map((e) => e.id));
    const second = (await get(`/auditLog?limit=2&before=${first[1]!.id}`)).body as AuditEvent[];
    expect(second.map((e) => e.id)).toEqual(all.slice(2, 4).map((e) => e.id));
    const end = (await get(`/auditLog?before=${all[all.length - 1]!.id}`)).body as AuditEvent[];
    expect(end).toEqual([]);
  });

  it.each(['limit=0', 'limit=1001', 'limit=abc', 'limit=-1', `before=${'x'.repeat(65)}`])('answers 400 for %s', async (query) => {
    const answer = await get(`/auditLog?${query}`);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ success: false, error: { code: 'invalid_field' }, requestId: expect.any(String) });
  });

  it('shows only the caller\'s workspace', async () => {
    const other = await server.createWorkspace('other');
    const events = (await get('/auditLog', other.workspaceAuth)).body as AuditEvent[];
    expect(events.map((e) => e.action)).toEqual(['workspace.create']);
    expect(events[0]!.target).toBe(other.workspaceId);
  });

  it('refuses no credentials, an access token and an unknown token with 401', async () => {
    const { token } = await server.issueAccessToken({ name: 'not-for-audit' });
    for (const auth of [null, `Bearer ${token}`, basicAuth(token), basicAuth('', token), 'Basic Zm9vOg==']) {
      const answer = await get('/auditLog', auth);
      expect(answer.status).toBe(401);
      expect(answer.headers.get('www-authenticate')).toBe('Basic realm="tiller"');
      expect(answer.body.error.code).toBe('unauthorized');
    }
  });

  it('succeeds with Content-Type: application/json and an empty body', async () => {
    const res = await fetch(`${server.url}/auditLog`, { headers: { authorization: server.workspaceAuth, 'content-type': 'application/json' } });
    expect(res.status).toBe(200);
  });
});
