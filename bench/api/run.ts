// Transformations API benchmark: `npm run bench:api` (options: --duration S --warmup S --rounds N
// --connections N --transformations N --iterations N).
//
// The server runs in a child process with the production flags (--no-node-snapshot,
// MALLOC_ARENA_MAX=2, LOG_LEVEL=warn); the load generator (autocannon) and the HTTP client run
// here. Everything goes through the public HTTP API. For each store (SQLite always; PostgreSQL when
// TILLER_BENCH_PG_URL or DATABASE_URL names a server where a scratch database may be created):
//   1. seed a published library and N transformations (creates/s while seeding, 8 in flight);
//   2. list throughput: GET /transformations with N transformations, median of rounds;
//   3. create + publish latency: a new transformation importing the library (publish=false),
//      then POST /transformations/libraries/publish of it (which tests it in the sandbox first),
//      one after the other; median and p90 of each step and of the pair.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { issueAccessToken } from '../../src/domain/access-tokens.js';
import { systemActor } from '../../src/domain/audit.js';
import { createWorkspace } from '../../src/domain/workspaces.js';
import { openStore } from '../../src/store/db.js';
import { autocannon, median, type AutocannonResult } from '../lib/load.js';
import { startBenchServer, type BenchServer } from '../lib/child-server.js';


const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '10' },
    transformations: { type: 'string', default: '1000' },
    iterations: { type: 'string', default: '100' },
  },
});
const DURATION = Number(flags.duration);
const WARMUP = Number(flags.warmup);
const ROUNDS = Number(flags.rounds);
const CONNECTIONS = Number(flags.connections);
const TRANSFORMATIONS = Number(flags.transformations);
const ITERATIONS = Number(flags.iterations);
const PEPPER = randomBytes(32).toString('base64url');
const PG_URL = process.env.TILLER_BENCH_PG_URL ?? process.env.DATABASE_URL;

const log = (line: string) => process.stderr.write(line + '\n');
const percentile = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
};

const libraryCode = 'export function normalize(event) {\n  event.event = String(event.event || "").toLowerCase().replace(/ /g, "_");\n  return event;\n}\n';
const transformationCode = (i: number) =>
  `import { normalize } from "benchHelpers";\n// transformation ${i}\nexport function transformEvent(event, metadata) {\n  if (event.type !== "track") return event;\n  event.properties = { ...event.properties, benchIndex: ${i} };\n  return normalize(event);\n}\n`;

function startServer(env: Record<string, string>): Promise<BenchServer> {
  return startBenchServer(join(root, 'bench', 'api', 'serve.ts'), { cwd: root, nodeArgs: process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [], env: { TILLER_PEPPER: PEPPER, ...env } });
}

