import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveTiller, type ServingTiller } from '../helpers/process.js';
import { TEST_PEPPER, basicAuth, createTestDatabase, testDialect } from '../helpers/server.js';

// An answered write must survive the process dying right after the answer: the real server runs
// in a child process and is killed with SIGKILL (no shutdown hooks, no flush) after a 200.

let dataDir: string;
let database: { url: string; drop(): Promise<void> } | undefined;
let env: Record<string, string>;
const running: ServingTiller[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'tiller-durability-'));
  if (testDialect() === 'postgres') database = await createTestDatabase();
  env = { TILLER_DATA_DIR: dataDir, TILLER_PEPPER: TEST_PEPPER, ...(database ? { DATABASE_URL: database.url } : {}) };
});

afterAll(async () => {
  for (const proc of running) proc.child.kill('SIGKILL');
  await Promise.all(running.map((p) => p.exited));
  await database?.drop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function serve(): Promise<ServingTiller> {
  const proc = await serveTiller(env);
  running.push(proc);
  return proc;
}

describe('SIGKILL right after a 200', () => {
  it('keeps an issued token, a revocation and the workspace token across a hard kill and restart', async () => {
    const first = await serve();
    expect(first.firstWorkspaceToken).toMatch(/^tlr_ws_/);
    const workspaceAuth = basicAuth(first.firstWorkspaceToken!);
    const issue = (name: string) =>
      fetch(`${first.url}/accessTokens`, { method: 'POST', headers: { authorization: workspaceAuth, 'content-type': 'application/json' }, body: JSON.stringify({ name }) });

    const doomed = (await (await issue('doomed')).json()) as { data: { token: string; id: string } };
    const revoked = await fetch(`${first.url}/accessTokens/${doomed.data.id}`, { method: 'DELETE', headers: { authorization: workspaceAuth } });
    expect(revoked.status).toBe(200);

    const res = await issue('survivor');
    expect(res.status).toBe(200);
    first.child.kill('SIGKILL');
    const body = (await res.json()) as { data: { token: string; id: string } };
    const ended = await first.exited;
    expect(ended.signal).toBe('SIGKILL');

    const second = await serve();
    // The store was not empty, so no new workspace was created.
    expect(second.firstWorkspaceToken).toBeUndefined();
    const self = await fetch(`${second.url}/accessTokens/self`, { headers: { authorization: `Bearer ${body.data.token}` } });
    expect(self.status).toBe(200);
    expect(((await self.json()) as { id: string }).id).toBe(body.data.id);
    const gone = await fetch(`${second.url}/accessTokens/self`, { headers: { authorization: `Bearer ${doomed.data.token}` } });
    expect(gone.status).toBe(401);
    const list = await fetch(`${second.url}/accessTokens`, { headers: { authorization: workspaceAuth } });
    expect(list.status).toBe(200);
    expect(((await list.json()) as { name: string }[]).map((t) => t.name)).toEqual(['survivor']);

    // A graceful stop still exits cleanly.
    const stopped = await second.stop();
    expect(stopped.code).toBe(0);
  }, 120_000);
});
