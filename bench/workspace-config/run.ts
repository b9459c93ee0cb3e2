// Control-plane benchmark: `npm run bench:workspace-config` (options: --duration S --warmup S
// --rounds N --connections N --sources N --destinations N).
//
// A fleet of rudder-servers polls GET /workspaceConfig?fetchAll=true every 5 s each; Tiller serves
// the answer from memory with an ETag. This measures, on one server in a child process (production
// flags), for a workspace with 100 sources and 300 destinations (30 of them connected to published
// transformations, with credentials): polls per second answering the whole configuration (200),
// polls per second with a matching If-None-Match (304), and GET /health on the same server, each
// round running the three back to back so they share the machine's moment. Reported as ratios
// to /health, medians of per-round ratios, with the answer's size.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { issueAccessToken } from '../../src/domain/access-tokens.js';
import { systemActor } from '../../src/domain/audit.js';
import { createWorkspace } from '../../src/domain/workspaces.js';
import { openStore } from '../../src/store/db.js';
import { autocannon, median, type AutocannonResult } from '../lib/load.js';
import { startBenchServer } from '../lib/child-server.js';


const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '16' },
    sources: { type: 'string', default: '100' },
    destinations: { type: 'string', default: '300' },
  },
});
const DURATION = Number(flags.duration);
const WARMUP = Number(flags.warmup);
const ROUNDS = Number(flags.rounds);
const CONNECTIONS = Number(flags.connections);
const SOURCES = Number(flags.sources);
const DESTINATIONS = Number(flags.destinations);
const CONNECTED = Math.min(30, DESTINATIONS);
const PEPPER = randomBytes(32).toString('base64url');

const log = (line: string) => process.stderr.write(line + '\n');

/** A file-mode ConfigT of the given size, destinations spread evenly over the sources. */
function configOf(sources: number, destinations: number): Record<string, unknown> {
  return {
    workspaceId: 'bench-workspace',
    sources: Array.from({ length: sources }, (_, s) => ({
      id: `src-${s}`,
      name: `Source ${s}`,
      writeKey: `write-key-${s}-${randomBytes(8).toString('hex')}`,
      enabled: true,
      config: {},
      sourceDefinition: { id: 'def-js', name: 'Javascript', displayName: 'JavaScript', category: null },
      destinations: Array.from({ length: destinations / sources }, (_, d) => {
        const n = s * (destinations / sources) + d;
        return {
          id: `dst-${n}`,
          name: `Destination ${n}`,
          enabled: true,
          isProcessorEnabled: true,
          config: { webhookUrl: `https://hooks.example.com/${n}`, apiKey: randomBytes(12).toString('hex') },
          destinationDefinition: { id: 'def-webhook', name: 'WEBHOOK', displayName: 'Webhook', config: {} },
          transformations: [],
        };
      }),
    })),
  };
}

