// The benchmark's server process: Tiller's runtime listener built exactly as `tiller serve` builds
// it (config from the environment, createServices, buildApp with surface 'runtime'), plus the
// bench-only native route. Started by bench/runtime/run.ts with --no-node-snapshot and
// MALLOC_ARENA_MAX=2; it reports its address and version ids over IPC and serves until killed.
// A second workspace holds the attack part's crashing versions, so their crashes and quarantines
// are another tenant's, as in production.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createLibrary, createTransformation } from '../../test/helpers/fixtures.js';
import { nativeBenchRoutes } from './native.js';
import { bombCode, scenarios } from './scenarios.js';

export interface BenchServerInfo {
  url: string;
  /** The same listener over the same services and sandbox hosts, with per-transformation stats off. */
  statsOffUrl: string;
  /** The published version of a trivial transformation with a 10 % canary (of the same code) running. */
  canaryStableVersion: string;
  /** The published version of a trivial transformation with 10 % of its batches shadowed (the same code). */
  shadowStableVersion: string;
  /** GET /metrics without credentials (the runtime listener does not serve it). */
  metricsUrl: string;
  pid: number;
  /** Version id per scenario key. */
  scenarioVersions: Record<string, string>;
  /** Library version id per scenario key (scenarios without a library are absent). */
  scenarioLibraries: Record<string, string>;
  /** Versions never requested before the first-request latency measurement. */
  coldVersions: string[];
  /** Distinct versions for the memory measurement. */
  cycleVersions: string[];
  /** Versions of the second (attacker) workspace whose code crashes its sandbox host; each is run once. */
  attackVersions: string[];
  /** Python (pythonfaas) versions: the trivial one the throughput row runs, one for a fresh server's very first Python request, and versions never requested before the new-version latency measurement. */
  python: { trivialVersion: string; firstVersion: string; coldVersions: string[] };
}

const coldCount = Number(process.env.BENCH_COLD_VERSIONS ?? 30);
const cycleCount = Number(process.env.BENCH_CYCLE_VERSIONS ?? 500);
// run.ts asks for as many as its settings use; a crashing version is quarantined after one run.
const attackCount = Number(process.env.BENCH_ATTACK_VERSIONS ?? 60);

// Tiller as `npm start` runs it: the compiled server, whose pool starts compiled sandbox hosts
// (run.ts builds dist/ first). BENCH_SOURCE=1 runs the TypeScript sources through tsx instead,
// whose hosts also load through tsx (about 26 MB and a slower start each).
const fromSource = process.env.BENCH_SOURCE === '1';
const tiller = async <T>(module: string): Promise<T> =>
  (await import(fromSource ? `../../src/${module}.js` : pathToFileURL(join(import.meta.dirname, '..', '..', 'dist', 'server', `${module}.js`)).href)) as T;
const { loadConfig } = await tiller<typeof import('../../src/config.js')>('config');
const { createWorkspace } = await tiller<typeof import('../../src/domain/workspaces.js')>('domain/workspaces');
const { buildApp } = await tiller<typeof import('../../src/http/app.js')>('http/app');
const { createLogger } = await tiller<typeof import('../../src/main.js')>('main');
const { createServices } = await tiller<typeof import('../../src/services.js')>('services');
const { startCanary } = await tiller<typeof import('../../src/domain/release/canary.js')>('domain/release/canary');
const { startShadow } = await tiller<typeof import('../../src/domain/release/shadow.js')>('domain/release/shadow');
const { systemActor } = await tiller<typeof import('../../src/domain/audit.js')>('domain/audit');

const dataDir = mkdtempSync(join(tmpdir(), 'tiller-bench-'));
const config = loadConfig({
  ...process.env,
  PORT: '0',
  HOST: '127.0.0.1',
  TILLER_DATA_DIR: dataDir,
  TILLER_PEPPER: 'bench-pepper-0123456789abcdef0123456789abcdef',
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  DATABASE_URL: process.env.BENCH_DATABASE_URL ?? '',
});
const logger = createLogger(config);
const services = await createServices(config, logger);
const { workspace } = await createWorkspace(services.store, config.pepper, { name: 'bench', ownerEmail: 'bench@example.com' });
const db = services.store.db;

const scenarioVersions: Record<string, string> = {};
const scenarioLibraries: Record<string, string> = {};
for (const scenario of scenarios) {
  if (scenario.library) {
    scenarioLibraries[scenario.key] = (await createLibrary(db, { workspaceId: workspace.id, name: scenario.library.name, importName: scenario.library.importName, code: scenario.library.code })).versionId;
  }
  scenarioVersions[scenario.key] = (await createTransformation(db, { workspaceId: workspace.id, code: scenario.code, name: scenario.title })).versionId;
}
// A trivial transformation whose second version (the same code) runs as a 10 % canary.
const trivialCode = scenarios.find((s) => s.key === 'trivial')!.code;
const canaried = await createTransformation(db, { workspaceId: workspace.id, code: trivialCode, name: 'canaried trivial' });
const canaryVersion = `${canaried.versionId.slice(0, 20)}canary2`;
await db
  .insertInto('transformation_versions')
  .values({ id: canaryVersion, transformation_id: canaried.id, workspace_id: workspace.id, seq: 2, name: 'canaried trivial', description: '', code: `${trivialCode}\n`, code_version: '1', language: 'javascript', imports: '[]', created_at: new Date().toISOString(), created_by: null })
  .execute();
