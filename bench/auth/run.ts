// Authentication benchmark: `npm run bench:auth`
//   options: --duration S (5) --warmup S (5) --rounds N (5) --connections N (32)
//            --dialect sqlite|postgres (sqlite) --small N (1000) --large N (100000) --rotating-set N (1000)
//            --profile DIR (each server writes a V8 CPU profile there on exit: node --cpu-prof)
//            --only TEXT (measure only the figures whose label contains TEXT, e.g. "cache on: /health",
//            and print their runs instead of the ratios: with --profile, one profile per kind of request)
//
// Servers run in child processes with the production flags (--no-node-snapshot, MALLOC_ARENA_MAX=2,
// LOG_LEVEL=warn); the load generator (autocannon) runs here, so they share no event loop.
// Everything is measured in one run and reported as ratios:
//   (a) authenticated GET /accessTokens/self over unauthenticated GET /health   (goal >= 0.85)
//   (b) GET /accessTokens/self with 1,000 vs 100,000 tokens in the store, with the credential cache
//       on and off (TILLER_TOKEN_CACHE_SIZE=0: a digest lookup per request)   (goal: within 10%)
// Four servers run side by side (small and large store, each with the cache on and off, each on its
// own copy of the store); every round runs each figure once, pairs that form a ratio next to each
// other, so they share the machine's moment. Figures are medians over the rounds; ratios are
// medians of per-round ratios. Requests rotate over a set of valid tokens drawn from the whole store.
// Server CPU per request (from /proc) is reported beside throughput: on a shared machine it moves
// less with other load than requests per second do.
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { newId } from '../../src/domain/ids.js';
import { digestSecret, generateSecret, secretHint } from '../../src/domain/secrets.js';
import { createWorkspace } from '../../src/domain/workspaces.js';
import { openStore, type Store } from '../../src/store/db.js';
import type { AccessTokensTable } from '../../src/store/schema.js';
import { autocannon, median, type AutocannonResult } from '../lib/load.js';
import { startBenchServer, type BenchServer } from '../lib/child-server.js';


const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '32' },
    dialect: { type: 'string', default: 'sqlite' },
    small: { type: 'string', default: '1000' },
    large: { type: 'string', default: '100000' },
    'rotating-set': { type: 'string', default: '1000' },
    profile: { type: 'string' },
    only: { type: 'string' },
  },
});
const DURATION = Number(flags.duration);
const WARMUP = Number(flags.warmup);
const ROUNDS = Number(flags.rounds);
const CONNECTIONS = Number(flags.connections);
const SMALL = Number(flags.small);
const LARGE = Number(flags.large);
const ROTATING = Number(flags['rotating-set']);
const PEPPER = randomBytes(32).toString('base64url');

const log = (line: string) => process.stderr.write(line + '\n');

/** Rows with real digests, written straight through Kysely (the API would take minutes). */
async function insertTokens(store: Store, workspaceId: string, memberId: string, count: number): Promise<string[]> {
  const secrets: string[] = [];
  const createdAt = new Date().toISOString();
  const batchSize = 500;
  for (let done = 0; done < count; done += batchSize) {
    const rows: AccessTokensTable[] = [];
    for (let i = done; i < Math.min(count, done + batchSize); i++) {
      const secret = generateSecret('access');
      secrets.push(secret);
      rows.push({
        id: newId(),
        workspace_id: workspaceId,
        member_id: memberId,
        name: `bench-${i}`,
        description: '',
        digest: digestSecret(Buffer.from(PEPPER, 'utf8'), secret),
        hint: secretHint(secret),
        scopes: 'read,write',
        allowed_ips: null,
        created_at: createdAt,
        expires_at: null,
        last_used_at: null,
        last_used_ip: null,
        grace_until: null,
        rotated_from: null,
        revoked_at: null,
      });
    }
    await store.db.transaction().execute((trx) => trx.insertInto('access_tokens').values(rows).execute());
  }
  return secrets;
}

function sample<T>(items: T[], n: number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy.slice(0, n);
}

