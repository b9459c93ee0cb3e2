import { chmodSync, chownSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, testDialect, type TestServer } from '../helpers/server.js';

// Issue 17, item 9, as a local user or a browser would find it: the database, its journals and the
// pepper were readable by every local user (0644 under the usual umask), API answers could be
// content-sniffed, and /docs could be framed and leaked its address as a referrer.

const mode = (path: string): string => (statSync(path).mode & 0o777).toString(8).padStart(4, '0');

function modesUnder(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).map((name) => [name, mode(join(dir, name))]));
}

/** Starts a server on `dataDir` with a generated pepper (so Tiller writes that file too), does a write, and closes it. */
async function runOnce(dataDir: string, logStream?: NodeJS.WritableStream): Promise<void> {
  const server = await startTestServer({ dialect: 'sqlite', dataDir, env: { TILLER_PEPPER: '', TILLER_SANDBOX_PROCESSES: '1' }, ...(logStream ? { logStream } : {}) });
  try {
    await server.issueAccessToken({ name: 'writes-the-database' });
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  } finally {
    await server.close();
  }
}

describe.runIf(testDialect() === 'sqlite')('files Tiller writes', () => {
  let parent: string;
  let previousUmask: number;

  beforeAll(() => {
    parent = mkdtempSync(join(tmpdir(), 'tiller-modes-'));
    // The most permissive umask there is: any mode Tiller relies on the umask for shows up as 0777/0666.
    previousUmask = process.umask(0);
  });
  afterAll(() => {
    process.umask(previousUmask);
    rmSync(parent, { recursive: true, force: true });
  });

  it('under umask 000, creates the data directory 0700 and the database, its -wal and -shm and the pepper 0600', async () => {
    const dataDir = join(parent, 'created', 'data');
    const server = await startTestServer({ dialect: 'sqlite', dataDir, env: { TILLER_PEPPER: '', TILLER_SANDBOX_PROCESSES: '1' } });
    try {
      await server.issueAccessToken({ name: 'writes-the-database' });
      // Measured while SQLite holds the journals open: they exist only then.
      expect(modesUnder(dataDir)).toEqual({ pepper: '0600', 'credentials.key': '0600', 'tiller.db': '0600', 'tiller.db-wal': '0600', 'tiller.db-shm': '0600' });
      expect(mode(dataDir)).toBe('0700');
      expect(mode(join(parent, 'created'))).toBe('0700');
    } finally {
      await server.close();
    }
    for (const file of readdirSync(dataDir)) expect(mode(join(dataDir, file)), file).toBe('0600');
  });

  it('tightens an existing 0755 data directory it owns, and database files an older version left 0644', async () => {
    const dataDir = join(parent, 'existing');
    await runOnce(dataDir);
    chmodSync(dataDir, 0o755);
    for (const file of readdirSync(dataDir)) chmodSync(join(dataDir, file), 0o644);
    await runOnce(dataDir);
    expect(mode(dataDir)).toBe('0700');
    for (const file of readdirSync(dataDir).filter((name) => name.startsWith('tiller.db') || name === 'pepper' || name === 'credentials.key')) expect(mode(join(dataDir, file)), file).toBe('0600');
  });

  it.runIf(process.getuid?.() === 0)('names a wide data directory owned by another user in one warning line, and still starts', async () => {
    const dataDir = join(parent, 'mounted');
    await runOnce(dataDir);
    chmodSync(dataDir, 0o755);
    chownSync(dataDir, 65534, 65534);
    let log = '';
    const stream = new PassThrough();
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => (log += chunk));
    await runOnce(dataDir, stream);
    const warnings = log.split('\n').filter((line) => line.includes('"level":40') && line.includes(dataDir));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('0755');
    expect(mode(dataDir)).toBe('0755');
    // Its files are still Tiller's own and private.
    for (const file of readdirSync(dataDir)) expect(mode(join(dataDir, file)), file).toBe('0600');
  });
});

describe('security headers', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ env: { TILLER_RUNTIME_PORT: '0', TILLER_METRICS_PORT: '0', TILLER_SANDBOX_PROCESSES: '1' } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('sends X-Content-Type-Options: nosniff on JSON answers, errors and 404s of every listener', async () => {
    const calls: [string, string, RequestInit, number][] = [
      ['a JSON answer', `${server.url}/accessTokens`, { headers: { authorization: server.workspaceAuth } }, 200],
      ['a 401', `${server.url}/accessTokens`, {}, 401],
      ['a 400 for a bad body', `${server.url}/accessTokens`, { method: 'POST', headers: { authorization: server.workspaceAuth, 'content-type': 'application/json' }, body: '{"name":' }, 400],
      ['a 415', `${server.url}/accessTokens`, { method: 'POST', headers: { authorization: server.workspaceAuth, 'content-type': 'text/html' }, body: '<b>x</b>' }, 415],
      ['a 404', `${server.url}/no-such-route`, {}, 404],
      ['the health answer', `${server.url}/health`, {}, 200],
      ['the OpenAPI document', `${server.url}/openapi.json`, {}, 200],
      ['the dashboard', `${server.url}/`, {}, 200],
      ['the runtime listener', `${server.runtimeUrl}/health`, {}, 200],
      ['a 404 of the runtime listener', `${server.runtimeUrl}/accessTokens`, {}, 404],
      ['a runtime answer', `${server.runtimeUrl}/customTransform`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[]' }, 200],
      ['the metrics listener', `${server.metricsUrl}/metrics`, {}, 200],
      ['a 404 of the metrics listener', `${server.metricsUrl}/health`, {}, 404],
    ];
    for (const [label, url, init, status] of calls) {
      const res = await fetch(url, init);
      await res.arrayBuffer();
      expect(res.status, label).toBe(status);
      expect(res.headers.get('x-content-type-options'), label).toBe('nosniff');
    }
  });

  it('sends X-Frame-Options: DENY and Referrer-Policy: no-referrer on /docs and its files, as on the dashboard', async () => {
    const page = await fetch(`${server.url}/docs`, { redirect: 'manual' });
    await page.arrayBuffer();
    const html = await (await fetch(`${server.url}/docs/`)).text();
    const asset = /src="\.\/([^"]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeDefined();
    const paths = ['/docs', '/docs/', '/docs/static/index.html', '/docs/json', `/docs/${asset}`];
    expect(page.status).toBeLessThan(400);
    for (const path of paths) {
      const res = await fetch(server.url + path, { redirect: 'manual' });
      await res.arrayBuffer();
      expect(res.status, path).toBeLessThan(400);
      expect(res.headers.get('x-frame-options'), path).toBe('DENY');
      expect(res.headers.get('referrer-policy'), path).toBe('no-referrer');
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
    }
    const dashboard = await fetch(`${server.url}/`);
    await dashboard.arrayBuffer();
    expect(dashboard.headers.get('x-frame-options')).toBe('DENY');
    expect(dashboard.headers.get('referrer-policy')).toBe('no-referrer');
  });
});