async function call(url: string, authorization: string, method: string, path: string, body?: unknown): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(url + path, { method, headers: { authorization, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  return { status: res.status, headers: res.headers, text };
}

async function load(url: string, path: string, headers: Record<string, string>, duration: number): Promise<AutocannonResult> {
  return autocannon({ url: url + path, connections: CONNECTIONS, duration, headers });
}

const dataDir = mkdtempSync(join(tmpdir(), 'tiller-bench-config-'));
try {
  const store = await openStore({ dataDir, databaseUrl: undefined });
  await store.migrate();
  const { workspace, workspaceToken } = await createWorkspace(store, Buffer.from(PEPPER, 'utf8'), { name: 'bench', ownerEmail: 'bench@example.com' });
  const { token } = await issueAccessToken(store, Buffer.from(PEPPER, 'utf8'), workspace.id, systemActor, { name: 'bench', scopes: ['read', 'write'] });
  await store.close();
  const workspaceAuth = `Basic ${Buffer.from(`${workspaceToken}:`).toString('base64')}`;
  const accessAuth = `Bearer ${token}`;

  const server = await startBenchServer(join(root, 'bench', 'api', 'serve.ts'), { cwd: root, env: { TILLER_PEPPER: PEPPER, TILLER_DATA_DIR: dataDir } });
  try {
    await call(server.url, workspaceAuth, 'PUT', '/workspaceConfig/base', configOf(SOURCES, DESTINATIONS));
    for (let i = 0; i < CONNECTED; i++) {
      await call(server.url, accessAuth, 'POST', '/transformations?publish=true', {
        name: `bench transformation ${i}`,
        code: `export function transformEvent(event) {\n  event.bench = ${i};\n  return event;\n}\n`,
        destinationIds: [`dst-${i * Math.floor(DESTINATIONS / CONNECTED)}`],
      });
    }
    for (let i = 0; i < 20; i++) await call(server.url, accessAuth, 'POST', '/credentials', { key: `KEY_${i}`, value: randomBytes(16).toString('hex'), isSecret: i % 2 === 0 });

    const poll = '/workspaceConfig?fetchAll=true';
    const first = await call(server.url, workspaceAuth, 'GET', poll);
    const etag = first.headers.get('etag');
    if (!etag) throw new Error('GET /workspaceConfig answered without an ETag');
    const answer = JSON.parse(first.text) as { sources: Array<{ destinations: Array<{ transformations: unknown[] }> }> };
    const connected = answer.sources.flatMap((s) => s.destinations).filter((d) => d.transformations.length > 0).length;
    log(`workspace: ${SOURCES} sources, ${DESTINATIONS} destinations (${connected} connected), answer ${(first.text.length / 1024).toFixed(0)} KiB`);

    const figures = { full: [] as number[], notModified: [] as number[], health: [] as number[], fullRatio: [] as number[], notModifiedRatio: [] as number[] };
    const checks = { non2xx: 0, errors: 0 };
    await load(server.url, poll, { authorization: workspaceAuth }, WARMUP);
    for (let round = 0; round < ROUNDS; round++) {
      const health = await load(server.url, '/health', {}, DURATION);
      const full = await load(server.url, poll, { authorization: workspaceAuth }, DURATION);
      const notModified = await load(server.url, poll, { authorization: workspaceAuth, 'if-none-match': etag }, DURATION);
      // A 304 is what the poll should answer; autocannon counts it outside 2xx.
      checks.non2xx += health.non2xx + full.non2xx;
      checks.errors += health.errors + full.errors + notModified.errors;
      figures.health.push(health.requests.average);
      figures.full.push(full.requests.average);
      figures.notModified.push(notModified.requests.average);
      figures.fullRatio.push(full.requests.average / health.requests.average);
      figures.notModifiedRatio.push(notModified.requests.average / health.requests.average);
      log(`round ${round + 1}: /health ${health.requests.average.toFixed(0)}/s, poll 200 ${full.requests.average.toFixed(0)}/s, poll 304 ${notModified.requests.average.toFixed(0)}/s`);
    }
    const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
    console.log(`\n/workspaceConfig polls, ${SOURCES} sources and ${DESTINATIONS} destinations, ${CONNECTIONS} connections, median of ${ROUNDS} rounds of ${DURATION} s`);
    console.log('| request | requests/s | ratio to GET /health (median of rounds) |');
    console.log('|---|---:|---:|');
    console.log(`| GET /health | ${fmt(median(figures.health))} | 1.00 |`);
    console.log(`| GET /workspaceConfig?fetchAll=true (200, ${(first.text.length / 1024).toFixed(0)} KiB) | ${fmt(median(figures.full))} | ${median(figures.fullRatio).toFixed(2)} |`);
    console.log(`| GET /workspaceConfig?fetchAll=true with If-None-Match (304) | ${fmt(median(figures.notModified))} | ${median(figures.notModifiedRatio).toFixed(2)} |`);
    console.log(`(failed requests: ${checks.errors}, unexpected non-2xx: ${checks.non2xx}; a fleet of N rudder-servers polling every 5 s makes N/5 polls per second)`);
  } finally {
    await server.stop();
  }
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
