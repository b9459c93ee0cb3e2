import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDialect } from '../helpers/server.js';

// One allocation larger than a sandbox's whole heap makes V8 give up on that isolate in a way
// isolated-vm cannot contain. The server then ends itself and the `tiller` launcher starts a
// fresh one: the hostile run fails, everything committed survives, and the service comes back.
// Process behaviour does not depend on the store, so this runs once (SQLite).

const root = join(import.meta.dirname, '..', '..');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe.skipIf(testDialect() !== 'sqlite')('an unrecoverable sandbox error', () => {
  let launcher: ChildProcess;
  let output = '';
  let base = '';
  let dataDir = '';

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'tiller-crash-'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    launcher = spawn(process.execPath, [join(root, 'bin', 'tiller.mjs'), 'serve'], {
      cwd: root,
      env: { ...process.env, NODE_OPTIONS: '', PORT: String(port), TILLER_DATA_DIR: dataDir, LOG_LEVEL: 'warn', TILLER_SANDBOX_MEMORY_MB: '64' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    launcher.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    launcher.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    // The first start may compile the server; allow for it.
    await waitFor(async () => ((await fetch(`${base}/health`)).ok ? true : undefined), 150_000);
  }, 180_000);

  afterAll(async () => {
    if (launcher && launcher.exitCode === null) {
      const exited = new Promise((r) => launcher.once('exit', r));
      launcher.kill('SIGTERM');
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('fails only the hostile run; the launcher restarts the server and committed tokens still work', async () => {
    const workspaceToken = /Workspace token: (tlr_ws_\w+)/.exec(output)?.[1];
    expect(workspaceToken).toBeDefined();
    const issued = await fetch(`${base}/accessTokens`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${workspaceToken}:`).toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'survives' }),
    });
    expect(issued.status).toBe(200);
    const token = ((await issued.json()) as { data: { token: string } }).data.token;
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

    const hostile = await fetch(`${base}/transformations/test`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ code: 'export function transformEvent(e) { const big = new Array(1e8).fill(0); return e; }', events: [{ type: 'track' }] }),
    }).then(
      (res) => res.status,
      () => 'connection closed',
    );
    // The run never succeeds: either the connection dies with the process or the sandbox refuses it.
    expect(hostile).not.toBe(200);

    await waitFor(async () => (/restarting it/.test(output) ? true : undefined), 30_000);
    await waitFor(async () => ((await fetch(`${base}/health`)).ok ? true : undefined), 60_000);

    const self = await fetch(`${base}/accessTokens/self`, { headers: auth });
    expect(self.status).toBe(200);
    const normal = await fetch(`${base}/transformations/test`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ code: 'export function transformEvent(e) { e.ok = true; return e; }', events: [{ type: 'track' }] }),
    });
    expect(normal.status).toBe(200);
    const body = (await normal.json()) as { results: { statusCode: number; output: { ok: boolean } }[] };
    expect(body.results[0]).toMatchObject({ statusCode: 200, output: { ok: true } });
    expect(launcher.exitCode).toBeNull();
  }, 150_000);
});
