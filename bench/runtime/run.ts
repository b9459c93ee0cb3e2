// Runtime serving benchmark: events/s through POST /customTransform divided by events/s of the
// native path (the same server process parsing the same body, running the same function without a
// sandbox, and serializing the same answer shape), for four transformations at 1, 4 and 16 requests
// in flight. Also: the extra latency of the first request to a new version, and the server's RSS
// while cycling through many distinct versions.
//
//   npm run bench:runtime
//
// Settings (environment): BENCH_SECONDS (measured seconds per run, default 5), BENCH_WARMUP (default
// 1), BENCH_REPS (default 3; the median is reported), BENCH_CONCURRENCY (default 1,4,16),
// BENCH_SCENARIOS (default trivial,library,batch,drop), BENCH_PARTS (default throughput,first,rss),
// BENCH_COLD_VERSIONS (30), BENCH_CYCLE_VERSIONS (500), BENCH_PROFILE=1 (the server writes a CPU
// profile to bench/runtime/profiles/ on exit). TILLER_* settings pass through to the server.
//
// The server runs in a child process started with --no-node-snapshot and MALLOC_ARENA_MAX=2; the
// load generator (autocannon) runs in this process, on the same machine.

import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { wireEvent } from '../../test/helpers/fixtures.js';
import { scenarios } from './scenarios.js';
import type { BenchServerInfo } from './server.js';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

// autocannon ships no types; this is the part of its API the benchmark uses.
interface LoadResult {
  requests: { total: number };
  latency: { p50: number; p99: number };
  duration: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}
const autocannon = require('autocannon') as (options: Record<string, unknown>) => Promise<LoadResult>;

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 1);
const REPS = Number(process.env.BENCH_REPS ?? 3);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,4,16').split(',').map(Number);
const SCENARIOS = (process.env.BENCH_SCENARIOS ?? scenarios.map((s) => s.key).join(',')).split(',');
const PARTS = new Set((process.env.BENCH_PARTS ?? 'throughput,first,rss').split(','));
const BATCH = 200;
const TARGET_RATIO = 0.6;

// ---------------------------------------------------------------- the server process

async function startServer(): Promise<{ child: ChildProcess; info: BenchServerInfo }> {
  const execArgv = ['--no-node-snapshot', '--import', require.resolve('tsx/esm')];
  if (process.env.BENCH_PROFILE === '1') execArgv.push('--cpu-prof', `--cpu-prof-dir=${join(here, 'profiles')}`);
  const child = fork(join(here, 'server.ts'), [], {
    execArgv,
    env: { ...process.env, MALLOC_ARENA_MAX: '2' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const info = await new Promise<BenchServerInfo>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code} before it was ready`)));
    child.on('message', (message: { ready?: BenchServerInfo }) => message.ready && resolve(message.ready));
  });
  return { child, info };
}

async function stopServer(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** Resident memory of the server process, from the kernel (MB). */
function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

/** Where the server's memory is: its own V8 heap, external buffers, the isolates' heaps, and RSS. */
async function memoryBreakdown(child: ChildProcess): Promise<string> {
  const memory = await new Promise<NodeJS.MemoryUsage & { runtime: { isolates: number; heapUsedBytes: number } }>((resolve) => {
    const onMessage = (message: { memory?: NodeJS.MemoryUsage & { runtime: { isolates: number; heapUsedBytes: number } } }) => {
      if (!message.memory) return;
      child.off('message', onMessage);
      resolve(message.memory);
    };
    child.on('message', onMessage);
    child.send({ memory: true });
  });
  const mb = (bytes: number) => fmt(bytes / 1024 / 1024);
  return `RSS ${mb(memory.rss)} MB = main V8 heap ${mb(memory.heapTotal)} MB (used ${mb(memory.heapUsed)}) + external ${mb(memory.external)} MB + ${memory.runtime.isolates} isolates (heaps used ${mb(memory.runtime.heapUsedBytes)} MB) + the rest (native)`;
}

// ---------------------------------------------------------------- load

function batchBody(versionId: string, libraryVersionId?: string): string {
  const entries = Array.from({ length: BATCH }, (_, n) => wireEvent(n, { versionId, ...(libraryVersionId ? { libraries: [libraryVersionId] } : {}) }));
  return JSON.stringify(entries);
}

interface Measurement {
  eventsPerSecond: number;
  p50: number;
  p99: number;
  /** Server CPU per 1,000 events: its main thread, and all its threads (isolate threads included). */
  mainCpuMs: number;
  totalCpuMs: number;
}

/** CPU time (ms) the kernel accounts to one thread of the server, or to the whole process. */
function cpuMs(pid: number, thread?: number): number {
  const stat = readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8');
  // Fields after the parenthesized command name; utime and stime are the 12th and 13th of them.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

let serverPid = 0;

async function load(url: string, body: string, connections: number, seconds: number): Promise<Measurement> {
  const mainBefore = cpuMs(serverPid, serverPid);
  const totalBefore = cpuMs(serverPid);
  const result = await autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections,
    pipelining: 1,
    duration: seconds,
  });
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx answers, ${result.errors} errors, ${result.timeouts} timeouts`);
  }
  const thousands = (result.requests.total * BATCH) / 1000;
  return {
    eventsPerSecond: (result.requests.total * BATCH) / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    mainCpuMs: (cpuMs(serverPid, serverPid) - mainBefore) / thousands,
    totalCpuMs: (cpuMs(serverPid) - totalBefore) / thousands,
  };
}

