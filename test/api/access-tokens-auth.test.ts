import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSecret } from '../../src/domain/secrets.js';
import { eventually } from '../helpers/observe.js';
import { basicAuth, startTestServer, type TestServer } from '../helpers/server.js';

// How the access-token service authenticates: every header form of spec section 1, the one 401
// for every failure, and the rules a token carries (expiry, addresses, rotation, last use).

let server: TestServer;

interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

async function get(path: string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(server.url + path, { headers });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

async function post(path: string, body: unknown, auth = server.workspaceAuth): Promise<Answer> {
  const res = await fetch(server.url + path, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

const self = (auth: string, extra: Record<string, string> = {}) => get('/accessTokens/self', { authorization: auth, ...extra });
const bearer = (token: string) => `Bearer ${token}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function auditLog(auth = server.workspaceAuth): Promise<{ action: string; target: string | null; outcome: string; reason: string | null; actor: { type: string; id: string | null } }[]> {
  return (await get('/auditLog?limit=1000', { authorization: auth })).body;
}

function expectUnauthorized(answer: Answer) {
  expect(answer.status).toBe(401);
  expect(answer.headers.get('www-authenticate')).toBe('Basic realm="tiller"');
  expect(answer.body).toEqual({ success: false, error: { code: 'unauthorized', message: 'missing or invalid credentials' }, requestId: answer.headers.get('x-request-id') });
}

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe('Authorization header forms (spec section 1)', () => {
  it('accepts the workspace token as Basic user name with an empty password (the seed form)', async () => {
    expect((await get('/accessTokens', { authorization: basicAuth(server.workspaceToken) })).status).toBe(200);
  });

  it('accepts the workspace token in every other Basic and Bearer form too', async () => {
    const echoed = `Basic ${Buffer.from(`${server.workspaceToken}:\n`).toString('base64')}`; // echo "$TOKEN:" | base64
    for (const auth of [basicAuth('', server.workspaceToken), `Basic ${Buffer.from(server.workspaceToken).toString('base64')}`, bearer(server.workspaceToken), echoed]) {
      expect((await get('/accessTokens', { authorization: auth })).status).toBe(200);
    }
  });

  it('accepts an access token as Basic <email>:<token>, :<token>, <token>: and Bearer', async () => {
    const { token } = await server.issueAccessToken({ name: 'forms', email: 'ci@example.com' });
    for (const auth of [basicAuth('ci@example.com', token), basicAuth('CI@Example.COM', token), basicAuth('', token), basicAuth(token), bearer(token)]) {
      expect((await self(auth)).status, auth).toBe(200);
    }
  });

  it('refuses an e-mail user name that is not the token\'s owner, and audits it', async () => {
    const { token, id } = await server.issueAccessToken({ name: 'owned', email: 'alice@example.com' });
    expectUnauthorized(await self(basicAuth('mallory@example.com', token)));
    expectUnauthorized(await self(basicAuth('alice@example.org', token)));
    const log = await eventually(auditLog, (events) => events.some((e) => e.target === id && e.reason === 'email_mismatch'));
    expect(log.find((e) => e.target === id && e.reason === 'email_mismatch')).toMatchObject({ action: 'auth.failure', outcome: 'failure', actor: { type: 'access_token', id } });
  });

  it('accepts the header name in any case, and the seed\'s "Authorisation" spelling when Authorization is absent', async () => {
    const { token } = await server.issueAccessToken({ name: 'spelling' });
    expect((await get('/accessTokens/self', { AUTHORIZATION: bearer(token) })).status).toBe(200);
    expect((await get('/accessTokens/self', { Authorisation: bearer(token) })).status).toBe(200);
    expect((await get('/accessTokens', { authorisation: server.workspaceAuth })).status).toBe(200);
    // Authorization wins when both are sent.
    expectUnauthorized(await get('/accessTokens/self', { authorization: 'Bearer nope', authorisation: bearer(token) }));
  });

  it('answers the same 401 body and WWW-Authenticate for every kind of failure', async () => {
    const revoked = await server.issueAccessToken({ name: 'revoked' });
    await fetch(`${server.url}/accessTokens/${revoked.id}`, { method: 'DELETE', headers: { authorization: server.workspaceAuth } });
    const rotated = await server.issueAccessToken({ name: 'rotated' });
    await post(`/accessTokens/${rotated.id}/rotate`, {});
    const fenced = await server.issueAccessToken({ name: 'fenced', allowedIps: ['192.0.2.0/24'] });
    const valid = await server.issueAccessToken({ name: 'valid' });
    const broken = valid.token.slice(0, -1) + (valid.token.endsWith('a') ? 'b' : 'a');
    const cases: Record<string, Record<string, string>> = {
      missing: {},
      empty: { authorization: '' },
      'bad scheme': { authorization: `Token ${valid.token}` },
      'scheme only': { authorization: 'Basic' },
      'malformed base64': { authorization: 'Basic %%%' },
      'base64 of nothing useful': { authorization: `Basic ${Buffer.from(':').toString('base64')}` },
      garbage: { authorization: 'x'.repeat(2000) },
      'broken checksum': { authorization: bearer(broken) },
      'unknown token': { authorization: bearer(generateSecret('access')) },
      'compat-shaped token': { authorization: basicAuth('1pTlg62ZYqH2qkC05fsXTfRPEfr') },
      revoked: { authorization: bearer(revoked.token) },
      'rotated out': { authorization: bearer(rotated.token) },
      'address not allowed': { authorization: bearer(fenced.token) },
      'e-mail mismatch': { authorization: basicAuth('nobody@example.com', valid.token) },
      'workspace token (wrong kind)': { authorization: server.workspaceAuth },
      'unknown workspace token': { authorization: basicAuth(generateSecret('workspace')) },
    };
    for (const [label, headers] of Object.entries(cases)) {
      const answer = await get('/accessTokens/self', headers);
      expect(answer.status, label).toBe(401);
      expectUnauthorized(answer);
    }
    expect((await self(bearer(valid.token))).status).toBe(200);
  });
});

describe('token rules', () => {
  it('stops an expired token at once, even while it is cached, and lists it as expired', async () => {
    const expiresAt = new Date(Date.now() + 1500).toISOString();
    const issued = await post('/accessTokens', { name: 'short-lived', expiresAt });
    expect(issued.status).toBe(200);
    const token = issued.body.data.token;
    expect((await self(bearer(token))).status).toBe(200);
    await sleep(Math.max(0, Date.parse(expiresAt) - Date.now()) + 50);
    expectUnauthorized(await self(bearer(token)));
    const list = (await get('/accessTokens', { authorization: server.workspaceAuth })).body as { id: string; status: string }[];
    expect(list.find((t) => t.id === issued.body.data.id)?.status).toBe('expired');
    const log = await eventually(auditLog, (events) => events.some((e) => e.target === issued.body.data.id && e.reason === 'expired'));
    expect(log.some((e) => e.target === issued.body.data.id && e.reason === 'expired')).toBe(true);
  });

  it('admits only the allowed addresses', async () => {
    const cases: [string[], number][] = [
      [['127.0.0.0/8'], 200],
      [['127.0.0.1'], 200],
      [['127.0.0.1/32', '10.0.0.0/8'], 200],
      [['::ffff:127.0.0.1/128'], 200],
      [['10.0.0.0/8'], 401],
      [['::1/128'], 401],
      [['127.0.0.2/32'], 401],
    ];
    for (const [allowedIps, status] of cases) {
      const { token } = await server.issueAccessToken({ name: 'fenced', allowedIps });
      expect((await self(bearer(token))).status, allowedIps.join(',')).toBe(status);
    }
  });

  it('lists allowedIps normalized', async () => {
    const issued = await server.issueAccessToken({ name: 'normalized', allowedIps: [' 10.1.2.3 ', '::ffff:192.0.2.0/120', '2001:db8::/32'] });
    const list = (await get('/accessTokens', { authorization: server.workspaceAuth })).body as { id: string; allowedIps: string[] }[];
    expect(list.find((t) => t.id === issued.id)!.allowedIps).toEqual(['10.1.2.3/32', '192.0.2.0/24', '2001:db8::/32']);
  });

  it('keeps a rotated secret during its grace period only, then records its reuse', async () => {
    const old = await server.issueAccessToken({ name: 'grace' });
    const rotated = await post(`/accessTokens/${old.id}/rotate`, { gracePeriodSeconds: 1 });
    expect(rotated.status).toBe(200);
    expect((await self(bearer(old.token))).status).toBe(200);
    await sleep(1100);
    expectUnauthorized(await self(bearer(old.token)));
    expect((await self(bearer(rotated.body.data.token))).status).toBe(200);
    const log = await eventually(auditLog, (events) => events.some((e) => e.action === 'access_token.reuse' && e.target === old.id));
    expect(log.find((e) => e.action === 'access_token.reuse' && e.target === old.id)).toMatchObject({ outcome: 'failure', reason: 'rotated_out', actor: { type: 'access_token', id: old.id } });
    const list = (await get('/accessTokens', { authorization: server.workspaceAuth })).body as { id: string }[];
    expect(list.some((t) => t.id === old.id)).toBe(false);
  });

  it('records reuse of a secret rotated without grace', async () => {
    const old = await server.issueAccessToken({ name: 'no-grace' });
    expect((await post(`/accessTokens/${old.id}/rotate`, {})).status).toBe(200);
    expectUnauthorized(await self(bearer(old.token)));
    const log = await eventually(auditLog, (events) => events.some((e) => e.action === 'access_token.reuse' && e.target === old.id));
    expect(log.some((e) => e.action === 'access_token.reuse' && e.target === old.id)).toBe(true);
  });

  it('audits a replayed dead token once, not once per attempt', async () => {
    const { token, id } = await server.issueAccessToken({ name: 'replayed' });
    await fetch(`${server.url}/accessTokens/${id}`, { method: 'DELETE', headers: { authorization: server.workspaceAuth } });
    for (let i = 0; i < 20; i++) expectUnauthorized(await self(bearer(token)));
    const log = await eventually(auditLog, (events) => events.some((e) => e.target === id && e.reason === 'revoked'));
    await sleep(200);
    const events = (await auditLog()).filter((e) => e.target === id && e.outcome === 'failure');
    expect(events).toHaveLength(1);
    expect(log.some((e) => e.target === id && e.action === 'access_token.delete')).toBe(true);
  });

  it('records lastUsedAt and lastUsedIp, at most once a minute', async () => {
    const { token, id } = await server.issueAccessToken({ name: 'used' });
    const entry = async () => ((await get('/accessTokens', { authorization: server.workspaceAuth })).body as { id: string; lastUsedAt: string | null; lastUsedIp: string | null }[]).find((t) => t.id === id)!;
    expect((await entry()).lastUsedAt).toBeNull();
    expect((await self(bearer(token))).status).toBe(200);
    const first = await eventually(entry, (e) => e.lastUsedAt !== null);
    expect(first.lastUsedAt).not.toBeNull();
    expect(first.lastUsedIp).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
    for (let i = 0; i < 3; i++) expect((await self(bearer(token))).status).toBe(200);
    await sleep(200);
    expect((await entry()).lastUsedAt).toBe(first.lastUsedAt);
  });
});

describe('failed-authentication throttling', () => {
  let throttled: TestServer;
  beforeAll(async () => {
    throttled = await startTestServer({ env: { TILLER_AUTH_FAILURE_LIMIT: '5' } });
  });
  afterAll(async () => {
    await throttled?.close();
  });

  it('answers the 6th failure from an address with 429 and Retry-After, while a valid token still passes', async () => {
    const { token } = await throttled.issueAccessToken({ name: 'valid' });
    const attempt = () => fetch(`${throttled.url}/accessTokens/self`, { headers: { authorization: bearer(generateSecret('access')) } });
    for (let i = 1; i <= 5; i++) expect((await attempt()).status, `failure ${i}`).toBe(401);
    const sixth = await attempt();
    expect(sixth.status).toBe(429);
    const retryAfter = Number(sixth.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const body = await sixth.json();
    expect(body).toMatchObject({ success: false, error: { code: 'too_many_requests' }, requestId: sixth.headers.get('x-request-id') });
    expect((await attempt()).status).toBe(429);
    expect((await fetch(`${throttled.url}/accessTokens`, { headers: { authorization: 'Basic bm9wZTo=' } })).status).toBe(429);

    const ok = await fetch(`${throttled.url}/accessTokens/self`, { headers: { authorization: bearer(token) } });
    expect(ok.status).toBe(200);
    expect((await fetch(`${throttled.url}/accessTokens`, { headers: { authorization: throttled.workspaceAuth } })).status).toBe(200);
    // Public routes are not affected.
    expect((await fetch(`${throttled.url}/health`)).status).toBe(200);
  });
});
