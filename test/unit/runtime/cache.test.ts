import { describe, expect, it } from 'vitest';
import { createIsolateEngine } from '../../../src/runtime/host/engine.js';
import type { BatchReport, RunInput, RuntimeOptions } from '../../../src/runtime/index.js';
import { rejection, versionId } from './helpers.js';

const IDENTITY = 'export function transformEvent(e) { return e; }';
/** Burns about `e.ms` milliseconds of CPU, so runs overlap. */
const BUSY = 'export function transformEvent(e) { const end = Date.now() + e.ms; while (Date.now() < end) {} return e; }';

function version(code: string): (events?: unknown[], workspaceId?: string) => RunInput {
  const id = versionId('cache');
  return (events = [{}], workspaceId = 'ws-cache') => ({ workspaceId, transformation: { versionId: id, code }, libraries: [], events });
}

async function withRuntime(options: RuntimeOptions, body: (runtime: ReturnType<typeof createIsolateEngine>) => Promise<void>): Promise<void> {
  const runtime = createIsolateEngine(options);
  try {
    await body(runtime);
  } finally {
    await runtime.close();
  }
}

describe('isolate cache', () => {
  it('compiles a version once and serves later batches from the warm isolate', () =>
    withRuntime({}, async (runtime) => {
      const run = version(IDENTITY);
      await runtime.run(run());
      expect(runtime.stats()).toMatchObject({ isolates: 1, versions: 1, cacheMisses: 1, cacheHits: 0 });
      for (let i = 0; i < 5; i++) await runtime.run(run());
      expect(runtime.stats()).toMatchObject({ isolates: 1, versions: 1, cacheMisses: 1, cacheHits: 5 });
      expect(runtime.stats().heapUsedBytes).toBeGreaterThan(0);
    }));

  it('evicts and disposes the least recently used isolates beyond maxIsolates', () =>
    withRuntime({ cache: { maxIsolates: 2 } }, async (runtime) => {
      const [a, b, c] = [version(IDENTITY), version(IDENTITY), version(IDENTITY)];
      await runtime.run(a());
      await runtime.run(b());
      await runtime.run(a());
      await runtime.run(c());
      // b was least recently used, so it went; a and c stay warm.
      expect(runtime.stats()).toMatchObject({ isolates: 2, versions: 2, evictions: 1, cacheMisses: 3, cacheHits: 1 });
      await runtime.run(a());
      expect(runtime.stats()).toMatchObject({ cacheHits: 2, cacheMisses: 3 });
      await runtime.run(b());
      expect(runtime.stats()).toMatchObject({ isolates: 2, evictions: 2, cacheMisses: 4 });
    }));

  it('keeps another workspace warm while one workspace bursts through many distinct versions (the eviction attack)', () =>
    withRuntime({ cache: { maxIsolates: 8, maxIsolatesPerWorkspace: 4 } }, async (runtime) => {
      const victim = version(IDENTITY);
      await runtime.run(victim([{}], 'ws-victim'));
      // 70 distinct snippets from one workspace, as a read-only token's test calls can send.
      for (let i = 0; i < 70; i++) await runtime.run(version(IDENTITY)([{}], 'ws-burst'));
      expect(runtime.stats().isolates).toBeLessThanOrEqual(5);
      const before = runtime.stats().cacheHits;
      await runtime.run(victim([{}], 'ws-victim'));
      expect(runtime.stats().cacheHits).toBe(before + 1);
    }));

  it('lets a workspace displace only isolates of a workspace holding more than it does when the process is full', () =>
    withRuntime({ cache: { maxIsolates: 4, maxIsolatesPerWorkspace: 4 } }, async (runtime) => {
      const big = [version(IDENTITY), version(IDENTITY), version(IDENTITY)];
      for (const run of big) await runtime.run(run([{}], 'ws-big'));
      const small = version(IDENTITY);
      await runtime.run(small([{}], 'ws-small'));
      // Full (3 + 1). A newcomer displaces the largest holder's least recently used isolate.
      await runtime.run(version(IDENTITY)([{}], 'ws-new'));
      expect(runtime.stats()).toMatchObject({ isolates: 4, evictions: 1 });
      let hits = runtime.stats().cacheHits;
      await runtime.run(small([{}], 'ws-small'));
      expect(runtime.stats().cacheHits).toBe(++hits);
      // Another newcomer: ws-big holds 2, more than 0, so it gives up one more; ws-small keeps its one.
      await runtime.run(version(IDENTITY)([{}], 'ws-new-2'));
      await runtime.run(small([{}], 'ws-small'));
      expect(runtime.stats().cacheHits).toBe(++hits);
      // Now every workspace holds 1: the next newcomer's own burst can only reuse its own slot.
      const newcomer = version(IDENTITY);
      await runtime.run(newcomer([{}], 'ws-new-2'));
      await runtime.run(small([{}], 'ws-small'));
      expect(runtime.stats().cacheHits).toBe(++hits);
    }));

  it('grows a hot version to isolatesPerVersion isolates and no further', () =>
    withRuntime({ cache: { isolatesPerVersion: 2 }, workspaceConcurrency: 8 }, async (runtime) => {
      const run = version(BUSY);
      await runtime.run(run([{ ms: 1 }]));
      let peakBusy = 0;
      const sampler = setInterval(() => (peakBusy = Math.max(peakBusy, runtime.stats().busyIsolates)), 2);
      try {
        const outs = await Promise.all(Array.from({ length: 6 }, () => runtime.run(run([{ ms: 40 }]))));
        for (const out of outs) expect(out.results).toMatchObject([{ statusCode: 200 }]);
      } finally {
        clearInterval(sampler);
      }
      expect(runtime.stats().isolates).toBe(2);
      expect(runtime.stats().versions).toBe(1);
      expect(peakBusy).toBe(2);
    }));

  it('compiles a new version once when its first batches arrive together', () =>
    withRuntime({ cache: { isolatesPerVersion: 1 } }, async (runtime) => {
      const run = version(IDENTITY);
      await Promise.all(Array.from({ length: 5 }, () => runtime.run(run())));
      expect(runtime.stats()).toMatchObject({ isolates: 1, cacheMisses: 1, cacheHits: 4 });
    }));

  it('recycles an isolate after maxRunsPerIsolate runs', () =>
    withRuntime({ cache: { maxRunsPerIsolate: 3 } }, async (runtime) => {
      const run = version('let n = 0;\nexport function transformEvent(e) { n++; return { n }; }');
      const counts: unknown[] = [];
      for (let i = 0; i < 5; i++) counts.push((await runtime.run(run())).results[0]);
      // Module state restarts with the fresh isolate.
      expect(counts.map((r) => (r as { output: { n: number } }).output.n)).toEqual([1, 2, 3, 1, 2]);
      expect(runtime.stats().recycled).toBe(1);
    }));

  it('recycles an isolate whose heap passes recycleHeapFraction before it nears the limit', () =>
    withRuntime({ limits: { memoryMb: 32 }, cache: { recycleHeapFraction: 0.25 } }, async (runtime) => {
      // Keeps ~12 MB alive across runs: past a quarter of 32 MB after the first run.
      const run = version('const kept = [];\nexport function transformEvent(e) { kept.push(new Array(1500000).fill(1.5)); return { n: kept.length }; }');
      const first = await runtime.run(run());
      const second = await runtime.run(run());
      expect(first.results[0]).toMatchObject({ output: { n: 1 } });
      expect(second.results[0]).toMatchObject({ output: { n: 1 } });
      expect(runtime.stats().recycled).toBe(2);
      expect(runtime.stats().limitKills.memory).toBe(0);
    }));

  it('evicts idle isolates when their heaps together pass maxTotalHeapMb', () =>
    withRuntime({ cache: { maxTotalHeapMb: 1 } }, async (runtime) => {
      const [a, b] = [version(IDENTITY), version(IDENTITY)];
      await runtime.run(a());
      await runtime.run(b());
      expect(runtime.stats().evictions).toBeGreaterThanOrEqual(1);
      expect(runtime.stats().isolates).toBe(1);
    }));

  it('disposes isolates idle for longer than idleTtlMs', () =>
    withRuntime({ cache: { idleTtlMs: 30 } }, async (runtime) => {
      await runtime.run(version(IDENTITY)());
      expect(runtime.stats().isolates).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(runtime.stats()).toMatchObject({ isolates: 0, versions: 0, evictions: 1 });
    }));

  it('never runs stale code when a version id is reused for different code', () =>
    withRuntime({}, async (runtime) => {
      const id = versionId('reused');
      const runWith = (code: string) => runtime.run({ workspaceId: 'w', transformation: { versionId: id, code }, libraries: [], events: [{}] });
      const first = await runWith('export function transformEvent() { return { v: 1 }; }');
      const second = await runWith('export function transformEvent() { return { v: 2 }; }');
      expect(first.results[0]).toMatchObject({ output: { v: 1 } });
      expect(second.results[0]).toMatchObject({ output: { v: 2 } });
    }));

  it('fails with overloaded when no isolate frees up within queueTimeoutMs', () =>
    withRuntime({ limits: { cpuTimeMs: 1000, wallTimeMs: 2000 }, cache: { maxIsolates: 1 }, queueTimeoutMs: 100, workspaceConcurrency: 4 }, async (runtime) => {
      const slow = runtime.run(version(BUSY)([{ ms: 400 }]));
      await new Promise((resolve) => setTimeout(resolve, 50));
      const error = await rejection(runtime.run(version(IDENTITY)()));
      expect(error.code).toBe('overloaded');
      expect((await slow).results).toMatchObject([{ statusCode: 200 }]);
    }));

  it('fails later runs with shutting_down after close()', async () => {
    const runtime = createIsolateEngine();
    await runtime.run(version(IDENTITY)());
    await runtime.close();
    expect(runtime.stats().isolates).toBe(0);
    expect((await rejection(runtime.run(version(IDENTITY)()))).code).toBe('shutting_down');
  });
});