async function post(url: string, body: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: res.status, text: await res.text() };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const fmt = (value: number, digits = 0): string => value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

// ---------------------------------------------------------------- parts

interface Row {
  scenario: string;
  concurrency: number;
  tiller: Measurement;
  native: Measurement;
  /** Median of the per-repetition ratios. */
  ratio: number;
  ratios: number[];
}

async function throughput(info: BenchServerInfo, rssPeak: { value: number }): Promise<Row[]> {
  const rows: Row[] = [];
  for (const scenario of scenarios.filter((s) => SCENARIOS.includes(s.key))) {
    const body = batchBody(info.scenarioVersions[scenario.key]!, info.scenarioLibraries[scenario.key]);
    const tillerUrl = `${info.url}/customTransform`;
    const nativeUrl = `${info.url}/bench/native/${scenario.key}`;

    // Both paths must answer the same thing, or the ratio means nothing.
    const [tillerAnswer, nativeAnswer] = [await post(tillerUrl, body), await post(nativeUrl, body)];
    if (tillerAnswer.status !== 200 || nativeAnswer.status !== 200 || !isDeepStrictEqual(JSON.parse(tillerAnswer.text), JSON.parse(nativeAnswer.text))) {
      throw new Error(`${scenario.title}: /customTransform and the native path answer differently (${tillerAnswer.status}, ${nativeAnswer.status}): ${tillerAnswer.text.slice(0, 300)}`);
    }

    for (const connections of CONCURRENCY) {
      const tillerRuns: Measurement[] = [];
      const nativeRuns: Measurement[] = [];
      const ratios: number[] = [];
      for (let rep = 0; rep < REPS; rep++) {
        // Each repetition runs the two paths back to back and yields one ratio, so load from
        // elsewhere on the machine that drifts between repetitions affects both sides of it alike.
        if (WARMUP > 0) await load(tillerUrl, body, connections, WARMUP);
        const tiller = await load(tillerUrl, body, connections, SECONDS);
        if (WARMUP > 0) await load(nativeUrl, body, connections, WARMUP);
        const native = await load(nativeUrl, body, connections, SECONDS);
        tillerRuns.push(tiller);
        nativeRuns.push(native);
        ratios.push(tiller.eventsPerSecond / native.eventsPerSecond);
        rssPeak.value = Math.max(rssPeak.value, rssMb(info.pid));
      }
      const pick = (runs: Measurement[]): Measurement => ({
        eventsPerSecond: median(runs.map((r) => r.eventsPerSecond)),
        p50: median(runs.map((r) => r.p50)),
        p99: median(runs.map((r) => r.p99)),
        mainCpuMs: median(runs.map((r) => r.mainCpuMs)),
        totalCpuMs: median(runs.map((r) => r.totalCpuMs)),
      });
      const row: Row = { scenario: scenario.title, concurrency: connections, tiller: pick(tillerRuns), native: pick(nativeRuns), ratio: median(ratios), ratios };
      rows.push(row);
      process.stdout.write(
        `  ${row.scenario.padEnd(26)} c=${String(connections).padEnd(3)} tiller ${fmt(row.tiller.eventsPerSecond).padStart(8)} ev/s  native ${fmt(row.native.eventsPerSecond).padStart(8)} ev/s  ratio ${fmt(row.ratio, 2)} (runs ${ratios.map((r) => fmt(r, 2)).join(', ')})\n`,
      );
    }
  }
  return rows;
}

async function firstRequestLatency(info: BenchServerInfo): Promise<{ first: number; warm: number; extra: number }> {
  const url = `${info.url}/customTransform`;
  const firsts: number[] = [];
  const warms: number[] = [];
  const extras: number[] = [];
  for (const versionId of info.coldVersions) {
    const body = batchBody(versionId);
    const t0 = performance.now();
    const first = await post(url, body);
    const t1 = performance.now();
    const warm = await post(url, body);
    const t2 = performance.now();
    if (first.status !== 200 || warm.status !== 200 || !first.text.includes('"statusCode":200')) throw new Error(`first request to ${versionId} failed: ${first.text.slice(0, 200)}`);
    firsts.push(t1 - t0);
    warms.push(t2 - t1);
    extras.push(t1 - t0 - (t2 - t1));
  }
  return { first: median(firsts), warm: median(warms), extra: median(extras) };
}