function startServer(env: Record<string, string>): Promise<BenchServer> {
  const nodeArgs = flags.profile ? ['--cpu-prof', `--cpu-prof-dir=${flags.profile}`] : [];
  return startBenchServer(join(root, 'bench', 'auth', 'serve.ts'), { cwd: root, nodeArgs, env: { TILLER_PEPPER: PEPPER, ...env } });
}

/** CPU seconds (user + system) the process has used so far, from /proc; 0 where there is none. */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

interface Run {
  rps: number;
  /** Server CPU time per answered request, in microseconds: steadier than throughput on a busy machine. */
  cpuMicros: number;
  p99: number;
}

async function run(server: BenchServer, path: string, duration: number, tokens: string[]): Promise<Run> {
  const before = cpuSeconds(server.child.pid!);
  const result = await load(server.url, path, duration, tokens);
  const cpu = cpuSeconds(server.child.pid!) - before;
  return { rps: result.requests.average, cpuMicros: (cpu * 1e6) / result.requests.total, p99: result.latency.p99 };
}

async function load(url: string, path: string, duration: number, tokens: string[]): Promise<AutocannonResult> {
  let next = 0;
  const result = await autocannon({
    url: url + path,
    connections: CONNECTIONS,
    duration,
    requests: [
      {
        method: 'GET',
        path,
        // A different valid token on every request, round-robin over the set. /health gets the same
        // header (and ignores it), so the load generator does the same work for both.
        setupRequest: (request: { headers?: Record<string, string> }) => ({ ...request, headers: { ...request.headers, authorization: `Bearer ${tokens[next++ % tokens.length]}` } }),
      },
    ],
  });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${path}: ${result.non2xx} non-2xx answers and ${result.errors} errors`);
  return result;
}

interface Target {
  label: string;
  server: BenchServer;
  path: '/health' | '/accessTokens/self';
  tokens: string[];
  runs: Run[];
}

/**
 * Warm-up, then ROUNDS rounds in which every target runs once, in an order reversed every other
 * round: all figures see the same machine at nearly the same time, so drift cancels out of ratios.
 */
async function measureInterleaved(targets: Target[]): Promise<void> {
  for (const target of targets) {
    log(`warming up: ${target.label}`);
    await load(target.server.url, target.path, WARMUP, target.tokens);
  }
  const show = (r: Run) => `${r.rps.toFixed(0).padStart(6)} req/s  ${r.cpuMicros.toFixed(0).padStart(4)} µs CPU/req  p99 ${r.p99} ms`;
  for (let round = 1; round <= ROUNDS; round++) {
    const order = round % 2 === 1 ? targets : [...targets].reverse();
    for (const target of order) {
      const result = await run(target.server, target.path, DURATION, target.tokens);
      target.runs.push(result);
      log(`round ${round}: ${target.label.padEnd(40)} ${show(result)}`);
    }
  }
}

/** A fresh PostgreSQL database, empty or a copy of `template` (which must have no connections). */
async function createPostgresDatabase(template?: string): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const adminUrl = process.env.TILLER_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `tiller_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ''}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

/** A store with `count` tokens of one workspace; answers the secrets. */
async function seedStore(dataDir: string, databaseUrl: string | undefined, count: number): Promise<string[]> {
  const store = await openStore({ dataDir, databaseUrl });
  try {
    await store.migrate();
    const { workspace } = await createWorkspace(store, Buffer.from(PEPPER, 'utf8'), { name: 'bench', ownerEmail: 'bench@example.com' });
    const member = await store.db.selectFrom('members').select('id').where('workspace_id', '=', workspace.id).executeTakeFirstOrThrow();
    return await insertTokens(store, workspace.id, member.id, count);
  } finally {
    await store.close();
  }
}

