import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSecret } from '../../src/domain/secrets.js';
import { captureLog, eventually } from '../helpers/observe.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// TILLER_TRUST_PROXY decides whose X-Forwarded-For entries make the client address. Each test is
// an attack by a client that talks to Tiller directly (from 127.0.0.1) and writes the header
// itself: a forged left-most entry must never pass an allowedIps list, show up as lastUsedIp or in
// the audit log, or spread failed authentications over many addresses.

const SPOOFED = '10.1.2.3';
const REAL = '203.0.113.9';
const light = { TILLER_SANDBOX_PROCESSES: '1' };

interface AuditEvent {
  action: string;
  target: string | null;
  ip: string | null;
  reason: string | null;
}

function self(server: TestServer, token: string, forwardedFor?: string): Promise<Response> {
  return fetch(`${server.url}/accessTokens/self`, { headers: { authorization: `Bearer ${token}`, ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}) } });
}

async function tokenEntry(server: TestServer, id: string): Promise<{ lastUsedAt: string | null; lastUsedIp: string | null }> {
  const res = await fetch(`${server.url}/accessTokens`, { headers: { authorization: server.workspaceAuth } });
  return ((await res.json()) as { id: string; lastUsedAt: string | null; lastUsedIp: string | null }[]).find((t) => t.id === id)!;
}

async function auditLog(server: TestServer): Promise<AuditEvent[]> {
  const res = await fetch(`${server.url}/auditLog?limit=1000`, { headers: { authorization: server.workspaceAuth } });
  return (await res.json()) as AuditEvent[];
}

describe('TILLER_TRUST_PROXY=1 (one proxy in front)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { ...light, TILLER_TRUST_PROXY: '1', TILLER_AUTH_FAILURE_LIMIT: '3' } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('refuses a token fenced to an address the client only claims in X-Forwarded-For, and audits the real one', async () => {
    const fenced = await server.issueAccessToken({ name: 'fenced', allowedIps: [`${SPOOFED}/32`] });
    expect((await self(server, fenced.token, `${SPOOFED}, ${REAL}`)).status).toBe(401);
    const log = await eventually(() => auditLog(server), (events) => events.some((e) => e.target === fenced.id && e.reason === 'ip_not_allowed'));
    const failure = log.find((e) => e.target === fenced.id && e.reason === 'ip_not_allowed');
    expect(failure?.ip).toBe(REAL);
    expect(log.some((e) => e.ip === SPOOFED)).toBe(false);
  });

  it('admits the right-most address, the one the proxy wrote, and records it as lastUsedIp', async () => {
    const fenced = await server.issueAccessToken({ name: 'fenced-real', allowedIps: [`${REAL}/32`] });
    expect((await self(server, fenced.token, `${SPOOFED}, ${REAL}`)).status).toBe(200);
    const entry = await eventually(() => tokenEntry(server, fenced.id), (e) => e.lastUsedIp !== null);
    expect(entry.lastUsedIp).toBe(REAL);
  });

  it('audits changes with the right-most address', async () => {
    const res = await fetch(`${server.url}/accessTokens`, {
      method: 'POST',
      headers: { authorization: server.workspaceAuth, 'content-type': 'application/json', 'x-forwarded-for': `${SPOOFED}, ${REAL}` },
      body: JSON.stringify({ name: 'audited' }),
    });
    const { data } = (await res.json()) as { data: { id: string } };
    const created = (await auditLog(server)).find((e) => e.action === 'access_token.create' && e.target === data.id);
    expect(created?.ip).toBe(REAL);
  });

  it('stores an over-long forwarded "address" cut to its column instead of failing the call', async () => {
    // A hop count believes whoever connects: a client that reaches the port directly writes the entry.
    const res = await fetch(`${server.url}/accessTokens`, {
      method: 'POST',
      headers: { authorization: server.workspaceAuth, 'content-type': 'application/json', 'x-forwarded-for': 'f'.repeat(300) },
      body: JSON.stringify({ name: 'long-forwarded' }),
    });
    expect(res.status).toBe(200);
    const { data } = (await res.json()) as { data: { id: string } };
    expect((await auditLog(server)).find((e) => e.target === data.id)?.ip).toBe('f'.repeat(64));
  });

  it('throttles failures by the right-most address, however the left-most entries change', async () => {
    const attacker = '198.51.100.7';
    const attempt = (i: number, address = attacker) => self(server, generateSecret('access'), `192.0.2.${i}, 10.0.${i}.1, ${address}`);
    for (let i = 1; i <= 3; i++) expect((await attempt(i)).status, `failure ${i}`).toBe(401);
    for (let i = 4; i <= 8; i++) expect((await attempt(i)).status, `failure ${i} with another forged left-most entry`).toBe(429);
    // Another client behind the same proxy is not locked out.
    expect((await attempt(9, '198.51.100.8')).status).toBe(401);
  });
});