describe('metrics sink', () => {
  it('reports every batch with its counts, outcome and cold start', () => {
    const reports: BatchReport[] = [];
    return withRuntime({ metrics: { onBatch: (report) => reports.push(report) } }, async (runtime) => {
      const run = version('export function transformEvent(e) { if (e.drop) return null; if (e.fail) throw new Error("x"); return e.fan ? [e, e] : e; }');
      await runtime.run(run([{ fan: true }, { drop: true }, { fail: true }, {}], 'ws-metrics'));
      await runtime.run(run([{}], 'ws-metrics'));
      await rejection(runtime.run(version('export function transformBatch() { throw new Error("no"); }')([{}, {}], 'ws-metrics')));
      expect(reports).toHaveLength(3);
      expect(reports[0]).toMatchObject({ workspaceId: 'ws-metrics', eventsIn: 4, eventsOut: 3, dropped: 1, failed: 1, outcome: 'ok', coldStart: true });
      expect(reports[1]).toMatchObject({ eventsIn: 1, eventsOut: 1, dropped: 0, failed: 0, outcome: 'ok', coldStart: false });
      expect(reports[2]).toMatchObject({ eventsIn: 2, eventsOut: 0, failed: 2, outcome: 'batch_error' });
      for (const report of reports) expect(report.durationMs).toBeGreaterThanOrEqual(0);
    });
  });

  it('keeps serving when the sink throws', () =>
    withRuntime(
      {
        metrics: {
          onBatch: () => {
            throw new Error('sink down');
          },
        },
      },
      async (runtime) => {
        const out = await runtime.run(version(IDENTITY)([{ a: 1 }]));
        expect(out.results).toHaveLength(1);
      },
    ));
});
