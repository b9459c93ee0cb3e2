import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureDefaultWorkspace, listWorkspaces } from '../../src/domain/workspaces.js';
import { openStore } from '../../src/store/db.js';
import { runTiller, serveTiller, type ServingTiller } from '../helpers/process.js';
import { TEST_PEPPER, basicAuth, createTestDatabase, testDialect } from '../helpers/server.js';

// `tiller serve` as a load balancer and an operator meet it: a configuration that would make a
// fleet misbehave stops it at start with one line naming the setting, and SIGTERM drains (readiness
// false first, in-flight requests finished, exit 0).

const OTHER_PEPPER = 'another-pepper-0123456789abcdef0123456789abcdef';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let dataDir: string;
let database: { url: string; drop(): Promise<void> } | undefined;
let env: Record<string, string>;
let serving: ServingTiller | undefined;

beforeEach(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'tiller-start-'));
  if (testDialect() === 'postgres') database = await createTestDatabase();
  env = { TILLER_DATA_DIR: dataDir, TILLER_PEPPER: TEST_PEPPER, TILLER_SANDBOX_PROCESSES: '1', LOG_LEVEL: 'warn', ...(database ? { DATABASE_URL: database.url } : {}) };
});
afterEach(async () => {
  if (serving && serving.child.exitCode === null && serving.child.signalCode === null) serving.child.kill('SIGKILL');
  await serving?.exited;
  serving = undefined;
  await database?.drop();
  database = undefined;
  rmSync(dataDir, { recursive: true, force: true });
});

/** The one line a refused start prints (Node's own warnings aside). */
function refusal(result: { code: number | null; stderr: string }): string {
  expect(result.code).toBe(2);
  const lines = result.stderr.split('\n').filter((line) => line.trim() !== '' && !/Deprecation|--trace-warnings|ExperimentalWarning/.test(line));
  expect(lines, result.stderr).toHaveLength(1);
  return lines[0]!;
}

describe('a start that would break a fleet is refused', () => {
  it('an instance with another pepper than the database was used with', async () => {
    expect((await runTiller(['workspace', 'create', '--name', 'w', '--owner-email', 'o@example.com'], env)).code).toBe(0);
    for (const args of [['serve'], ['workspace', 'list']]) {
      const line = refusal(await runTiller(args, { ...env, TILLER_PEPPER: OTHER_PEPPER }));
      expect(line).toContain('TILLER_PEPPER');
      expect(line).not.toContain(OTHER_PEPPER);
      expect(line).not.toContain(TEST_PEPPER);
    }
    // The right pepper still starts; `tiller migrate` needs none (a migration job often has none).
    expect((await runTiller(['workspace', 'list'], env)).code).toBe(0);
    expect((await runTiller(['migrate'], { ...env, TILLER_PEPPER: OTHER_PEPPER })).code).toBe(0);
  });

  it('a database at a newer schema than this release', async () => {
    expect((await runTiller(['migrate'], env)).code).toBe(0);
    const store = await openStore({ dataDir, databaseUrl: database?.url });
    try {
      await store.db.insertInto('tiller_migrations' as never).values({ name: '999_from_a_newer_release', timestamp: new Date().toISOString() } as never).execute();
    } finally {
      await store.close();
    }
    for (const args of [['serve'], ['migrate']]) {
      const line = refusal(await runTiller(args, env));
      expect(line).toContain(database ? 'DATABASE_URL' : 'TILLER_DATA_DIR');
      expect(line).toContain('999_from_a_newer_release');
      expect(line).toContain('newer schema');
    }
  });

  it('pending migrations while TILLER_MIGRATE_ON_START=false; after `tiller migrate` it starts', async () => {
    const line = refusal(await runTiller(['serve'], { ...env, TILLER_MIGRATE_ON_START: 'false' }));
    expect(line).toContain('TILLER_MIGRATE_ON_START');
    expect(line).toContain('tiller migrate');
    expect((await runTiller(['migrate'], env)).code).toBe(0);
    serving = await serveTiller({ ...env, TILLER_MIGRATE_ON_START: 'false' });
    expect((await fetch(`${serving.url}/health`)).status).toBe(200);
  });

  it.each([
    ['0.0.0.0', 'every interface'],
    ['::', 'every interface'],
    ['8.8.8.8', 'a public address'],
  ])('a credential-free runtime listener on %s without TILLER_RUNTIME_ALLOW_PUBLIC', async (host, where) => {
    const line = refusal(await runTiller(['serve'], { ...env, PORT: '0', TILLER_RUNTIME_PORT: '0', TILLER_RUNTIME_HOST: host }));
    expect(line).toContain('TILLER_RUNTIME_HOST');
    expect(line).toContain('TILLER_RUNTIME_ALLOW_PUBLIC=true');
    expect(line).toContain(where);
  });

  it('the runtime listener on all interfaces starts when TILLER_RUNTIME_ALLOW_PUBLIC=true says a network protects it', async () => {
    serving = await serveTiller({ ...env, TILLER_RUNTIME_PORT: '0', TILLER_RUNTIME_HOST: '0.0.0.0', TILLER_RUNTIME_ALLOW_PUBLIC: 'true' });
    const port = /runtime without credentials on http:\/\/[^\s]+:(\d+)/.exec(serving.stdout())?.[1];
    expect(port, serving.stdout()).toBeDefined();
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
  });
});