describe('TILLER_TRUST_PROXY as a list of proxy addresses', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { ...light, TILLER_TRUST_PROXY: '127.0.0.1, 10.0.0.0/8' } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('takes the right-most address that is not a trusted proxy', async () => {
    // The client forged 10.1.2.3; its real address 203.0.113.9 came through two trusted proxies.
    const fenced = await server.issueAccessToken({ name: 'fenced', allowedIps: [`${SPOOFED}/32`] });
    const admitted = await server.issueAccessToken({ name: 'admitted', allowedIps: [`${REAL}/32`] });
    const chain = `${SPOOFED}, ${REAL}, 10.9.9.9`;
    expect((await self(server, fenced.token, chain)).status).toBe(401);
    expect((await self(server, admitted.token, chain)).status).toBe(200);
    expect((await eventually(() => tokenEntry(server, admitted.id), (e) => e.lastUsedIp !== null)).lastUsedIp).toBe(REAL);
    const log = await eventually(() => auditLog(server), (events) => events.some((e) => e.target === fenced.id && e.reason === 'ip_not_allowed'));
    expect(log.find((e) => e.target === fenced.id && e.reason === 'ip_not_allowed')?.ip).toBe(REAL);
  });

  it('stops at an untrusted proxy: whatever it claims to forward is not believed', async () => {
    // 203.0.113.9 is not a trusted proxy, so the 10.1.2.3 it "forwarded" is its own invention.
    const fenced = await server.issueAccessToken({ name: 'fenced-2', allowedIps: [`${SPOOFED}/32`] });
    expect((await self(server, fenced.token, `${SPOOFED}, ${REAL}`)).status).toBe(401);
  });
});

describe('TILLER_TRUST_PROXY unset', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: light });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('ignores X-Forwarded-For entirely: the client is the socket peer', async () => {
    const fenced = await server.issueAccessToken({ name: 'fenced', allowedIps: [`${REAL}/32`] });
    expect((await self(server, fenced.token, REAL)).status).toBe(401);
    const local = await server.issueAccessToken({ name: 'local', allowedIps: ['127.0.0.1/32'] });
    expect((await self(server, local.token, `${SPOOFED}, ${REAL}`)).status).toBe(200);
    expect((await eventually(() => tokenEntry(server, local.id), (e) => e.lastUsedIp !== null)).lastUsedIp).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
  });
});

describe('TILLER_TRUST_PROXY=true', () => {
  let server: TestServer;
  const log = captureLog();
  beforeAll(async () => {
    server = await startTestServer({ env: { ...light, TILLER_TRUST_PROXY: 'true' }, logStream: log.stream });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('warns at start that any client can then claim any address', () => {
    const warning = log
      .text()
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { level: number; setting?: string; msg: string })
      .find((line) => line.setting === 'TILLER_TRUST_PROXY');
    expect(warning?.level).toBe(40);
    expect(warning?.msg).toMatch(/any client can claim any address/);
  });

  it('still works as before: the left-most entry is the client', async () => {
    const fenced = await server.issueAccessToken({ name: 'fenced', allowedIps: [`${SPOOFED}/32`] });
    expect((await self(server, fenced.token, `${SPOOFED}, ${REAL}`)).status).toBe(200);
  });
});
