import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createTransformation, wireEvent } from '../helpers/fixtures.js';
import { basicAuth, startTestServer, TEST_METRICS_TOKEN, type TestServer } from '../helpers/server.js';

// GET /metrics as an outsider would try it (issue 17, item 6): it used to answer anyone on every
// listener and to list every workspace's and version's ids, and on the credential-free runtime
// listener a version id is all it takes to run that version. Now the API port wants the operator's
// TILLER_METRICS_TOKEN, the runtime listener never serves it, TILLER_METRICS_PORT serves it (and
// nothing else) on a private port, and no tenant id is in it unless the operator asks.

const ENV = { TILLER_RUNTIME_PORT: '0', TILLER_METRICS_PORT: '0', TILLER_SANDBOX_PROCESSES: '1' };

let server: TestServer;
let log = '';

interface Envelope {
  success: false;
  error: { code: string; message: string };
  requestId: string;
}

async function scrape(base: string, authorization?: string): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(`${base}/metrics`, authorization === undefined ? {} : { headers: { authorization } });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** Runs one batch of a fresh transformation of `target`'s workspace through /customTransform. */
async function runOneBatch(target: TestServer): Promise<{ workspaceId: string; transformationId: string; versionId: string }> {
  const { id, versionId } = await createTransformation(target, { workspaceId: target.workspaceId, code: 'export function transformEvent(e) { return e; }' });
  const res = await fetch(`${target.runtimeUrl}/customTransform`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([wireEvent(0, { versionId, workspaceId: target.workspaceId })]) });
  expect(res.status).toBe(200);
  expect(((await res.json()) as { statusCode: number }[])[0]?.statusCode).toBe(200);
  return { workspaceId: target.workspaceId, transformationId: id, versionId };
}

beforeAll(async () => {
  const stream = new PassThrough();
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => (log += chunk));
  server = await startTestServer({ env: ENV, logStream: stream });
});
afterAll(async () => {
  await server?.close();
});

describe('GET /metrics on the API port', () => {
  it('refuses a scrape without credentials with the 401 envelope', async () => {
    const res = await scrape(server.url);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="tiller"');
    expect(JSON.parse(res.text) as Envelope).toEqual({ success: false, error: { code: 'unauthorized', message: 'missing or invalid credentials' }, requestId: res.headers.get('x-request-id') });
    expect(res.text).not.toContain('tiller_');
  });

  it('refuses a wrong token, a near miss, a tenant credential and other schemes', async () => {
    const { token } = await server.issueAccessToken({ name: 'tenant' });
    const wrong = [
      `Bearer ${'x'.repeat(TEST_METRICS_TOKEN.length)}`,
      `Bearer ${TEST_METRICS_TOKEN.slice(0, -1)}`,
      `Bearer ${TEST_METRICS_TOKEN}x`,
      `Bearer ${TEST_METRICS_TOKEN.toUpperCase()}`,
      `Bearer ${token}`,
      server.workspaceAuth,
      `Digest ${TEST_METRICS_TOKEN}`,
      `Bearer`,
      '',
    ];
    for (const authorization of wrong) {
      const res = await scrape(server.url, authorization);
      expect(res.status, authorization).toBe(401);
      expect((JSON.parse(res.text) as Envelope).error.code, authorization).toBe('unauthorized');
    }
  });

  it('answers Prometheus text to the operator token, as Bearer or as the Basic password', async () => {
    for (const authorization of [`Bearer ${TEST_METRICS_TOKEN}`, basicAuth('prometheus', TEST_METRICS_TOKEN)]) {
      const res = await scrape(server.url, authorization);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/plain');
      expect(res.text).toContain('tiller_http_requests_total');
    }
    // The failed attempts above were counted as authentication failures.
    expect((await server.metricsText()).match(/^tiller_auth_failures_total\{reason="unknown"\} (\d+)/m)?.[1]).toBeDefined();
  });

  it('never writes the metrics token to the log', async () => {
    await scrape(server.url, `Bearer ${TEST_METRICS_TOKEN}`);
    await scrape(server.url, `Bearer ${TEST_METRICS_TOKEN}-wrong`);
    await scrape(server.url, basicAuth('prometheus', TEST_METRICS_TOKEN));
    expect(log).toContain('"url":"/metrics"');
    expect(log).not.toContain(TEST_METRICS_TOKEN.slice(5));
    expect(log).not.toContain(Buffer.from(`prometheus:${TEST_METRICS_TOKEN}`).toString('base64').slice(4, 30));
  });

  it('is declared with its own security scheme in /openapi.json', async () => {
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { security?: unknown[] }>> };
    expect(doc.paths['/metrics']?.get?.security).toEqual([{ metricsToken: [] }]);
  });
});

