import { describe, expect, it } from 'vitest';
import { createRuntime, type SandboxHostEvent } from '../../../src/runtime/index.js';
import { affinityOrder } from '../../../src/runtime/pool.js';
import { defaultQuarantineOptions, QuarantineBook } from '../../../src/runtime/quarantine.js';
import { input } from './helpers.js';

const IDENTITY = 'export function transformEvent(e) { e.seen = true; return e; }';

describe('affinityOrder', () => {
  it('is a stable permutation of the slots for each workspace', () => {
    for (const workspace of ['a', 'b', 'workspace-3']) {
      const order = affinityOrder(workspace, 4);
      expect([...order].sort()).toEqual([0, 1, 2, 3]);
      expect(affinityOrder(workspace, 4)).toEqual(order);
    }
  });

  it('spreads workspaces over the slots, and moves few of them when a slot is added', () => {
    const workspaces = Array.from({ length: 2000 }, (_, i) => `ws-${i}`);
    const counts = [0, 0, 0, 0];
    for (const ws of workspaces) counts[affinityOrder(ws, 4)[0]!]!++;
    for (const count of counts) expect(count).toBeGreaterThan(400);
    // Rendezvous hashing: going from 4 to 5 slots moves only the workspaces the new slot wins.
    const moved = workspaces.filter((ws) => affinityOrder(ws, 4)[0] !== affinityOrder(ws, 5)[0]);
    expect(moved.every((ws) => affinityOrder(ws, 5)[0] === 4)).toBe(true);
    expect(moved.length).toBeLessThan(workspaces.length * 0.3);
  });
});

describe('QuarantineBook', () => {
  const options = { ...defaultQuarantineOptions, baseMs: 1000, maxMs: 8000, strikeWindowMs: 10_000, inlineCrashLimit: 3, inlineWindowMs: 60_000 };

  it('quarantines a convicted key with a back-off that doubles up to the cap', () => {
    const book = new QuarantineBook(options);
    let now = 0;
    const lengths: number[] = [];
    for (let i = 0; i < 6; i++) {
      const { until, count } = book.convict('v1', 'crash', now);
      expect(count).toBe(i + 1);
      lengths.push(until - now);
      expect(book.quarantinedUntil('v1', now)).toBe(until);
      expect(book.quarantinedUntil('v1', until)).toBeUndefined();
      now = until + 1;
    }
    expect(lengths).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
    expect(book.quarantinedUntil('v2', 0)).toBeUndefined();
    expect(book.total).toBe(6);
  });

  it('forgives after a quiet period of twice the cap', () => {
    const book = new QuarantineBook(options);
    const first = book.convict('v1', 'crash', 0);
    const again = book.convict('v1', 'crash', first.until + 2 * options.maxMs + 1);
    expect(again.count).toBe(1);
  });

  it('quarantines on the second unexplained strike within the window only', () => {
    const book = new QuarantineBook(options);
    expect(book.strike('v1', 'SIGKILL', 0)).toBeUndefined();
    expect(book.strike('v1', 'SIGKILL', 20_000)).toBeUndefined();
    const quarantine = book.strike('v1', 'SIGKILL', 25_000);
    expect(quarantine).toEqual({ until: 26_000, count: 1 });
    expect(book.activeCount(25_500)).toBe(1);
  });

  it('refuses a workspace inline code after the crash limit until the oldest counted crash ages out', () => {
    const book = new QuarantineBook(options);
    book.inlineCrash('ws', 0);
    book.inlineCrash('ws', 10_000);
    expect(book.inlineBlockedFor('ws', 10_000)).toBe(0);
    book.inlineCrash('ws', 20_000);
    expect(book.inlineBlockedFor('ws', 20_000)).toBe(40_000);
    expect(book.inlineBlockedFor('other', 20_000)).toBe(0);
    expect(book.inlineBlockedFor('ws', 60_001)).toBe(0);
  });
});

describe('the sandbox process pool', () => {
  it('replaces a host past its memory bound without failing a batch', async () => {
    const events: SandboxHostEvent[] = [];
    // Any running host is past 1 MB, so each one is replaced after its first batches.
    const runtime = createRuntime({ processes: 1, processMaxRssMb: 1, onHostEvent: (event) => events.push(event) });
    try {
      for (let i = 0; i < 12; i++) {
        const out = await runtime.run(input(IDENTITY, [{ n: i }]));
        expect(out.results).toHaveLength(1);
        expect(out.results[0]).toMatchObject({ statusCode: 200 });
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const hosts = runtime.stats().hosts!;
      expect(hosts.restarts.memory).toBeGreaterThanOrEqual(1);
      expect(hosts.restarts.crash).toBe(0);
      expect(events.some((event) => event.type === 'recycling')).toBe(true);
      expect(events.filter((event) => event.type === 'exited').every((event) => event.type === 'exited' && event.expected && event.lostBatches === 0)).toBe(true);
    } finally {
      await runtime.close();
    }
  }, 60_000);

  it('answers sandbox_unavailable rather than waiting forever when no host comes up in time', async () => {
    const runtime = createRuntime({ processes: 1, queueTimeoutMs: 1, limits: { wallTimeMs: 1000, cpuTimeMs: 500 } });
    try {
      // The host cannot be ready within 1 ms of start.
      await expect(runtime.run(input(IDENTITY, [{}]))).rejects.toMatchObject({ code: 'sandbox_unavailable' });
      expect(runtime.stats().hosts!.ready + runtime.stats().hosts!.starting).toBe(1);
    } finally {
      await runtime.close();
    }
  });

  it('ends every host on close, and refuses runs afterwards', async () => {
    const runtime = createRuntime({ processes: 2 });
    await runtime.run(input(IDENTITY, [{}]));
    const pids = runtime.stats().hosts!.processes.map((p) => p.pid);
    expect(pids).toHaveLength(2);
    await runtime.close();
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
    await expect(runtime.run(input(IDENTITY, [{}]))).rejects.toMatchObject({ code: 'shutting_down' });
  }, 30_000);
});