describe('replicas starting together on one empty database', () => {
  it('create one default workspace and print one token between them', async () => {
    expect((await runTiller(['migrate'], env)).code).toBe(0);
    const stores = await Promise.all([1, 2, 3].map(() => openStore({ dataDir, databaseUrl: database?.url })));
    try {
      const ensure = (store: (typeof stores)[number]) => ensureDefaultWorkspace(store, Buffer.from(TEST_PEPPER), 'owner@example.com');
      // PostgreSQL: concurrently, as replicas do. SQLite is one instance per data directory, and its
      // synchronous driver cannot interleave two writers in one process: one after another.
      const created = database ? await Promise.all(stores.map(ensure)) : [await ensure(stores[0]!), await ensure(stores[1]!), await ensure(stores[2]!)];
      expect(created.filter((c) => c !== null)).toHaveLength(1);
      expect((await listWorkspaces(stores[0]!)).map((w) => w.name)).toEqual(['default']);
      // A later start finds it taken.
      expect(await ensure(stores[1]!)).toBeNull();
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });
});

describe('SIGTERM drains', () => {
  async function accessToken(url: string, workspaceToken: string): Promise<string> {
    const res = await fetch(`${url}/accessTokens`, {
      method: 'POST',
      headers: { authorization: basicAuth(workspaceToken), 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'drain', scopes: ['read', 'write'] }),
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { data: { token: string } }).data.token;
  }

  async function untilReady(url: string): Promise<void> {
    for (let i = 0; i < 300; i++) {
      if ((await fetch(`${url}/ready`)).status === 200) return;
      await sleep(100);
    }
    throw new Error('never ready');
  }

  it('turns /ready false at once, keeps answering (closing each connection) for TILLER_DRAIN_DELAY_MS, then exits 0', async () => {
    serving = await serveTiller({ ...env, TILLER_DRAIN_DELAY_MS: '1500' });
    await untilReady(serving.url);
    const signalledAt = Date.now();
    serving.child.kill('SIGTERM');
    let ready = await fetch(`${serving.url}/ready`);
    for (let i = 0; ready.status === 200 && i < 100; i++) {
      await sleep(10);
      ready = await fetch(`${serving.url}/ready`);
    }
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ success: false, error: { code: 'draining' } });
    const health = await fetch(`${serving.url}/health`);
    expect(health.status).toBe(200);
    expect(health.headers.get('connection')).toBe('close');
    expect(await serving.exited).toEqual({ code: 0, signal: null });
    // It kept serving for the delay (a lower bound: nothing here can make it exit early by being slow).
    expect(Date.now() - signalledAt).toBeGreaterThanOrEqual(1500);
  });

  it('finishes a request in flight when the listener closes', async () => {
    serving = await serveTiller({ ...env, TILLER_DRAIN_DELAY_MS: '0' });
    await untilReady(serving.url);
    const token = await accessToken(serving.url, serving.firstWorkspaceToken!);
    // About a second of user code, so the SIGTERM lands while the answer is being computed.
    const code = 'export function transformEvent(e) { const until = Date.now() + 1000; while (Date.now() < until) {} e.done = true; return e; }';
    const inFlight = fetch(`${serving.url}/transformations/test`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ code, events: [{ event: 'x' }] }),
    });
    await sleep(300);
    serving.child.kill('SIGTERM');
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(JSON.stringify(await res.json())).toContain('"done":true');
    const exit = await serving.exited;
    expect(exit, serving.stderr()).toEqual({ code: 0, signal: null });
  });
});