describe('GET /metrics on the other listeners', () => {
  it('is not served on the credential-free runtime listener, whatever the credentials', async () => {
    for (const authorization of [undefined, `Bearer ${TEST_METRICS_TOKEN}`]) {
      const res = await scrape(server.runtimeUrl!, authorization);
      expect(res.status).toBe(404);
      expect((JSON.parse(res.text) as Envelope).error.code).toBe('not_found');
      expect(res.text).not.toContain('tiller_');
    }
  });

  it('is served without credentials on TILLER_METRICS_PORT, which serves nothing else', async () => {
    const res = await scrape(server.metricsUrl!);
    expect(res.status).toBe(200);
    expect(res.text).toContain('tiller_http_requests_total');
    const others: [string, string][] = [
      ['GET', '/health'],
      ['GET', '/ready'],
      ['GET', '/'],
      ['GET', '/docs'],
      ['GET', '/openapi.json'],
      ['GET', '/accessTokens'],
      ['GET', '/transformations'],
      ['GET', '/workspaceConfig'],
      ['POST', '/customTransform'],
      ['POST', '/metrics'],
    ];
    for (const [method, path] of others) {
      const answer = await fetch(server.metricsUrl + path, { method, headers: { authorization: server.workspaceAuth, 'content-type': 'application/json' }, ...(method === 'POST' ? { body: '[]' } : {}) });
      const where = `${method} ${path}`;
      expect(answer.status, where).toBe(404);
      expect(((await answer.json()) as Envelope).error.code, where).toBe('not_found');
    }
  });
});

describe('tenant ids in label values', () => {
  it('are absent by default: a scrape names no workspace, transformation or version', async () => {
    const ran = await runOneBatch(server);
    for (const text of [await server.metricsText(), (await scrape(server.metricsUrl!)).text]) {
      expect(text).toMatch(/^tiller_transformation_events_in_total [1-9]/m);
      expect(text).toMatch(/^tiller_transformation_batches_total\{outcome="ok"\} [1-9]/m);
      for (const id of Object.values(ran)) expect(text).not.toContain(id);
      expect(text).not.toContain('workspace_id');
      expect(text).not.toContain('version_id');
    }
  });

  it('are present when the operator sets TILLER_METRICS_TENANT_LABELS=true', async () => {
    const labelled = await startTestServer({ env: { ...ENV, TILLER_METRICS_TENANT_LABELS: 'true' } });
    try {
      const ran = await runOneBatch(labelled);
      const text = await labelled.metricsText();
      expect(text).toContain(`tiller_transformation_events_in_total{workspace_id="${ran.workspaceId}",version_id="${ran.versionId}"} 1`);
      expect(text).toContain(`tiller_transformation_batches_total{workspace_id="${ran.workspaceId}",version_id="${ran.versionId}",outcome="ok"} 1`);
    } finally {
      await labelled.close();
    }
  });
});

describe('guessing the metrics token', () => {
  it('is throttled per address like every other failed authentication', async () => {
    const limited = await startTestServer({ env: { ...ENV, TILLER_AUTH_FAILURE_LIMIT: '3' } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) statuses.push((await fetch(`${limited.url}/metrics`, { headers: { authorization: `Bearer guess-${i}-0123456789abcdef` } })).status);
      expect(statuses).toEqual([401, 401, 401, 429, 429, 429]);
      // The right token still passes: only failures are throttled.
      expect((await fetch(`${limited.url}/metrics`, { headers: { authorization: `Bearer ${TEST_METRICS_TOKEN}` } })).status).toBe(200);
    } finally {
      await limited.close();
    }
  });
});

describe('TILLER_METRICS_TOKEN', () => {
  it('unset: /metrics on the API port is refused even with a token, and the answer says what to set', async () => {
    const closed = await startTestServer({ env: { TILLER_METRICS_TOKEN: '', TILLER_SANDBOX_PROCESSES: '1' } });
    try {
      for (const authorization of [undefined, `Bearer ${TEST_METRICS_TOKEN}`, `Bearer undefined`, 'Bearer ']) {
        const res = await scrape(closed.url, authorization);
        expect(res.status).toBe(404);
        const body = JSON.parse(res.text) as Envelope;
        expect(body.error.code).toBe('metrics_disabled');
        expect(body.error.message).toContain('TILLER_METRICS_TOKEN');
        expect(body.error.message).toContain('TILLER_METRICS_PORT');
        expect(res.text).not.toContain('tiller_http');
      }
    } finally {
      await closed.close();
    }
  });

  it('refuses a short or spaced token at start, naming the setting and not the value', () => {
    const base = { TILLER_PEPPER: 'p'.repeat(32), TILLER_DATA_DIR: '/nonexistent-tiller-test' };
    for (const bad of ['short-token', 'sixteen chars ok!', 'tab\tseparated-token-value']) {
      expect(() => loadConfig({ ...base, TILLER_METRICS_TOKEN: bad })).toThrowError(ConfigError);
      try {
        loadConfig({ ...base, TILLER_METRICS_TOKEN: bad });
      } catch (err) {
        expect((err as ConfigError).setting).toBe('TILLER_METRICS_TOKEN');
        expect((err as Error).message).not.toContain(bad);
      }
    }
    expect(loadConfig({ ...base, TILLER_METRICS_TOKEN: TEST_METRICS_TOKEN }).metricsToken).toBe(TEST_METRICS_TOKEN);
  });
});
