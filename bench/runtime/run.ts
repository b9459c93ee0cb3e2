// Runtime serving benchmark: events/s through POST /customTransform divided by events/s of the
// native path (the same server process parsing the same body, running the same function without a
// sandbox, and serializing the same answer shape), for four transformations at 1, 4 and 16 requests
// in flight. Also: the cost of per-transformation stats, of a 10 % canary and of 10 % shadow sampling
// (trivial transformEvent at 4 in flight, each against the same without, back to back on one server), the extra latency of the first request to a new version, the memory of all of
// Tiller's processes while cycling through many distinct versions, and what a workspace whose code
// crashes its sandbox host once a second costs another workspace's traffic. The python part: a
// trivial Python (pythonfaas) transformEvent vs the native JavaScript trivial path at 4 in flight
// (with the JS trivial ratio measured alongside), the very first Python request of a fresh server,
// the extra latency of the first request to a new Python version in a host whose spare interpreter
// is ready, and the resident memory per warm Python interpreter.
//
//   npm run bench:runtime
//
// Settings (environment): BENCH_SECONDS (measured seconds per run, default 5), BENCH_WARMUP (default
// 1), BENCH_REPS (default 3; the median is reported), BENCH_CONCURRENCY (default 1,4,16),
// BENCH_SCENARIOS (default trivial,library,batch,drop), BENCH_PARTS (default
// throughput,stats,canary,shadow,first,rss,attack,python), BENCH_PYTHON_COLD_VERSIONS (5), BENCH_COLD_VERSIONS (30), BENCH_CYCLE_VERSIONS (500),
// BENCH_ATTACK_VERSIONS (enough for BENCH_SECONDS x BENCH_REPS, at least 60), BENCH_PROFILE=1 (the
// server writes a CPU profile to bench/runtime/profiles/ on exit), BENCH_SOURCE=1 (run the TypeScript
// sources through tsx instead of the compiled build `npm start` runs, which is built first when
// stale). TILLER_* settings pass through to the server (e.g. TILLER_SANDBOX_PROCESSES).
//
// The server runs in a child process started with --no-node-snapshot and MALLOC_ARENA_MAX=2, and
// starts its sandbox host processes itself; the load generator (autocannon, or fetch in the attack
// part) runs in this process, on the same machine. Memory and CPU are the server's plus those of
// all its descendants (the hosts), read from /proc.

import { fork, type ChildProcess } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { cpuBetween, cpuMs, readTreeCpu } from '../lib/proc-tree.js';
import { attackPart, bombsNeeded } from './attack.js';
import { BATCH, batchBody, fmt, median, metOrNot, metricValue, post } from './common.js';
import { describeTotals, MemoryPeak, memoryBreakdown, runtimeQuiet, serverState, tillerMemory, type TillerMemory } from './memory.js';
import { scenarios } from './scenarios.js';
import { ServerOutput } from './server-output.js';
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
const PARTS = new Set((process.env.BENCH_PARTS ?? 'throughput,stats,canary,shadow,first,rss,attack,python').split(','));
/** Trivial transformEvent with stats on, as a share of the same with stats off. */
const TARGET_STATS_RATIO = 0.97;
/** Trivial transformEvent with a 10 % canary running, as a share of the same without one. */
const TARGET_CANARY_RATIO = 0.95;
/** Trivial transformEvent with 10 % of batches copied to a shadow run, as a share of the same without. */
const TARGET_SHADOW_RATIO = 0.9;
const TARGET_RATIO = 0.75;
/** Resident memory of the server and all its sandbox hosts together, after the throughput runs. */
const TARGET_TOTAL_RSS_MB = 350;

// ---------------------------------------------------------------- the server process

const serverOutput = new ServerOutput();

