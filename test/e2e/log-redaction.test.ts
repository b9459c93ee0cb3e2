import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureLog } from '../helpers/observe.js';
import { basicAuth, startTestServer, type TestServer } from '../helpers/server.js';

// Secrets never reach the log: a whole token lifecycle runs at LOG_LEVEL info with the log
// captured, then every secret, in every form a client sends it, is searched for.

let server: TestServer;
const captured = captureLog();

beforeAll(async () => {
  server = await startTestServer({ logStream: captured.stream });
});
afterAll(async () => {
  await server?.close();
});

/** Every way a secret travels in a request: raw, in each Basic form, and in base64url. */
function forms(secret: string, email?: string): string[] {
  const encodings = [`${secret}:`, `:${secret}`, secret, ...(email ? [`${email}:${secret}`] : [])];
  return [
    secret,
    secret.slice(7), // without the prefix
    ...encodings.map((text) => Buffer.from(text).toString('base64')),
    ...encodings.map((text) => Buffer.from(text).toString('base64url')),
    // The part of the base64 that encodes the random body, whatever precedes it.
    Buffer.from(secret).toString('base64').slice(12, 40),
  ];
}

describe('log redaction', () => {
  it('writes no workspace or access token, in any form, through a full lifecycle', async () => {
    const secrets: { label: string; secret: string; email?: string }[] = [];
    const call = async (method: string, path: string, auth: string, body?: unknown, headers: Record<string, string> = {}) => {
      const res = await fetch(server.url + path, {
        method,
        headers: { authorization: auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as any };
    };

    // Workspace creation (the helper's workspace, plus one more) and issuing.
    secrets.push({ label: 'workspace token', secret: server.workspaceToken });
    const second = await server.createWorkspace('second');
    secrets.push({ label: 'second workspace token', secret: second.workspaceToken });
    const issued = await call('POST', '/accessTokens', server.workspaceAuth, { name: 'logged', description: 'lifecycle', email: 'dev@example.com' });
    expect(issued.status).toBe(200);
    secrets.push({ label: 'access token', secret: issued.body.data.token, email: 'dev@example.com' });

    // List, use in every form, rotate (with grace), use both, delete, use after delete.
    expect((await call('GET', '/accessTokens', server.workspaceAuth)).status).toBe(200);
    for (const auth of [`Bearer ${issued.body.data.token}`, basicAuth(issued.body.data.token), basicAuth('', issued.body.data.token), basicAuth('dev@example.com', issued.body.data.token)]) {
      expect((await call('GET', '/accessTokens/self', auth)).status).toBe(200);
    }
    const rotated = await call('POST', `/accessTokens/${issued.body.data.id}/rotate`, server.workspaceAuth, { gracePeriodSeconds: 60 });
    expect(rotated.status).toBe(200);
    secrets.push({ label: 'rotated access token', secret: rotated.body.data.token });
    expect((await call('GET', '/accessTokens/self', `Bearer ${rotated.body.data.token}`)).status).toBe(200);
    expect((await call('GET', '/accessTokens/self', `Bearer ${issued.body.data.token}`)).status).toBe(200);
    expect((await call('DELETE', '/accessTokens?name=logged', server.workspaceAuth)).status).toBe(200);

    // Failed attempts: revoked tokens, the wrong kind, a wrong e-mail, broken and odd headers.
    const revoked = rotated.body.data.token as string;
    const failures: [string, string, Record<string, string>?][] = [
      ['/accessTokens/self', `Bearer ${revoked}`],
      ['/accessTokens/self', basicAuth('mallory@example.com', revoked)],
      ['/accessTokens/self', server.workspaceAuth],
      ['/accessTokens', `Bearer ${revoked}`],
      ['/accessTokens', `Token ${server.workspaceToken}`],
      ['/accessTokens', `Basic ${server.workspaceToken}`],
      // Change the last character to a different one (the checksum then fails).
      ['/accessTokens', `Bearer ${server.workspaceToken.slice(0, -1)}${server.workspaceToken.endsWith('x') ? 'y' : 'x'}`],
      ['/accessTokens', `Basic ${Buffer.from(`${server.workspaceToken}:`).toString('base64')} trailing`],
      ['/auditLog', '', { authorisation: `Bearer ${second.workspaceToken}x` }],
    ];
    for (const [path, auth, headers] of failures) {
      const res = await fetch(server.url + path, { headers: { ...(auth ? { authorization: auth } : {}), ...headers } });
      expect(res.status).toBe(401);
    }
    // A secret pasted into a body field or a query string by mistake.
    await call('POST', '/accessTokens', server.workspaceAuth, { name: 'x'.repeat(200), description: second.workspaceToken });
    await fetch(`${server.url}/accessTokens?name=${encodeURIComponent(second.workspaceToken)}`, { method: 'DELETE', headers: { authorization: basicAuth(second.workspaceToken) } });
    secrets.push({ label: 'second workspace token as a name', secret: second.workspaceToken });

    // Workspace credentials: a secret value created, replaced, refused (bad key, duplicate key) and used.
    const credentialValue = 'cred-value-do-not-log-8f3a1c9e';
    const replacedValue = 'cred-value-replaced-do-not-log-77d2';
    const freshToken = await call('POST', '/accessTokens', server.workspaceAuth, { name: 'credentials' });
    const credentialAuth = `Bearer ${freshToken.body.data.token}`;
    secrets.push({ label: 'credentials access token', secret: freshToken.body.data.token });
    const created = await call('POST', '/credentials', credentialAuth, { key: 'LOGGED_SECRET', value: credentialValue, isSecret: true });
    expect(created.status).toBe(201);
    expect((await call('PATCH', `/credentials/${created.body.id}`, credentialAuth, { value: replacedValue })).status).toBe(200);
    expect((await call('POST', '/credentials', credentialAuth, { key: 'bad key', value: credentialValue, isSecret: true })).status).toBe(400);
    expect((await call('POST', '/credentials', credentialAuth, { key: 'LOGGED_SECRET', value: credentialValue, isSecret: true })).status).toBe(409);
    expect((await call('GET', '/credentials', credentialAuth)).status).toBe(200);
    expect(await server.server.services.credentials.valuesFor(server.workspaceId)).toEqual({ LOGGED_SECRET: replacedValue });
    secrets.push({ label: 'secret credential value', secret: credentialValue }, { label: 'replaced credential value', secret: replacedValue });

    // Let the background writes (last use, failure audit) and their log lines settle.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const log = captured.text();

    expect(log.length).toBeGreaterThan(0);
    expect(log).toContain('authentication failed');
    expect(log).toMatch(/"authFailure":"(revoked|unknown|email_mismatch|wrong_kind|malformed|bad_scheme)"/);
    for (const { label, secret, email } of secrets) {
      for (const form of forms(secret, email)) {
        expect(log.includes(form), `${label} appears in the log as ${form}`).toBe(false);
      }
    }
    expect(log).not.toMatch(/tlr_(at|ws)_[0-9A-Za-z]{20,}/);
  });
});
