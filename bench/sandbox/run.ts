// Sandbox benchmark: events/s through runtime.run() divided by events/s of the same function run
// natively in this process, both from a request body string to a response body string:
//   native:  JSON.parse(body) -> transform each event -> JSON.stringify(outputs)
//   sandbox: JSON.parse(body) -> runtime.run()       -> '[' + outputJsonOf(...) joined + ']'
// plus the first-run (compile) latency of a new version and RSS while cycling through many
// versions with a small cache. run() goes through the pool of sandbox processes, so the sandbox
// side includes the copy of the batch to a host and back.
//
//   NODE_OPTIONS=--no-node-snapshot npx tsx bench/sandbox/run.ts
//   BENCH_SECONDS=0.5 BENCH_REPS=9 BENCH_VERSIONS=500 BENCH_PARTS=throughput,compile,rss (defaults);
//   MALLOC_ARENA_MAX=2 is recommended, as for the server.

import { loadavg } from 'node:os';
import { createRuntime, outputJsonOf, type EventOutcome, type LibrarySource, type RunOutput, type SandboxRuntime } from '../../src/runtime/index.js';

// Short measurements, many repetitions, native and sandbox alternating: on a shared machine both
// paths then see the same background load, and each ratio compares neighbours.
const SECONDS = Number(process.env.BENCH_SECONDS ?? 0.5);
const WARMUP_SECONDS = Math.min(0.25, SECONDS / 2);
const REPS = Number(process.env.BENCH_REPS ?? 9);
const VERSIONS = Number(process.env.BENCH_VERSIONS ?? 500);
const BATCH = 200;
/** Which parts to run: throughput, compile, rss (comma-separated; default all). */
const PARTS = new Set((process.env.BENCH_PARTS ?? 'throughput,compile,rss').split(','));

// ---------------------------------------------------------------- events

const eventNames = ['Product Viewed', 'Product Added', 'Checkout Started', 'Order Completed', 'Signed Up', 'Page Scrolled'];

function trackEvent(i: number): Record<string, unknown> {
  return {
    type: 'track',
    event: eventNames[i % eventNames.length],
    messageId: `msg-${i.toString(36)}-${(i * 7919).toString(16)}`,
    anonymousId: `anon-${(i * 104729).toString(36)}`,
    userId: i % 3 === 0 ? `user-${i}` : null,
    channel: 'web',
    sentAt: new Date(1_700_000_000_000 + i * 1000).toISOString(),
    originalTimestamp: new Date(1_700_000_000_000 + i * 1000 - 30).toISOString(),
    properties: { product_id: `sku-${i % 97}`, price: (i % 50) + 0.99, quantity: (i % 4) + 1, revenue: (i * 37) % 100, currency: 'EUR', category: 'Games' },
    context: {
      ip: `10.0.${i % 256}.${(i * 3) % 256}`,
      locale: 'en-US',
      library: { name: 'RudderLabs JavaScript SDK', version: '3.0.0' },
      page: { path: '/products/item', url: 'https://shop.example.com/products/item', title: 'Item' },
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
    },
  };
}

const events = Array.from({ length: BATCH }, (_, i) => trackEvent(i));
const body = JSON.stringify(events);

// ---------------------------------------------------------------- scenarios

const eventLib: LibrarySource = {
  versionId: 'bench-lib-1',
  importName: 'eventLib',
  code: `export function normalize(event) {
  event.event = event.event.toLowerCase().replace(/ /g, '_');
  event.properties.total = event.properties.price * event.properties.quantity;
  return event;
}`,
};

interface Scenario {
  name: string;
  code: string;
  libraries: LibrarySource[];
}

const scenarios: Scenario[] = [
  { name: 'trivial transformEvent', code: 'export function transformEvent(event) { event.properties.enriched = true; return event; }', libraries: [] },
  { name: 'transformEvent + library', code: 'import { normalize } from "eventLib";\nexport function transformEvent(event) { return normalize(event); }', libraries: [eventLib] },
  { name: 'transformBatch', code: 'export function transformBatch(events) { for (const e of events) e.properties.batched = true; return events; }', libraries: [] },
  { name: 'drop half', code: 'export function transformEvent(event) { return event.properties.revenue >= 50 ? event : null; }', libraries: [] },
];

/** The same module source as a plain in-process function. */
function nativeEntry(scenario: Scenario): { kind: 'event' | 'batch'; fn: (...args: unknown[]) => unknown } {
  const lib = { normalize: new Function(`${eventLib.code.replace('export function', 'function')}\nreturn normalize;`)() };
  const source = scenario.code.replace(/^import \{ normalize \} from "eventLib";/m, 'const { normalize } = lib;').replace(/export (async )?function/g, '$1function');
  const kind = scenario.code.includes('transformBatch') ? 'batch' : 'event';
  const fn = new Function('lib', `${source}\nreturn ${kind === 'batch' ? 'transformBatch' : 'transformEvent'};`)(lib) as (...args: unknown[]) => unknown;
  return { kind, fn };
}

