import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { loadConfig, type Config } from '../../src/config.js';
import { createWorkspace } from '../../src/domain/workspaces.js';
import { startServer, type RunningServer } from '../../src/main.js';

export type Dialect = 'sqlite' | 'postgres';

/** The dialect this test file runs against (set per vitest project). */
export function testDialect(): Dialect {
  return process.env.TILLER_TEST_DIALECT === 'postgres' ? 'postgres' : 'sqlite';
}

const PG_ADMIN_URL = process.env.TILLER_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A fresh PostgreSQL database for one test file; drop() removes it. */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `tiller_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: PG_ADMIN_URL });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

export const TEST_PEPPER = 'test-pepper-0123456789abcdef0123456789abcdef';
/** TILLER_METRICS_TOKEN of every test server unless a test sets another (or '' to leave it unset). */
export const TEST_METRICS_TOKEN = 'test-metrics-token-0123456789';

export interface TestServer {
  url: string;
  runtimeUrl: string | undefined;
  /** The credential-free metrics listener, when TILLER_METRICS_PORT is set. */
  metricsUrl: string | undefined;
  server: RunningServer;
  config: Config;
  workspaceId: string;
  workspaceToken: string;
  /** Basic auth header for the workspace token, as the seed document shows it. */
  workspaceAuth: string;
  /** Creates another workspace in the same store. */
  createWorkspace(name?: string): Promise<{ workspaceId: string; workspaceToken: string; workspaceAuth: string }>;
  /** Issues an access token through the public API. */
  issueAccessToken(body?: Record<string, unknown>, workspaceAuth?: string): Promise<{ token: string; id: string }>;
  /** GET /metrics on the main listener with the metrics token, as Prometheus scrapes it. */
  metricsText(): Promise<string>;
  close(): Promise<void>;
}

export interface TestServerOptions {
  dialect?: Dialect;
  /** Extra settings, as environment variables (e.g. TILLER_AUTH_FAILURE_LIMIT). */
  env?: Record<string, string>;
  /** Share an existing data dir or PostgreSQL database (for restart and multi-instance tests). */
  dataDir?: string;
  databaseUrl?: string;
  logStream?: NodeJS.WritableStream;
  /** Skip creating a workspace (the store is shared with an instance that made one). */
  workspace?: { workspaceId: string; workspaceToken: string };
}

export const basicAuth = (user: string, password = ''): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/**
 * Starts the real server on a random loopback port against a fresh store of the current test
 * dialect (SQLite in a temp dir, or a new PostgreSQL database), with one workspace.
 */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dialect = options.dialect ?? testDialect();
  const ownDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'tiller-test-'));
  let database: { url: string; drop(): Promise<void> } | undefined;
  let databaseUrl = options.databaseUrl;
  if (dialect === 'postgres' && databaseUrl === undefined) {
    database = await createTestDatabase();
    databaseUrl = database.url;
  }
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    TILLER_DATA_DIR: dataDir,
    TILLER_PEPPER: TEST_PEPPER,
    LOG_LEVEL: options.logStream ? 'info' : 'silent',
    TILLER_AUTH_FAILURE_LIMIT: '100000',
    TILLER_METRICS_TOKEN: TEST_METRICS_TOKEN,
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...options.env,
  });
  const server = await startServer(config, { announce: false, ...(options.logStream ? { logStream: options.logStream } : {}) });
  const url = server.url;

  const makeWorkspace = async (name = 'test') => {
    const { workspace, workspaceToken } = await createWorkspace(server.services.store, config.pepper, { name, ownerEmail: `owner-${randomBytes(3).toString('hex')}@example.com` });
    return { workspaceId: workspace.id, workspaceToken, workspaceAuth: basicAuth(workspaceToken) };
  };
  const first = options.workspace ? { ...options.workspace, workspaceAuth: basicAuth(options.workspace.workspaceToken) } : await makeWorkspace('default');

  return {
    url,
    runtimeUrl: server.runtimeUrl,
    metricsUrl: server.metricsUrl,
    server,
    config,
    workspaceId: first.workspaceId,
    workspaceToken: first.workspaceToken,
    workspaceAuth: first.workspaceAuth,
    createWorkspace: makeWorkspace,
    issueAccessToken: async (body = {}, workspaceAuth = first.workspaceAuth) => {
      const res = await fetch(`${url}/accessTokens`, {
        method: 'POST',
        headers: { authorization: workspaceAuth, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'test-token', ...body }),
      });
      const json = (await res.json()) as { data?: { token: string; id: string } };
      if (res.status !== 200 || !json.data) throw new Error(`issuing a token failed: ${res.status} ${JSON.stringify(json)}`);
      return { token: json.data.token, id: json.data.id };
    },
    metricsText: async () => {
      const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${config.metricsToken}` } });
      if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}: ${await res.text()}`);
      return res.text();
    },
    close: async () => {
      await server.close();
      if (database) await database.drop();
      if (ownDataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