await startCanary(services.store, workspace.id, systemActor, canaried.id, { versionId: canaryVersion, percent: 10, guards: { minEvents: 1_000_000_000 } });
await services.canaries.reload();
// And one whose second version (the same code) shadows 10 % of its batches.
const shadowed = await createTransformation(db, { workspaceId: workspace.id, code: trivialCode, name: 'shadowed trivial' });
const shadowVersion = `${shadowed.versionId.slice(0, 20)}shadow2`;
await db
  .insertInto('transformation_versions')
  .values({ id: shadowVersion, transformation_id: shadowed.id, workspace_id: workspace.id, seq: 2, name: 'shadowed trivial', description: '', code: `${trivialCode}\n`, code_version: '1', language: 'javascript', imports: '[]', created_at: new Date().toISOString(), created_by: null })
  .execute();
await startShadow(services.store, workspace.id, systemActor, shadowed.id, { versionId: shadowVersion, percent: 10 });
await services.shadows.reload();
// Distinct code per version, so no layer can share compiled code between them.
const distinct = (kind: string, i: number) => `export function transformEvent(event) { event.properties.${kind} = ${i}; return event; }`;
const coldVersions: string[] = [];
for (let i = 0; i < coldCount; i++) coldVersions.push((await createTransformation(db, { workspaceId: workspace.id, code: distinct('cold', i) })).versionId);
const cycleVersions: string[] = [];
for (let i = 0; i < cycleCount; i++) cycleVersions.push((await createTransformation(db, { workspaceId: workspace.id, code: distinct('cycle', i) })).versionId);

// Python: the trivial transformEvent, one version for the very first Python request, and distinct new versions.
const pythonCode = (extra: string) => `def transformEvent(event, metadata):\n    event['properties']['enriched'] = True\n${extra}    return event\n`;
const pythonColdCount = Number(process.env.BENCH_PYTHON_COLD_VERSIONS ?? 5);
const python = {
  trivialVersion: (await createTransformation(db, { workspaceId: workspace.id, code: pythonCode(''), name: 'python trivial', language: 'pythonfaas', imports: [] })).versionId,
  firstVersion: (await createTransformation(db, { workspaceId: workspace.id, code: pythonCode("    event['properties']['first'] = 1\n"), name: 'python first', language: 'pythonfaas', imports: [] })).versionId,
  coldVersions: [] as string[],
};
for (let i = 0; i < pythonColdCount; i++) {
  python.coldVersions.push((await createTransformation(db, { workspaceId: workspace.id, code: pythonCode(`    event['properties']['cold'] = ${i}\n`), name: `python cold ${i}`, language: 'pythonfaas', imports: [] })).versionId);
}

const { workspace: attacker } = await createWorkspace(services.store, config.pepper, { name: 'bench-attacker', ownerEmail: 'attacker@example.com' });
const attackVersions: string[] = [];
for (let i = 0; i < attackCount; i++) attackVersions.push((await createTransformation(db, { workspaceId: attacker.id, code: bombCode(i), name: `bomb ${i}` })).versionId);

const app = await buildApp({ services, logger, surface: 'runtime' });
await app.register(nativeBenchRoutes);
const url = await app.listen({ port: 0, host: '127.0.0.1' });
const metricsUrl = await (await buildApp({ services, logger, surface: 'metrics' })).listen({ port: 0, host: '127.0.0.1' });
// What /customTransform costs without the stats rollups (TILLER_STATS=false), side by side with it.
const statsOffApp = await buildApp({ services: { ...services, liveStats: undefined }, logger, surface: 'runtime' });
const statsOffUrl = await statsOffApp.listen({ port: 0, host: '127.0.0.1' });

const info: BenchServerInfo = { url, statsOffUrl, canaryStableVersion: canaried.versionId, shadowStableVersion: shadowed.versionId, metricsUrl, pid: process.pid, scenarioVersions, scenarioLibraries, coldVersions, cycleVersions, attackVersions, python };
process.send?.({ ready: info });

// The parent asks for a memory breakdown (V8 heap vs the rest) and the runtime's state.
// With --expose-gc (BENCH_EXPOSE_GC=1) it collects first, which tells retained memory from garbage.
process.on('message', (message: { memory?: boolean; gc?: boolean }) => {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (message.gc && collect) collect();
  if (message.memory) process.send?.({ memory: { ...process.memoryUsage(), runtime: services.runtime.stats() } });
});

const shutdown = async () => {
  await app.close();
  await statsOffApp.close();
  await services.close();
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown());
process.on('disconnect', () => void shutdown());