async function startServer(): Promise<{ child: ChildProcess; info: BenchServerInfo }> {
  // The server under test is the compiled build `npm start` runs (see server.ts); build it if stale.
  if (process.env.BENCH_SOURCE !== '1') {
    const { ensureBuilt } = (await import(pathToFileURL(join(here, '..', '..', 'scripts', 'build.mjs')).href)) as { ensureBuilt: () => void };
    ensureBuilt();
  }
  // The V8 flags bin/tiller.mjs gives a production server.
  const execArgv = ['--no-node-snapshot', '--max-semi-space-size=4', '--import', require.resolve('tsx/esm')];
  if (process.env.BENCH_PROFILE === '1') execArgv.push('--cpu-prof', `--cpu-prof-dir=${join(here, 'profiles')}`);
  const child = fork(join(here, 'server.ts'), [], {
    execArgv,
    env: { ...process.env, MALLOC_ARENA_MAX: '2', BENCH_ATTACK_VERSIONS: process.env.BENCH_ATTACK_VERSIONS ?? String(Math.max(60, bombsNeeded(SECONDS, REPS))) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  serverOutput.pipe(child.stdout!, process.stdout);
  serverOutput.pipe(child.stderr!, process.stderr);
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

// ---------------------------------------------------------------- load

interface Measurement {
  eventsPerSecond: number;
  p50: number;
  p99: number;
  /** CPU per 1,000 events (ms): the server's main thread, the whole server process (all threads), and its descendants (the sandbox hosts). */
  mainCpuMs: number;
  serverCpuMs: number;
  hostsCpuMs: number;
  /** Descendants that ended or started during the run: hosts replaced mid-run (see cpuBetween for what their CPU counts). */
  hostsReplaced: number;
}

let serverPid = 0;

async function load(url: string, body: string, connections: number, seconds: number): Promise<Measurement> {
  const mainBefore = cpuMs(serverPid, serverPid);
  const treeBefore = readTreeCpu(serverPid);
  const result = await autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections,
    pipelining: 1,
    duration: seconds,
  });
  const spent = cpuBetween(treeBefore, readTreeCpu(serverPid));
  const mainSpent = cpuMs(serverPid, serverPid) - mainBefore;
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx answers, ${result.errors} errors, ${result.timeouts} timeouts`);
  }
  const thousands = (result.requests.total * BATCH) / 1000;
  return {
    eventsPerSecond: (result.requests.total * BATCH) / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    mainCpuMs: mainSpent / thousands,
    serverCpuMs: spent.rootMs / thousands,
    hostsCpuMs: spent.descendantsMs / thousands,
    hostsReplaced: spent.ended + spent.started,
  };
}

// ---------------------------------------------------------------- parts

interface Row {
  scenario: string;
  concurrency: number;
  tiller: Measurement;
  native: Measurement;
  /** Median of the per-repetition ratios. */
  ratio: number;
  ratios: number[];
  /** Host replacements during any of this row's runs (warm-ups excluded). */
  hostsReplaced: number;
}

async function throughput(info: BenchServerInfo): Promise<Row[]> {
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
      }
      const pick = (runs: Measurement[]): Measurement => ({
        eventsPerSecond: median(runs.map((r) => r.eventsPerSecond)),
        p50: median(runs.map((r) => r.p50)),
        p99: median(runs.map((r) => r.p99)),
        mainCpuMs: median(runs.map((r) => r.mainCpuMs)),
        serverCpuMs: median(runs.map((r) => r.serverCpuMs)),
        hostsCpuMs: median(runs.map((r) => r.hostsCpuMs)),
        hostsReplaced: runs.reduce((sum, r) => sum + r.hostsReplaced, 0),
      });
      const tiller = pick(tillerRuns);
      const native = pick(nativeRuns);
      const row: Row = { scenario: scenario.title, concurrency: connections, tiller, native, ratio: median(ratios), ratios, hostsReplaced: tiller.hostsReplaced + native.hostsReplaced };
      rows.push(row);
      process.stdout.write(
        `  ${row.scenario.padEnd(26)} c=${String(connections).padEnd(3)} tiller ${fmt(row.tiller.eventsPerSecond).padStart(8)} ev/s  native ${fmt(row.native.eventsPerSecond).padStart(8)} ev/s  ratio ${fmt(row.ratio, 2)} (runs ${ratios.map((r) => fmt(r, 2)).join(', ')})\n`,
      );
    }
  }
  return rows;
}

function printThroughputTable(rows: Row[]): void {
  console.log(
    '\n| transformation | in flight | Tiller events/s | native events/s | ratio (median of runs) | runs | Tiller p50 / p99 ms | native p50 / p99 ms | CPU ms per 1,000 events: Tiller server process, main thread / all threads | Tiller host processes | Tiller server + hosts | native (server process) |',
  );
  console.log('|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|');
  for (const row of rows) {
    const { tiller, native } = row;
    console.log(
      `| ${row.scenario} | ${row.concurrency} | ${fmt(tiller.eventsPerSecond)} | ${fmt(native.eventsPerSecond)} | ${fmt(row.ratio, 2)} | ${row.ratios.map((r) => fmt(r, 2)).join(', ')} | ${fmt(tiller.p50)} / ${fmt(tiller.p99)} | ${fmt(native.p50)} / ${fmt(native.p99)} | ${fmt(tiller.mainCpuMs)} / ${fmt(tiller.serverCpuMs)} | ${fmt(tiller.hostsCpuMs)} | ${fmt(tiller.serverCpuMs + tiller.hostsCpuMs)} | ${fmt(native.serverCpuMs)} |`,
    );
  }
  const replaced = rows.reduce((sum, r) => sum + r.hostsReplaced, 0);
  console.log(
    replaced === 0
      ? '(host CPU: user + system of every descendant of the server, from /proc; no host was replaced during a measured run)'
      : `(host CPU: user + system of every descendant of the server, from /proc; ${replaced} host starts or ends during measured runs: a host that ended counts through the server's cutime/cstime once reaped, one that started counts from its start)`,
  );

  const goal = rows.find((r) => r.scenario === 'trivial transformEvent' && r.concurrency === 4);
  if (!goal) return;
  console.log(`\nGoal: trivial transformEvent at 4 in flight >= ${TARGET_RATIO} of native: ${fmt(goal.ratio, 2)} ${metOrNot(goal.ratio >= TARGET_RATIO)}`);
  console.log(
    `Goal: server-process CPU per 1,000 events (trivial, 4 in flight) at or below native: ${fmt(goal.tiller.serverCpuMs, 1)} vs ${fmt(goal.native.serverCpuMs, 1)} ms ${metOrNot(goal.tiller.serverCpuMs <= goal.native.serverCpuMs)}` +
      ` (the hosts add ${fmt(goal.tiller.hostsCpuMs, 1)} ms)`,
  );
}

/**
 * Two ways of serving the same trivial batches at 4 in flight, back to back, alternating which goes
 * first (so a drift within a repetition favours neither): one ratio `a / b` per repetition.
 */
async function pairedCost(a: { url: string; body: string }, b: { url: string; body: string }): Promise<{ on: number; off: number; ratio: number; ratios: number[] }> {
  const on: number[] = [];
  const off: number[] = [];
  const ratios: number[] = [];
  const run = async (side: { url: string; body: string }) => {
    if (WARMUP > 0) await load(side.url, side.body, 4, WARMUP);
    return load(side.url, side.body, 4, SECONDS);
  };
  for (let rep = 0; rep < REPS; rep++) {
    let first: Measurement;
    let second: Measurement;
    if (rep % 2 === 0) {
      first = await run(a);
      second = await run(b);
    } else {
      second = await run(b);
      first = await run(a);
    }
    on.push(first.eventsPerSecond);
    off.push(second.eventsPerSecond);
    ratios.push(first.eventsPerSecond / second.eventsPerSecond);
  }
  return { on: median(on), off: median(off), ratio: median(ratios), ratios };
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

async function rssWhileCycling(info: BenchServerInfo, child: ChildProcess): Promise<string[]> {
  const url = `${info.url}/customTransform`;
  const bodies = info.cycleVersions.map((v) => batchBody(v));
  const lines: string[] = [];
  const before = tillerMemory(info.pid);
  const memory = new MemoryPeak(info.pid, 200).start();
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
      lines.push(`  pass ${pass + 1}: ${bodies.length} versions in ${fmt(seconds, 1)} s, RSS after: ${describeTotals(memory.sample())}`);
    }
  } finally {
    memory.stop();
  }
  const isolates = await metricValue(info.metricsUrl, 'tiller_runtime_isolates');
  const evictions = await metricValue(info.metricsUrl, 'tiller_runtime_isolate_evictions');
  const cached = await metricValue(info.metricsUrl, 'tiller_serving_version_cache_entries');
  const recycles = await metricValue(info.metricsUrl, 'tiller_sandbox_process_restarts{reason="memory"}');
  lines.unshift(`  RSS before: ${describeTotals(before)}`, `  peak while cycling: ${describeTotals(memory.peak)}`);
  lines.push(`  now ${await memoryBreakdown(child, info.pid)}`);
  lines.push(
    `  live isolates ${isolates} (bound TILLER_SANDBOX_MAX_ISOLATES=${process.env.TILLER_SANDBOX_MAX_ISOLATES ?? 64}, shared among the hosts), isolates evicted ${evictions}, versions in the serving cache ${cached}, hosts replaced for memory ${recycles}`,
  );
  return lines;
}

// ---------------------------------------------------------------- python

/** The first request to a new Python version in a host whose spare interpreter is ready (ms). */
const TARGET_PYTHON_NEW_VERSION_MS = 4600;

async function timedPost(url: string, body: string, what: string): Promise<number> {
  const t0 = performance.now();
  const res = await post(url, body);
  const ms = performance.now() - t0;
  if (res.status !== 200 || !res.text.includes('"statusCode":200')) throw new Error(`${what}: ${res.status} ${res.text.slice(0, 300)}`);
  return ms;
}

/** Waits (up to timeoutMs) until /metrics shows at least `count` Python interpreters; returns the count seen. */
async function pythonInterpretersAtLeast(metricsUrl: string, count: number, timeoutMs: number): Promise<number> {
  const until = Date.now() + timeoutMs;
  let seen = await metricValue(metricsUrl, 'tiller_runtime_python_interpreters');
  while (!(seen >= count) && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    seen = await metricValue(metricsUrl, 'tiller_runtime_python_interpreters');
  }
  return seen;
}

async function pythonPart(info: BenchServerInfo): Promise<string[]> {
  const url = `${info.url}/customTransform`;
  const summary: string[] = [];
  // (b) The very first Python request of this server: nothing has touched Python yet, so this includes starting an interpreter.
  const interpretersBefore = await metricValue(info.metricsUrl, 'tiller_runtime_python_interpreters');
  const firstBody = batchBody(info.python.firstVersion);
  const veryFirst = await timedPost(url, firstBody, 'very first Python request');
  const firstWarm = await timedPost(url, firstBody, 'very first Python version, warm');
  console.log(
    `\nPython: very first Python request of a fresh server (${BATCH} events, interpreter start included; ${interpretersBefore} interpreters before): ${fmt(veryFirst, 0)} ms, then ${fmt(firstWarm, 1)} ms warm`,
  );

  // Python row: the trivial Python version vs the native JavaScript trivial path, same body shape.
  const pyBody = batchBody(info.python.trivialVersion);
  const nativeUrl = `${info.url}/bench/native/trivial`;
  const [pyAnswer, nativeAnswer] = [await post(url, pyBody), await post(nativeUrl, pyBody)];
  if (pyAnswer.status !== 200 || nativeAnswer.status !== 200 || !isDeepStrictEqual(JSON.parse(pyAnswer.text), JSON.parse(nativeAnswer.text))) {
    throw new Error(`python trivial: /customTransform and the native trivial path answer differently (${pyAnswer.status}, ${nativeAnswer.status}): ${pyAnswer.text.slice(0, 300)} vs ${nativeAnswer.text.slice(0, 300)}`);
  }
  const jsBody = batchBody(info.scenarioVersions.trivial!);
  const [jsAnswer, jsNative] = [await post(url, jsBody), await post(nativeUrl, jsBody)];
  if (jsAnswer.status !== 200 || jsNative.status !== 200 || !isDeepStrictEqual(JSON.parse(jsAnswer.text), JSON.parse(jsNative.text))) {
    throw new Error(`js trivial: /customTransform and the native path answer differently: ${jsAnswer.text.slice(0, 300)}`);
  }
  // Warm-up of the Python version at 4 in flight (may start more interpreters), then the paired runs.
  await load(url, pyBody, 4, Math.max(WARMUP, 2));
  const py = await pairedCost({ url, body: pyBody }, { url: nativeUrl, body: pyBody });
  console.log(
    `Python trivial transformEvent, 4 in flight: Tiller ${fmt(py.on)} ev/s, native JS trivial ${fmt(py.off)} ev/s; ratio ${fmt(py.ratio, 3)} (runs ${py.ratios.map((r) => fmt(r, 3)).join(', ')})`,
  );
  const js = await pairedCost({ url, body: jsBody }, { url: nativeUrl, body: jsBody });
  console.log(
    `JS trivial transformEvent, 4 in flight (same part, for comparison): Tiller ${fmt(js.on)} ev/s, native ${fmt(js.off)} ev/s; ratio ${fmt(js.ratio, 3)} (runs ${js.ratios.map((r) => fmt(r, 3)).join(', ')})`,
  );

  // Memory per warm interpreter, right after the Python row.
  const interpreters = await metricValue(info.metricsUrl, 'tiller_runtime_python_interpreters');
  const pyResident = await metricValue(info.metricsUrl, 'tiller_runtime_python_resident_bytes');
  const tree = tillerMemory(info.pid);
  const perInterpreterMb = interpreters > 0 ? pyResident / interpreters / 1024 / 1024 : NaN;
  console.log(
    `Python memory after the Python row: ${interpreters} interpreters, ${fmt(pyResident / 1024 / 1024)} MB resident together, ${fmt(perInterpreterMb, 1)} MB per interpreter; all Tiller processes: ${describeTotals(tree)}`,
  );

  // (a) The first request to a new Python version in a host that already runs Python, with its spare ready.
  const firsts: number[] = [];
  const warms: number[] = [];
  const extras: number[] = [];
  const spares: number[] = [];
  for (const versionId of info.python.coldVersions) {
    // Let the host (re)start its spare: a new version takes it and a fresh spare starts behind it.
    const before = await metricValue(info.metricsUrl, 'tiller_runtime_python_interpreters');
    await new Promise((resolve) => setTimeout(resolve, 8000));
    spares.push(await pythonInterpretersAtLeast(info.metricsUrl, before, 10_000));
    const body = batchBody(versionId);
    const first = await timedPost(url, body, `first request to Python version ${versionId}`);
    const warm = await timedPost(url, body, `warm request to Python version ${versionId}`);
    firsts.push(first);
    warms.push(warm);
    extras.push(first - warm);
  }
  const newVersion = { first: median(firsts), warm: median(warms), extra: median(extras) };
  console.log(
    `First request to a new Python version in a host already running Python, spare ready (${firsts.length} versions, ${BATCH} events each; median): ${fmt(newVersion.first, 1)} ms, then ${fmt(newVersion.warm, 1)} ms warm; extra ${fmt(newVersion.extra, 1)} ms (runs ${firsts.map((f) => fmt(f, 0)).join(', ')} ms; interpreters before each: ${spares.join(', ')})`,
  );

  summary.push(
    `Python: trivial transformEvent at 4 in flight vs native JS trivial: ratio ${fmt(py.ratio, 3)} (JS trivial in the same part: ${fmt(js.ratio, 3)}; no numeric goal)`,
    `Goal: first request to a new Python version in a warm host well under 4.6 s: ${fmt(newVersion.first, 0)} ms (extra ${fmt(newVersion.extra, 0)} ms) ${metOrNot(newVersion.first < TARGET_PYTHON_NEW_VERSION_MS)}`,
    `Python: very first Python request of a fresh server: ${fmt(veryFirst, 0)} ms (no numeric goal)`,
    `Python: ${fmt(perInterpreterMb, 1)} MB resident per warm interpreter (${interpreters} interpreters; all Tiller processes ${fmt(tree.totalMb)} MB; no numeric goal)`,
  );
  return summary;
}

// ---------------------------------------------------------------- main

const { child, info } = await startServer();
serverPid = info.pid;
try {
  await runtimeQuiet(child);
  const hosts = (await serverState(child)).runtime.hosts;
  console.log(`Tiller runtime benchmark: ${BATCH}-event batches of ~600-byte track events through POST /customTransform vs the native path`);
  console.log(
    `(${WARMUP} s warm-up + ${SECONDS} s per run, median of ${REPS}; server pid ${info.pid} with ${hosts?.processes.length ?? 0} sandbox host processes (pids ${hosts?.processes.map((p) => p.pid).join(', ')}), MALLOC_ARENA_MAX=2, --no-node-snapshot)`,
  );
  console.log(`Machine: ${cpus().length} cores, load average ${loadavg().map((l) => fmt(l, 1)).join(' ')} at start (other work on the machine skews absolute numbers; ratios pair back-to-back runs)`);
  console.log(`RSS at start: ${describeTotals(tillerMemory(info.pid))}\n`);
  if (PARTS.has('throughput')) {
    const memory = new MemoryPeak(info.pid).start();
    let rows: Row[];
    let after: TillerMemory;
    try {
      rows = await throughput(info);
    } finally {
      after = memory.stop();
    }
    printThroughputTable(rows);
    console.log(`Goal: total RSS after the throughput runs <= ${TARGET_TOTAL_RSS_MB} MB: ${fmt(after.totalMb)} MB ${metOrNot(after.totalMb <= TARGET_TOTAL_RSS_MB)}`);
    console.log(`RSS peak during the throughput runs (sampled every 500 ms): ${describeTotals(memory.peak)}`);
    console.log(`RSS now: ${await memoryBreakdown(child, info.pid)}`);
  }
  const trivial = batchBody(info.scenarioVersions.trivial!);
  if (PARTS.has('stats')) {
    // Stats on (the server as it runs) vs off (a second listener over the same services and hosts).
    const cost = await pairedCost({ url: `${info.url}/customTransform`, body: trivial }, { url: `${info.statsOffUrl}/customTransform`, body: trivial });
    console.log(
      `\nStats cost: trivial transformEvent, 4 in flight: stats on ${fmt(cost.on)} ev/s, off ${fmt(cost.off)} ev/s; ratio ${fmt(cost.ratio, 3)} (runs ${cost.ratios.map((r) => fmt(r, 3)).join(', ')})`,
    );
    console.log(`Goal: stats on within 3% of off (ratio >= ${TARGET_STATS_RATIO}): ${fmt(cost.ratio, 3)} ${metOrNot(cost.ratio >= TARGET_STATS_RATIO)}`);
  }
  if (PARTS.has('canary')) {
    const cost = await pairedCost({ url: `${info.url}/customTransform`, body: batchBody(info.canaryStableVersion) }, { url: `${info.url}/customTransform`, body: trivial });
    console.log(
      `\nCanary cost: trivial transformEvent, 4 in flight: with a 10 % canary ${fmt(cost.on)} ev/s, without ${fmt(cost.off)} ev/s; ratio ${fmt(cost.ratio, 3)} (runs ${cost.ratios.map((r) => fmt(r, 3)).join(', ')})`,
    );
    console.log(`Goal: with a 10 % canary within 5% of none (ratio >= ${TARGET_CANARY_RATIO}): ${fmt(cost.ratio, 3)} ${metOrNot(cost.ratio >= TARGET_CANARY_RATIO)}`);
  }
  if (PARTS.has('shadow')) {
    const cost = await pairedCost({ url: `${info.url}/customTransform`, body: batchBody(info.shadowStableVersion) }, { url: `${info.url}/customTransform`, body: trivial });
    console.log(
      `\nShadow cost: trivial transformEvent, 4 in flight: with 10 % of batches shadowed ${fmt(cost.on)} ev/s, without ${fmt(cost.off)} ev/s; ratio ${fmt(cost.ratio, 3)} (runs ${cost.ratios.map((r) => fmt(r, 3)).join(', ')})`,
    );
    console.log(`Goal: with 10 % shadow sampling within 10% of none (ratio >= ${TARGET_SHADOW_RATIO}): ${fmt(cost.ratio, 3)} ${metOrNot(cost.ratio >= TARGET_SHADOW_RATIO)}`);
  }
  if (PARTS.has('first')) {
    const first = await firstRequestLatency(info);
    console.log(
      `\nFirst request to a new version (${info.coldVersions.length} versions, ${BATCH} events each; median): ${fmt(first.first, 1)} ms, then ${fmt(first.warm, 1)} ms warm; extra latency ${fmt(first.extra, 1)} ms (goal < 30 ms)`,
    );
  }
  if (PARTS.has('rss')) {
    console.log(`\nRSS of the server and its sandbox hosts while cycling through ${info.cycleVersions.length} distinct versions (4 in flight, three passes):`);
    for (const line of await rssWhileCycling(info, child)) console.log(line);
  }
  if (PARTS.has('python')) {
    const summary = await pythonPart(info);
    console.log(`\n${summary.join('\n')}`);
  }
  if (PARTS.has('attack')) {
    console.log(
      `\nVictim under attack: trivial transformEvent, ${BATCH}-event batches, 4 in flight, ${SECONDS} s without attack then ${SECONDS} s while a second workspace sends a never-run crashing version every second (median of ${REPS}):`,
    );
    const summary = await attackPart(info, child, { seconds: SECONDS, warmup: WARMUP, reps: REPS });
    console.log(`\n${summary.join('\n')}`);
    console.log(`RSS after the attack: ${describeTotals(tillerMemory(info.pid))}`);
    const held = serverOutput.summary();
    if (held) console.log(held);
  }
} finally {
  await stopServer(child);
}