const noMetadata = () => ({});

function runNative(entry: ReturnType<typeof nativeEntry>, requestBody: string): string {
  const input = JSON.parse(requestBody) as unknown[];
  const outputs: unknown[] = [];
  if (entry.kind === 'batch') {
    for (const output of entry.fn(input, noMetadata) as unknown[]) outputs.push({ statusCode: 200, output });
  } else {
    for (let i = 0; i < input.length; i++) {
      try {
        const output = entry.fn(input[i], noMetadata);
        if (output === null || output === undefined) continue;
        if (Array.isArray(output)) for (const o of output) outputs.push({ statusCode: 200, output: o, index: i });
        else outputs.push({ statusCode: 200, output, index: i });
      } catch (error) {
        outputs.push({ statusCode: 400, error: String(error), index: i });
      }
    }
  }
  return JSON.stringify(outputs);
}

/** The response body a serving endpoint builds from RunOutput without re-parsing outputs. */
function responseFromRaw(out: RunOutput): string {
  const parts: string[] = [];
  for (const result of out.results) {
    parts.push(result.statusCode === 200 ? `{"statusCode":200,"output":${outputJsonOf(result)},"index":${result.index}}` : JSON.stringify(result));
  }
  return `[${parts.join(',')}]`;
}

/** The same response built the naive way: touching `output` parses it, then it is serialized again. */
function responseFromParsed(out: RunOutput): string {
  return JSON.stringify(out.results.map((r: EventOutcome) => (r.statusCode === 200 ? { statusCode: 200, output: r.output, index: r.index } : r)));
}

// ---------------------------------------------------------------- measurement

interface Measured {
  eventsPerSecond: number;
  cpuMsPer1000: number;
}

async function measure(concurrency: number, once: () => Promise<unknown> | unknown): Promise<Measured> {
  const loop = async (deadline: number, counter: { batches: number }) => {
    while (performance.now() < deadline) {
      await once();
      counter.batches++;
      // Let timers and the other loops in; a real server interleaves requests the same way.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  };
  const warm = { batches: 0 };
  await Promise.all(Array.from({ length: concurrency }, () => loop(performance.now() + WARMUP_SECONDS * 1000, warm)));
  const counter = { batches: 0 };
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, () => loop(start + SECONDS * 1000, counter)));
  const elapsed = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const eventsDone = counter.batches * BATCH;
  return { eventsPerSecond: eventsDone / elapsed, cpuMsPer1000: ((cpu.user + cpu.system) / 1000 / eventsDone) * 1000 };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join(' | ')} |`;
  return [line(headers), `|${widths.map((w, i) => (i === 0 ? ':' : '-') + '-'.repeat(w) + (i === 0 ? '-' : ':')).join('|')}|`, ...rows.map(line)].join('\n');
}

async function throughput(runtime: SandboxRuntime): Promise<void> {
  const rows: string[][] = [];
  for (const scenario of scenarios) {
    const entry = nativeEntry(scenario);
    const transformation = { versionId: `bench-${scenario.name}`, code: scenario.code };
    // Check both paths agree before timing them.
    const check = await runtime.run({ workspaceId: 'bench', transformation, libraries: scenario.libraries, events: JSON.parse(body) as unknown[] });
    const nativeCount = (JSON.parse(runNative(entry, body)) as unknown[]).length;
    if (check.results.length !== nativeCount) throw new Error(`${scenario.name}: sandbox gave ${check.results.length} outputs, native ${nativeCount}`);

    for (const concurrency of [1, 4]) {
      const native: Measured[] = [];
      const sandbox: Measured[] = [];
      const sandboxParsed: Measured[] = [];
      for (let rep = 0; rep < REPS; rep++) {
        native.push(await measure(concurrency, () => runNative(entry, body)));
        sandbox.push(
          await measure(concurrency, async () =>
            responseFromRaw(await runtime.run({ workspaceId: 'bench', transformation, libraries: scenario.libraries, events: JSON.parse(body) as unknown[], captureLogs: false })),
          ),
        );
        sandboxParsed.push(
          await measure(concurrency, async () =>
            responseFromParsed(await runtime.run({ workspaceId: 'bench', transformation, libraries: scenario.libraries, events: JSON.parse(body) as unknown[], captureLogs: false })),
          ),
        );
      }
      const n = median(native.map((m) => m.eventsPerSecond));
      const s = median(sandbox.map((m) => m.eventsPerSecond));
      const ratio = median(sandbox.map((m, rep) => m.eventsPerSecond / (native[rep] as Measured).eventsPerSecond));
      const parsedRatio = median(sandboxParsed.map((m, rep) => m.eventsPerSecond / (native[rep] as Measured).eventsPerSecond));
      rows.push([
        scenario.name,
        String(concurrency),
        fmt(n),
        fmt(s),
        fmt(ratio, 2),
        fmt(parsedRatio, 2),
        fmt(median(native.map((m) => m.cpuMsPer1000)), 1),
        fmt(median(sandbox.map((m) => m.cpuMsPer1000)), 1),
      ]);
      process.stderr.write(`  ${scenario.name} @${concurrency}: native ${fmt(n)} ev/s, sandbox ${fmt(s)} ev/s\n`);
    }
  }
  console.log(`\nThroughput: ${BATCH}-event batches of ~${Math.round(body.length / BATCH)}-byte track events, ${SECONDS}s per measurement, medians of ${REPS} alternating repetitions (ratio: median of per-repetition ratios)`);
  console.log(
    table(['scenario', 'in flight', 'native ev/s', 'sandbox ev/s', 'ratio', 'ratio (parsed outputs)', 'native CPU ms/1k ev', 'sandbox CPU ms/1k ev'], rows),
  );
  console.log('ratio: sandbox / native, sandbox response built from outputJsonOf(); "parsed outputs" reads .output (parse + re-serialize).');
}

async function compileLatency(runtime: SandboxRuntime): Promise<void> {
  const cold: number[] = [];
  const warm: number[] = [];
  for (let i = 0; i < 40; i++) {
    const transformation = { versionId: `cold-${i}`, code: `${scenarios[1]?.code}\n// version ${i}` };
    let start = performance.now();
    await runtime.run({ workspaceId: 'bench-cold', transformation, libraries: [eventLib], events: [events[0]] });
    cold.push(performance.now() - start);
    start = performance.now();
    await runtime.run({ workspaceId: 'bench-cold', transformation, libraries: [eventLib], events: [events[0]] });
    warm.push(performance.now() - start);
  }
  console.log(`\nFirst run of a new version (isolate + compile + link + one event), median of 40: ${fmt(median(cold), 2)} ms; the next run of it: ${fmt(median(warm), 2)} ms`);
}