async function main(): Promise<void> {
  const dirs: string[] = [];
  const databases: { url: string; drop(): Promise<void> }[] = [];
  const servers: BenchServer[] = [];
  try {
    log(`tiller auth benchmark: ${flags.dialect}, ${CONNECTIONS} connections, ${WARMUP} s warm-up, ${ROUNDS} rounds x ${DURATION} s, rotating over ${ROTATING} tokens`);
    // Four stores side by side (small and large, each for a server with the cache on and one with
    // it off), so every figure is measured in the same rounds and no server's writes (last use)
    // disturb another's page cache. The cache-off copy is a file or template copy of the seeded store.
    const targets: Target[] = [];
    for (const size of [SMALL, LARGE]) {
      const onDir = mkdtempSync(join(tmpdir(), 'tiller-bench-auth-'));
      const offDir = mkdtempSync(join(tmpdir(), 'tiller-bench-auth-'));
      dirs.push(onDir, offDir);
      const onDatabase = flags.dialect === 'postgres' ? await createPostgresDatabase() : undefined;
      if (onDatabase) databases.push(onDatabase);
      log(`seeding a store with ${size} tokens`);
      const tokens = sample(await seedStore(onDir, onDatabase?.url, size), ROTATING);
      const offDatabase = onDatabase ? await createPostgresDatabase(onDatabase.name) : undefined;
      if (offDatabase) databases.push(offDatabase);
      else cpSync(onDir, offDir, { recursive: true });

      const cached = await startServer({ TILLER_DATA_DIR: onDir, ...(onDatabase ? { DATABASE_URL: onDatabase.url } : {}) });
      servers.push(cached);
      const uncached = await startServer({ TILLER_DATA_DIR: offDir, ...(offDatabase ? { DATABASE_URL: offDatabase.url } : {}), TILLER_TOKEN_CACHE_SIZE: '0' });
      servers.push(uncached);
      targets.push(
        { label: `${size} tokens, cache on: /health`, server: cached, path: '/health', tokens, runs: [] },
        { label: `${size} tokens, cache on: /accessTokens/self`, server: cached, path: '/accessTokens/self', tokens, runs: [] },
        { label: `${size} tokens, cache off: /accessTokens/self`, server: uncached, path: '/accessTokens/self', tokens, runs: [] },
      );
    }
    // Pairs that form a ratio run next to each other, in either direction of a round.
    const order = [`${SMALL} tokens, cache on: /health`, `${SMALL} tokens, cache on: /accessTokens/self`, `${LARGE} tokens, cache on: /accessTokens/self`, `${LARGE} tokens, cache on: /health`, `${SMALL} tokens, cache off: /accessTokens/self`, `${LARGE} tokens, cache off: /accessTokens/self`];
    targets.sort((x, y) => order.indexOf(x.label) - order.indexOf(y.label));
    if (flags.only !== undefined) {
      await measureInterleaved(targets.filter((t) => t.label.includes(flags.only!)));
      return;
    }
    await measureInterleaved(targets);

    const find = (size: number, label: string) => targets.find((t) => t.label === `${size} tokens, ${label}`)!.runs;
    const smallOn = { health: find(SMALL, 'cache on: /health'), self: find(SMALL, 'cache on: /accessTokens/self') };
    const smallOff = { self: find(SMALL, 'cache off: /accessTokens/self') };
    const largeOn = { health: find(LARGE, 'cache on: /health'), self: find(LARGE, 'cache on: /accessTokens/self') };
    const largeOff = { self: find(LARGE, 'cache off: /accessTokens/self') };
    const rps = (runs: Run[]) => median(runs.map((r) => r.rps));
    const cpu = (runs: Run[]) => median(runs.map((r) => r.cpuMicros));
    const p99 = (runs: Run[]) => median(runs.map((r) => r.p99));
    const rows: [string, string, string][] = [
      ['GET /health, no auth', `${rps(smallOn.health).toFixed(0)} req/s`, `${rps(largeOn.health).toFixed(0)} req/s`],
      ['GET /accessTokens/self, cache on', `${rps(smallOn.self).toFixed(0)} req/s`, `${rps(largeOn.self).toFixed(0)} req/s`],
      ['GET /accessTokens/self, cache off', `${rps(smallOff.self).toFixed(0)} req/s`, `${rps(largeOff.self).toFixed(0)} req/s`],
      ['server CPU/req /health', `${cpu(smallOn.health).toFixed(0)} µs`, `${cpu(largeOn.health).toFixed(0)} µs`],
      ['server CPU/req self, cache on', `${cpu(smallOn.self).toFixed(0)} µs`, `${cpu(largeOn.self).toFixed(0)} µs`],
      ['server CPU/req self, cache off', `${cpu(smallOff.self).toFixed(0)} µs`, `${cpu(largeOff.self).toFixed(0)} µs`],
      ['p99 latency self, cache on', `${p99(smallOn.self)} ms`, `${p99(largeOn.self)} ms`],
      ['p99 latency self, cache off', `${p99(smallOff.self)} ms`, `${p99(largeOff.self)} ms`],
    ];
    const ratio = (label: string, value: number, goal: string, ok: boolean) => `  ${label.padEnd(56)}${value.toFixed(3).padStart(7)}   ${goal}: ${ok ? 'meets goal' : 'MISSES GOAL'}`;
    const flat = (v: number) => v >= 0.9 && v <= 1.1;
    // Ratios are taken per round, between runs made next to each other, then the median of those.
    const perRound = (numerator: Run[], denominator: Run[], pick: (r: Run) => number) => median(numerator.map((r, i) => pick(r) / pick(denominator[i]!)));
    const aSmall = perRound(smallOn.self, smallOn.health, (r) => r.rps);
    const aLarge = perRound(largeOn.self, largeOn.health, (r) => r.rps);
    const bOn = perRound(largeOn.self, smallOn.self, (r) => r.rps);
    const bOff = perRound(largeOff.self, smallOff.self, (r) => r.rps);
    const cpuA = perRound(smallOn.health, smallOn.self, (r) => r.cpuMicros);
    const cpuBOn = perRound(smallOn.self, largeOn.self, (r) => r.cpuMicros);
    const cpuBOff = perRound(smallOff.self, largeOff.self, (r) => r.cpuMicros);
    const width = 36;
    const out = [
      '',
      `Tiller auth benchmark (${flags.dialect}; medians of ${ROUNDS} interleaved runs of ${DURATION} s after ${WARMUP} s warm-up, ${CONNECTIONS} connections, ${ROTATING} rotating tokens)`,
      '',
      `${'figure'.padEnd(width)}${`${SMALL} tokens`.padStart(18)}${`${LARGE} tokens`.padStart(18)}`,
      ...rows.map(([label, a, b]) => `${label.padEnd(width)}${a.padStart(18)}${b.padStart(18)}`),
      '',
      'ratios (throughput; per-round ratios of adjacent runs, median)',
      ratio(`(a) self / health, ${SMALL} tokens, cache on`, aSmall, 'goal >= 0.85', aSmall >= 0.85),
      ratio(`(a) self / health, ${LARGE} tokens, cache on`, aLarge, 'goal >= 0.85', aLarge >= 0.85),
      ratio(`(b) ${LARGE} / ${SMALL} tokens, cache on`, bOn, 'goal 0.90-1.10', flat(bOn)),
      ratio(`(b) ${LARGE} / ${SMALL} tokens, cache off`, bOff, 'goal 0.90-1.10', flat(bOff)),
      'ratios (server CPU per request, the same questions asked of the server alone)',
      ratio(`(a) health / self CPU, ${SMALL} tokens, cache on`, cpuA, 'goal >= 0.85', cpuA >= 0.85),
      ratio(`(b) ${SMALL} / ${LARGE} tokens CPU, cache on`, cpuBOn, 'goal 0.90-1.10', flat(cpuBOn)),
      ratio(`(b) ${SMALL} / ${LARGE} tokens CPU, cache off`, cpuBOff, 'goal 0.90-1.10', flat(cpuBOff)),
      '',
    ];
    process.stdout.write(out.join('\n') + '\n');
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
    for (const database of databases) await database.drop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
