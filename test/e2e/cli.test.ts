import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTiller } from '../helpers/process.js';
import { TEST_PEPPER, basicAuth, createTestDatabase, startTestServer, testDialect, type TestServer } from '../helpers/server.js';

// The `tiller` CLI run as a real process against the store of the current dialect, next to a
// running server on the same data dir or database.

let dataDir: string;
let database: { url: string; drop(): Promise<void> } | undefined;
let env: Record<string, string>;
let server: TestServer | undefined;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'tiller-cli-'));
  if (testDialect() === 'postgres') database = await createTestDatabase();
  env = { TILLER_DATA_DIR: dataDir, TILLER_PEPPER: TEST_PEPPER, LOG_LEVEL: 'warn', ...(database ? { DATABASE_URL: database.url } : {}) };
});
afterAll(async () => {
  await server?.close();
  await database?.drop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('tiller --help', () => {
  it.each([[['--help']], [['serve', '--help']], [['workspace', 'create', '--help']], [['workspace', 'rotate-token', '--help']], [['workspace', 'list', '--help']], [['migrate', '--help']]])('%j prints usage and exits 0', async (args) => {
    const result = await runTiller(args, env);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Usage: tiller/);
    expect(result.stderr).not.toMatch(/Error|at .*\.ts:\d+/);
  });

  it('an unknown command exits 2 and says so', async () => {
    const result = await runTiller(['frobnicate'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown command');
  });
});

describe('tiller settings', () => {
  it.each([
    ['PORT', 'abc', true],
    ['TILLER_AUTH_FAILURE_LIMIT', 'many', true],
    // The pepper is a secret: the message names it but never repeats its value.
    ['TILLER_PEPPER', 'too-short', false],
  ])('a bad %s (%s) exits non-zero with one line naming it', async (name, value, echoed) => {
    const result = await runTiller(['serve'], { ...env, [name]: value });
    expect(result.code).not.toBe(0);
    const lines = result.stderr.split('\n').filter((line) => line.trim() !== '' && !/Deprecation|--trace-warnings/.test(line));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(name);
    if (echoed) expect(lines[0]).toContain(value);
    else expect(result.stderr).not.toContain(value);
  });
});

describe('tiller migrate and workspace commands', () => {
  let created: { workspaceId: string; workspaceToken: string; name: string; ownerEmail: string };

  it('migrate applies the migrations and can run again', async () => {
    for (let i = 0; i < 2; i++) {
      const result = await runTiller(['migrate'], env);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain('migrations applied');
    }
  });

  it('workspace create --json prints the id and the token once, and the token works against a server on the same store', async () => {
    const result = await runTiller(['workspace', 'create', '--name', 'Acme CI', '--owner-email', 'Ops@Acme.test', '--json'], env);
    expect(result.code, result.stderr).toBe(0);
    created = JSON.parse(result.stdout);
    expect(created).toEqual({ workspaceId: expect.any(String), workspaceToken: expect.stringMatching(/^tlr_ws_[0-9A-Za-z]{36}$/), name: 'Acme CI', ownerEmail: 'ops@acme.test' });

    server = await startTestServer({ dataDir, ...(database ? { databaseUrl: database.url } : {}), workspace: { workspaceId: created.workspaceId, workspaceToken: created.workspaceToken } });
    const res = await fetch(`${server.url}/accessTokens`, { method: 'POST', headers: { authorization: basicAuth(created.workspaceToken), 'content-type': 'application/json' }, body: '{"name":"from-cli-workspace"}' });
    expect(res.status).toBe(200);
  });

  it('workspace create refuses missing or bad flags', async () => {
    const noName = await runTiller(['workspace', 'create', '--owner-email', 'a@b.c'], env);
    expect(noName.code).not.toBe(0);
    expect(noName.stderr).toContain('--name');
    const badEmail = await runTiller(['workspace', 'create', '--name', 'x', '--owner-email', 'nope'], env);
    expect(badEmail.code).not.toBe(0);
    expect(badEmail.stderr).toContain('--owner-email');
  });

  it('workspace list shows the workspace without its token', async () => {
    const text = await runTiller(['workspace', 'list'], env);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(created.workspaceId);
    expect(text.stdout).toContain('Acme CI');
    expect(text.stdout).not.toContain(created.workspaceToken);
    const json = await runTiller(['workspace', 'list', '--json'], env);
    const list = JSON.parse(json.stdout) as { id: string; name: string; tokenHint: string }[];
    expect(list.find((w) => w.id === created.workspaceId)).toMatchObject({ name: 'Acme CI', tokenHint: `tlr_ws_…${created.workspaceToken.slice(-4)}` });
    expect(json.stdout).not.toContain(created.workspaceToken);
  });

  it('workspace rotate-token --json replaces the token; the running server refuses the old one', async () => {
    const oldAuth = basicAuth(created.workspaceToken);
    // Cached by the server before the rotation.
    expect((await fetch(`${server!.url}/accessTokens`, { headers: { authorization: oldAuth } })).status).toBe(200);
    const result = await runTiller(['workspace', 'rotate-token', '--id', created.workspaceId, '--json'], env);
    expect(result.code, result.stderr).toBe(0);
    const rotated = JSON.parse(result.stdout) as { workspaceId: string; workspaceToken: string };
    expect(rotated.workspaceId).toBe(created.workspaceId);
    expect(rotated.workspaceToken).not.toBe(created.workspaceToken);

    // Another process wrote: the server learns of it through NOTIFY (PostgreSQL) or SQLite's data version.
    let status = 200;
    for (let i = 0; i < 40 && status === 200; i++) {
      status = (await fetch(`${server!.url}/accessTokens`, { headers: { authorization: oldAuth } })).status;
      if (status === 200) await sleep(50);
    }
    expect(status).toBe(401);
    const fresh = await fetch(`${server!.url}/accessTokens`, { headers: { authorization: basicAuth(rotated.workspaceToken) } });
    expect(fresh.status).toBe(200);
    expect(((await fresh.json()) as { name: string }[]).map((t) => t.name)).toEqual(['from-cli-workspace']);
  });

  it('workspace rotate-token refuses an unknown id and a missing --id', async () => {
    const unknown = await runTiller(['workspace', 'rotate-token', '--id', 'no-such-workspace'], env);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('not found');
    const missing = await runTiller(['workspace', 'rotate-token'], env);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('--id');
  });
});
