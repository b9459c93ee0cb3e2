import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSecret } from '../../src/domain/secrets.js';
import { startTestServer, TEST_METRICS_TOKEN, type TestServer } from '../helpers/server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

// What buildApp adds to every route: request metrics, X-Request-Id, and the 404 envelope.

describe('request metrics', () => {
  it('GET /metrics counts requests by route and status, auth failures by reason and token-cache lookups', async () => {
    const { token } = await server.issueAccessToken({ name: 'metered' });
    await fetch(`${server.url}/accessTokens/self`, { headers: { authorization: `Bearer ${token}` } });
    await fetch(`${server.url}/accessTokens/self`, { headers: { authorization: `Bearer ${token}` } });
    await fetch(`${server.url}/accessTokens/self`, { headers: { authorization: `Bearer ${generateSecret('access')}` } });
    await fetch(`${server.url}/accessTokens/self`, { headers: { authorization: 'Digest x' } });
    await fetch(`${server.url}/accessTokens/self`);
    const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TEST_METRICS_TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toMatch(/tiller_http_requests_total\{method="POST",route="\/accessTokens",status="200"\} [1-9]/);
    expect(text).toMatch(/tiller_http_requests_total\{method="GET",route="\/accessTokens\/self",status="200"\} 2/);
    expect(text).toMatch(/tiller_http_requests_total\{method="GET",route="\/accessTokens\/self",status="401"\} 3/);
    expect(text).toMatch(/tiller_http_request_duration_seconds_bucket\{[^}]*route="\/accessTokens\/self"/);
    expect(text).toMatch(/tiller_auth_failures_total\{reason="unknown"\} 1/);
    expect(text).toMatch(/tiller_auth_failures_total\{reason="bad_scheme"\} 1/);
    expect(text).toMatch(/tiller_auth_failures_total\{reason="missing"\} 1/);
    expect(text).toMatch(/tiller_token_cache_lookups_total\{result="hit"\} [1-9]/);
    expect(text).toMatch(/tiller_token_cache_lookups_total\{result="miss"\} [1-9]/);
    expect(text).not.toContain(token);
  });
});

describe('X-Request-Id', () => {
  it.each([
    ['a success', '/health', {}],
    ['a 401', '/accessTokens', {}],
    ['a 404 route', '/no/such/route', {}],
    ['a 400', '/auditLog?limit=0', 'workspace'],
  ] as const)('is on %s, and matches the body\'s requestId', async (_label, path, auth) => {
    const res = await fetch(server.url + path, { headers: auth === 'workspace' ? { authorization: server.workspaceAuth } : {} });
    const id = res.headers.get('x-request-id');
    expect(id).toMatch(/^[A-Za-z0-9._:-]+$/);
    if (res.status >= 400) expect(((await res.json()) as { requestId: string }).requestId).toBe(id);
  });

  it('is on 413 and 415 answers', async () => {
    const headers = { authorization: server.workspaceAuth };
    const tooLarge = await fetch(`${server.url}/accessTokens`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x'.repeat(server.config.bodyLimitBytes) }) });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.headers.get('x-request-id')).toBeTruthy();
    const wrongType = await fetch(`${server.url}/accessTokens`, { method: 'POST', headers: { ...headers, 'content-type': 'text/plain' }, body: 'x' });
    expect(wrongType.status).toBe(415);
    expect(wrongType.headers.get('x-request-id')).toBe(((await wrongType.json()) as { requestId: string }).requestId);
  });

  it('keeps a well-formed id the client sent, and replaces one that is not', async () => {
    const kept = await fetch(`${server.url}/health`, { headers: { 'x-request-id': 'trace-abc.123' } });
    expect(kept.headers.get('x-request-id')).toBe('trace-abc.123');
    const replaced = await fetch(`${server.url}/health`, { headers: { 'x-request-id': 'bad id with spaces <script>' } });
    expect(replaced.headers.get('x-request-id')).not.toContain(' ');
  });
});

describe('unknown routes', () => {
  it('answer 404 with the envelope', async () => {
    const res = await fetch(`${server.url}/accessTokens/a/b/c`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ success: false, error: { code: 'not_found' } });
  });
});