async function scratchPostgres(adminUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `tiller_bench_api_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

async function call(url: string, token: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as unknown;
  if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

interface Figures {
  store: string;
  seedPerSecond: number;
  listRps: number;
  listP50: number;
  listP99: number;
  listMBps: number;
  createMs: number[];
  publishMs: number[];
  totalMs: number[];
}

async function benchStore(label: string, storeEnv: Record<string, string>, databaseUrl: string | undefined, dataDir: string): Promise<Figures> {
  const store = await openStore({ dataDir, databaseUrl });
  await store.migrate();
  const { workspace } = await createWorkspace(store, Buffer.from(PEPPER, 'utf8'), { name: 'bench', ownerEmail: 'bench@example.com' });
  const { token } = await issueAccessToken(store, Buffer.from(PEPPER, 'utf8'), workspace.id, systemActor, { name: 'bench', scopes: ['read', 'write'] });
  await store.close();

  const server = await startServer(storeEnv);
  try {
    const library = await call(server.url, token, 'POST', '/libraries?publish=true', { name: 'Bench Helpers', code: libraryCode });

    log(`${label}: seeding ${TRANSFORMATIONS} transformations over HTTP`);
    const seedStart = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < TRANSFORMATIONS) {
          const i = next++;
          await call(server.url, token, 'POST', '/transformations?publish=false', { name: `bench transformation ${i}`, description: 'seeded by bench/api', code: transformationCode(i) });
        }
      }),
    );
    const seedPerSecond = TRANSFORMATIONS / ((performance.now() - seedStart) / 1000);
    const listed = await call(server.url, token, 'GET', '/transformations');
    if (listed.transformations.length !== TRANSFORMATIONS) throw new Error(`expected ${TRANSFORMATIONS} transformations, listed ${listed.transformations.length}`);

    const list = async (duration: number) => {
      const result = await autocannon({ url: `${server.url}/transformations`, connections: CONNECTIONS, duration, headers: { authorization: `Bearer ${token}` } });
      if (result.non2xx > 0 || result.errors > 0) throw new Error(`GET /transformations: ${result.non2xx} non-2xx answers and ${result.errors} errors`);
      return result;
    };
    log(`${label}: list warm-up`);
    await list(WARMUP);
    const rounds: AutocannonResult[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      rounds.push(await list(DURATION));
      log(`${label}: list round ${round}: ${rounds.at(-1)!.requests.average.toFixed(1)} req/s (p99 ${rounds.at(-1)!.latency.p99} ms)`);
    }

    log(`${label}: ${ITERATIONS} x create + publish`);
    const createMs: number[] = [];
    const publishMs: number[] = [];
    const totalMs: number[] = [];
    for (let i = 0; i < ITERATIONS + 5; i++) {
      const started = performance.now();
      const created = await call(server.url, token, 'POST', '/transformations?publish=false', { name: `bench publish ${i}`, code: transformationCode(TRANSFORMATIONS + i) });
      const createdAt = performance.now();
      await call(server.url, token, 'POST', '/transformations/libraries/publish', {
        transformations: [{ versionId: created.versionId, testInput: [{ type: 'track', event: 'Order Completed', properties: { revenue: 10 } }] }],
        libraries: [{ versionId: library.versionId }],
      });
      const done = performance.now();
      // The first few warm the server's code paths and the database; they are not counted.
      if (i < 5) continue;
      createMs.push(createdAt - started);
      publishMs.push(done - createdAt);
      totalMs.push(done - started);
    }

    return {
      store: label,
      seedPerSecond,
      listRps: median(rounds.map((r) => r.requests.average)),
      listP50: median(rounds.map((r) => r.latency.p50)),
      listP99: median(rounds.map((r) => r.latency.p99)),
      listMBps: median(rounds.map((r) => r.throughput.average)) / 1e6,
      createMs,
      publishMs,
      totalMs,
    };
  } finally {
    await server.stop();
  }
}

async function main(): Promise<void> {
  log(`tiller API benchmark: ${TRANSFORMATIONS} transformations, list ${ROUNDS} x ${DURATION} s at ${CONNECTIONS} connections, ${ITERATIONS} x create + publish`);
  const results: Figures[] = [];

  const sqliteDir = mkdtempSync(join(tmpdir(), 'tiller-bench-api-'));
  try {
    results.push(await benchStore('sqlite', { TILLER_DATA_DIR: sqliteDir }, undefined, sqliteDir));
  } finally {
    rmSync(sqliteDir, { recursive: true, force: true });
  }

  if (PG_URL) {
    const database = await scratchPostgres(PG_URL);
    const pgDir = mkdtempSync(join(tmpdir(), 'tiller-bench-api-pg-'));
    try {
      results.push(await benchStore('postgres', { TILLER_DATA_DIR: pgDir, DATABASE_URL: database.url }, database.url, pgDir));
    } finally {
      await database.drop();
      rmSync(pgDir, { recursive: true, force: true });
    }
  } else {
    log('postgres: skipped (set TILLER_BENCH_PG_URL or DATABASE_URL to a server where a scratch database may be created)');
  }

  const ms = (x: number) => `${x.toFixed(1)} ms`;
  const rows: [string, ...string[]][] = [
    ['seed: POST /transformations (8 in flight)', ...results.map((r) => `${r.seedPerSecond.toFixed(0)} creates/s`)],
    [`GET /transformations (${TRANSFORMATIONS} items)`, ...results.map((r) => `${r.listRps.toFixed(1)} req/s`)],
    ['  latency p50 / p99', ...results.map((r) => `${r.listP50} / ${r.listP99} ms`)],
    ['  body throughput', ...results.map((r) => `${r.listMBps.toFixed(1)} MB/s`)],
    ['create (publish=false), median / p90', ...results.map((r) => `${ms(median(r.createMs))} / ${ms(percentile(r.createMs, 90))}`)],
    ['publish (tests first), median / p90', ...results.map((r) => `${ms(median(r.publishMs))} / ${ms(percentile(r.publishMs, 90))}`)],
    ['create + publish, median / p90', ...results.map((r) => `${ms(median(r.totalMs))} / ${ms(percentile(r.totalMs, 90))}`)],
  ];
  const width = Math.max(...rows.map((r) => r[0].length)) + 2;
  const column = 26;
  const lines = [
    '',
    `Tiller Transformations API benchmark (medians of ${ROUNDS} x ${DURATION} s list runs at ${CONNECTIONS} connections; ${ITERATIONS} sequential create + publish)`,
    '',
    ''.padEnd(width) + results.map((r) => r.store.padEnd(column)).join(''),
    ...rows.map(([name, ...cells]) => name.padEnd(width) + cells.map((c) => c.padEnd(column)).join('')),
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