/** Resident memory of this process plus its sandbox host processes (as they last reported), in MB. */
function totalRssMb(runtime: SandboxRuntime): number {
  const hosts = runtime.stats().hosts?.processes ?? [];
  return (process.memoryUsage().rss + hosts.reduce((sum, host) => sum + host.rssBytes, 0)) / 1024 / 1024;
}

async function rssWhileCycling(): Promise<void> {
  const runtime = createRuntime({ cache: { maxIsolates: 8 } });
  const samples: number[] = [];
  await runtime.run({ workspaceId: 'ws-warm', transformation: { versionId: 'warm', code: scenarios[0]!.code }, libraries: [], events: [{}] });
  const start = totalRssMb(runtime);
  for (let i = 0; i < VERSIONS; i++) {
    const transformation = { versionId: `cycle-${i}`, code: `${scenarios[0]?.code}\n// version ${i}` };
    await runtime.run({ workspaceId: `ws-${i % 10}`, transformation, libraries: [], events: JSON.parse(body) as unknown[], captureLogs: false });
    if ((i + 1) % 50 === 0) samples.push(totalRssMb(runtime));
  }
  const stats = runtime.stats();
  await runtime.close();
  console.log(
    `\nRSS of this process and its sandbox processes, cycling ${VERSIONS} distinct versions (one 200-event batch each, maxIsolates 8): start ${fmt(start)} MB, every 50 versions [${samples.map((s) => fmt(s)).join(', ')}] MB, peak ${fmt(Math.max(...samples))} MB; isolates alive ${stats.isolates}, evictions ${stats.evictions}`,
  );
}

async function main(): Promise<void> {
  console.log(`Node ${process.version}, MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX ?? '(unset)'}, load average at start ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const runtime = createRuntime({ cache: { isolatesPerVersion: 2 }, workspaceConcurrency: 4 });
  try {
    if (PARTS.has('throughput')) await throughput(runtime);
    if (PARTS.has('compile')) await compileLatency(runtime);
    const stats = runtime.stats();
    console.log(`Runtime after the throughput runs: ${stats.isolates} isolates, ${stats.cacheHits} hits, ${stats.cacheMisses} misses, ${stats.recycled} recycled, ${stats.evictions} evicted, heap ${fmt(stats.heapUsedBytes / 1024 / 1024, 1)} MB, RSS ${fmt(totalRssMb(runtime))} MB (this process and ${stats.hosts?.processes.length ?? 0} sandbox processes)`);
  } finally {
    await runtime.close();
  }
  if (PARTS.has('rss')) await rssWhileCycling();
}

await main();