async function metricValue(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? NaN);
}

async function rssWhileCycling(info: BenchServerInfo, child: ChildProcess): Promise<string[]> {
  const url = `${info.url}/customTransform`;
  const bodies = info.cycleVersions.map((v) => batchBody(v));
  const lines: string[] = [];
  const before = rssMb(info.pid);
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(info.pid))), 100);
  const passEnds: number[] = [];
  try {
    for (let pass = 0; pass < 3; pass++) {
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < bodies.length; i = next++) {
          const res = await post(url, bodies[i]!);
          if (res.status !== 200) throw new Error(`cycling: ${res.status} ${res.text.slice(0, 200)}`);
        }
      };
      const started = performance.now();
      await Promise.all([worker(), worker(), worker(), worker()]);
      const seconds = (performance.now() - started) / 1000;
      passEnds.push(rssMb(info.pid));
      lines.push(`  pass ${pass + 1}: ${bodies.length} versions in ${fmt(seconds, 1)} s, RSS after ${fmt(passEnds[pass]!)} MB`);
    }
  } finally {
    clearInterval(sampler);
  }
  const isolates = await metricValue(info.url, 'tiller_runtime_isolates');
  const evictions = await metricValue(info.url, 'tiller_runtime_isolate_evictions');
  const cached = await metricValue(info.url, 'tiller_serving_version_cache_entries');
  lines.unshift(`  RSS before ${fmt(before)} MB; peak while cycling ${fmt(peak)} MB`);
  lines.push(`  now ${await memoryBreakdown(child)}`);
  lines.push(`  live isolates ${isolates} (bound TILLER_SANDBOX_MAX_ISOLATES=${process.env.TILLER_SANDBOX_MAX_ISOLATES ?? 64}), isolates evicted ${evictions}, versions in the serving cache ${cached}`);
  return lines;
}

// ---------------------------------------------------------------- main

const { child, info } = await startServer();
serverPid = info.pid;
try {
  console.log(`Tiller runtime benchmark: ${BATCH}-event batches of ~600-byte track events through POST /customTransform vs the native path`);
  console.log(`(${WARMUP} s warm-up + ${SECONDS} s per run, median of ${REPS}; server pid ${info.pid}, MALLOC_ARENA_MAX=2, --no-node-snapshot)`);
  console.log(`Machine: ${cpus().length} cores, load average ${loadavg().map((l) => fmt(l, 1)).join(' ')} at start (other work on the machine skews absolute numbers; ratios pair back-to-back runs)\n`);
  const rssPeak = { value: rssMb(info.pid) };
  let rows: Row[] = [];
  if (PARTS.has('throughput')) {
    rows = await throughput(info, rssPeak);
    console.log('\n| transformation | in flight | Tiller events/s | native events/s | ratio (median of runs) | runs | Tiller p50 / p99 ms | native p50 / p99 ms | server CPU ms per 1,000 events: Tiller main thread / all threads, native |');
    console.log('|---|---:|---:|---:|---:|---|---:|---:|---:|');
    for (const row of rows) {
      console.log(
        `| ${row.scenario} | ${row.concurrency} | ${fmt(row.tiller.eventsPerSecond)} | ${fmt(row.native.eventsPerSecond)} | ${fmt(row.ratio, 2)} | ${row.ratios.map((r) => fmt(r, 2)).join(', ')} | ${fmt(row.tiller.p50)} / ${fmt(row.tiller.p99)} | ${fmt(row.native.p50)} / ${fmt(row.native.p99)} | ${fmt(row.tiller.mainCpuMs)} / ${fmt(row.tiller.totalCpuMs)}, ${fmt(row.native.totalCpuMs)} |`,
      );
    }
    const goal = rows.find((r) => r.scenario === 'trivial transformEvent' && r.concurrency === 4);
    if (goal) {
      const ratio = goal.ratio;
      console.log(`\nGoal: trivial transformEvent at 4 in flight >= ${TARGET_RATIO} of native: ${fmt(ratio, 2)} ${ratio >= TARGET_RATIO ? '(met)' : '(NOT met)'}`);
    }
    console.log(`Server RSS peak during the throughput runs: ${fmt(rssPeak.value)} MB; now ${await memoryBreakdown(child)}`);
  }
  if (PARTS.has('first')) {
    const first = await firstRequestLatency(info);
    console.log(
      `\nFirst request to a new version (${info.coldVersions.length} versions, ${BATCH} events each; median): ${fmt(first.first, 1)} ms, then ${fmt(first.warm, 1)} ms warm; extra latency ${fmt(first.extra, 1)} ms (goal < 30 ms)`,
    );
  }
  if (PARTS.has('rss')) {
    console.log(`\nServer RSS while cycling through ${info.cycleVersions.length} distinct versions (4 in flight, three passes):`);
    for (const line of await rssWhileCycling(info, child)) console.log(line);
  }
} finally {
  await stopServer(child);
}
