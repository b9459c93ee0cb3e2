// Warm isolates per immutable version, bounded by count and by heap. Versions never change, so a
// compiled isolate stays valid until it is evicted, recycled or breaks a limit.
//
// A "pool" holds the isolates of one cache key (transformation version id + the version ids of the
// libraries it links). A hot pool may grow to `isolatesPerVersion` isolates so concurrent batches of
// one version use several cores. All isolates count against `maxIsolates`; when a new one is needed
// and the bound is reached, an idle isolate is disposed to make room: of the requesting workspace
// when it is at its own bound (maxIsolatesPerWorkspace) or holds the most, else of the workspace
// holding the most isolates, least recently used first. So one workspace's burst of distinct
// versions (70 test snippets, say) evicts its own isolates, never a smaller workspace's. When every
// isolate is busy, requests wait (FIFO, without head-of-line blocking across pools).
//
// An isolate whose batch is only waiting on outbound calls (fetch) does not count against
// isolatesPerVersion: the version's next batch gets an isolate of its own rather than queueing
// behind a network wait. The extra isolates still count against every other bound, and a pool
// that grew this way shrinks back as its isolates come back (release discards the overfull ones).

import { RunError, type RuntimeCacheOptions } from './types.js';
import type { Sandbox } from './sandbox.js';

interface Pool {
  key: string;
  workspace: string;
  idle: Sandbox[];
  /** Idle + busy + being created. */
  size: number;
}

/** A request waiting for an isolate of one key, or (key null) for any free slot to build in. */
interface Waiter {
  key: string | null;
  workspace: string;
  build: () => Promise<Sandbox>;
  resolve: (lease: Lease | null) => void;
  reject: (error: unknown) => void;
  timer: NodeJS.Timeout | undefined;
}

export interface Lease {
  sandbox: Sandbox;
  /** Whether this request had to build the isolate (a cold start). */
  created: boolean;
}

const ONE_MB = 1024 * 1024;

export class SandboxCache {
  private readonly pools = new Map<string, Pool>();
  private readonly waiters: Waiter[] = [];
  private readonly busy = new Set<Sandbox>();
  private total = 0;
  /** Isolates (idle, busy and being built) per workspace. */
  private readonly held = new Map<string, number>();
  private closed = false;
  private readonly sweepTimer: NodeJS.Timeout | undefined;

  hits = 0;
  misses = 0;
  evictions = 0;
  recycled = 0;

  constructor(
    private readonly options: RuntimeCacheOptions,
    private readonly queueTimeoutMs: number,
  ) {
    if (options.idleTtlMs > 0) {
      this.sweepTimer = setInterval(() => this.sweepIdle(), Math.min(options.idleTtlMs, 60_000));
      this.sweepTimer.unref();
    }
  }

  get isolateCount(): number {
    return this.total;
  }

  get busyCount(): number {
    return this.busy.size;
  }

  get versionCount(): number {
    return this.pools.size;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  heapUsedBytes(): number {
    let sum = 0;
    for (const pool of this.pools.values()) for (const sandbox of pool.idle) sum += sandbox.heapUsedBytes;
    for (const sandbox of this.busy) sum += sandbox.heapUsedBytes;
    return sum;
  }

  /** Isolates `workspace` holds (idle, busy and being built). */
  heldBy(workspace: string): number {
    return this.held.get(workspace) ?? 0;
  }

  /** A busy isolate's batch began waiting on outbound calls: its pool may grow by one. */
  waitingOnOutbound(): void {
    this.pump();
  }

  /** Isolates of `pool` that count against isolatesPerVersion: all but those waiting on the network. */
  private computing(pool: Pool): number {
    let waiting = 0;
    for (const sandbox of this.busy) if (sandbox.waitingOnOutbound && poolOf.get(sandbox) === pool) waiting++;
    return pool.size - waiting;
  }

  /** A warm isolate for `key`, or a new one from `build`; waits when the bounds say so. */
  acquire(key: string, workspace: string, build: () => Promise<Sandbox>): Promise<Lease> {
    if (this.closed) return Promise.reject(new RunError('shutting_down', 'the runtime is shutting down'));
    const immediate = this.tryAcquire(key, workspace, build);
    if (immediate) return immediate;
    return this.wait(key, workspace, build) as Promise<Lease>;
  }

  private wait(key: string | null, workspace: string, build: () => Promise<Sandbox>): Promise<Lease | null> {
    return new Promise<Lease | null>((resolve, reject) => {
      const waiter: Waiter = { key, workspace, build, resolve, reject, timer: undefined };
      waiter.timer = setTimeout(() => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        reject(new RunError('overloaded', `no sandbox became available within ${this.queueTimeoutMs} ms`));
      }, this.queueTimeoutMs);
      waiter.timer.unref();
      this.waiters.push(waiter);
    });
  }

  /**
   * Builds an isolate outside any pool (used when the cache key is not known until the code is
   * compiled), then files it under the key the build reports. Counts against maxIsolates meanwhile.
   */
  async acquireUnkeyed(workspace: string, build: () => Promise<Sandbox>, keyOf: (sandbox: Sandbox) => string): Promise<Lease> {
    if (this.closed) throw new RunError('shutting_down', 'the runtime is shutting down');
    // Without a key there is no idle isolate to reuse: wait for a free slot to build in.
    if (!this.reserveSlot(null, workspace)) await this.wait(null, workspace, build);
    let sandbox: Sandbox;
    try {
      this.misses++;
      sandbox = await build();
    } catch (error) {
      this.unreserve(workspace);
      this.pump();
      throw error;
    }
    const key = keyOf(sandbox);
    const pool = this.poolFor(key, workspace);
    pool.size++;
    this.busy.add(sandbox);
    poolOf.set(sandbox, pool);
    return { sandbox, created: true };
  }

  /** Returns an isolate after a run; `retire` disposes it instead of keeping it warm. */
  release(sandbox: Sandbox, retire: boolean): void {
    this.busy.delete(sandbox);
    const pool = poolOf.get(sandbox);
    const overfull = pool !== undefined && pool.size > this.options.isolatesPerVersion;
    if (retire || overfull || this.closed || sandbox.retired || sandbox.disposed || !pool || this.pools.get(pool.key) !== pool) {
      if (retire && !sandbox.killedBy) this.recycled++;
      this.discard(sandbox, pool);
    } else {
      sandbox.lastUsedAt = Date.now();
      pool.idle.push(sandbox);
      this.trimHeap();
    }
    this.pump();
  }

  /** Disposes every isolate; waiting requests fail. Busy isolates are disposed under their runs. */
  close(): void {
    this.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(new RunError('shutting_down', 'the runtime is shutting down'));
    }
    for (const pool of [...this.pools.values()]) {
      for (const sandbox of pool.idle.splice(0)) this.discard(sandbox, pool);
    }
    // Busy isolates die under their runs; release() then takes them off the books.
    for (const sandbox of this.busy) sandbox.dispose();
  }

  private tryAcquire(key: string, workspace: string, build: () => Promise<Sandbox>): Promise<Lease> | null {
    const existing = this.pools.get(key);
    const sandbox = existing?.idle.pop();
    if (existing && sandbox) {
      this.touch(existing);
      this.hits++;
      this.busy.add(sandbox);
      return Promise.resolve({ sandbox, created: false });
    }
    if ((existing && existing.size >= this.options.isolatesPerVersion && this.computing(existing) >= this.options.isolatesPerVersion) || !this.reserveSlot(existing ?? null, workspace)) return null;
    const pool = this.poolFor(key, workspace);
    pool.size++;
    this.misses++;
    return build().then(
      (created) => {
        poolOf.set(created, pool);
        this.busy.add(created);
        return { sandbox: created, created: true };
      },
      (error: unknown) => {
        pool.size--;
        this.unreserve(pool.workspace);
        if (pool.size === 0) this.pools.delete(pool.key);
        this.pump();
        throw error;
      },
    );
  }

  /**
   * Takes one slot of maxIsolates for `workspace`, disposing an idle isolate to make room when a
   * bound says so: the workspace's own past its bound, else (the process is full) one of the
   * workspace holding the most, as long as that holds more than `workspace` does.
   */
  private reserveSlot(forPool: Pool | null, workspace: string): boolean {
    const mine = this.heldBy(workspace);
    let victimPool: Pool | undefined;
    if (mine >= this.options.maxIsolatesPerWorkspace) {
      victimPool = this.largestIdleHolder(forPool, (candidate) => candidate === workspace);
      if (!victimPool) return false;
    } else if (this.total >= this.options.maxIsolates) {
      victimPool = this.largestIdleHolder(forPool, (candidate) => candidate === workspace || this.heldBy(candidate) > mine);
      if (!victimPool) return false;
    }
    if (victimPool) {
      this.evictions++;
      this.discard(victimPool.idle.shift() as Sandbox, victimPool);
    }
    this.total++;
    this.held.set(workspace, mine + (victimPool?.workspace === workspace ? 0 : 1));
    return true;
  }

  /** Gives back a slot reserveSlot took for an isolate that was never built. */
  private unreserve(workspace: string): void {
    this.total--;
    this.dropHeld(workspace);
  }

  /** One isolate fewer for `workspace`. */
  private dropHeld(workspace: string): void {
    const left = this.heldBy(workspace) - 1;
    if (left > 0) this.held.set(workspace, left);
    else this.held.delete(workspace);
  }

  /** The least recently used pool with an idle isolate among those of the workspace holding the most (of the allowed ones). */
  private largestIdleHolder(exclude: Pool | null, allowed: (workspace: string) => boolean): Pool | undefined {
    let best: Pool | undefined;
    let bestHeld = 0;
    for (const pool of this.pools.values()) {
      if (pool === exclude || pool.idle.length === 0 || !allowed(pool.workspace)) continue;
      const held = this.heldBy(pool.workspace);
      if (held > bestHeld) {
        best = pool;
        bestHeld = held;
      }
    }
    return best;
  }

  /** The pool for `key` (created if needed), marked most recently used. */
  private poolFor(key: string, workspace: string): Pool {
    const pool = this.pools.get(key) ?? { key, workspace, idle: [], size: 0 };
    this.touch(pool);
    return pool;
  }

  private touch(pool: Pool): void {
    this.pools.delete(pool.key);
    this.pools.set(pool.key, pool);
  }

  private discard(sandbox: Sandbox, pool: Pool | undefined): void {
    sandbox.dispose();
    this.total--;
    if (pool) {
      this.dropHeld(pool.workspace);
      pool.size--;
      if (pool.size <= 0 && this.pools.get(pool.key) === pool) this.pools.delete(pool.key);
    }
  }

  /** Disposes idle isolates (of the largest holder, least recently used first) while all heaps together exceed the bound. */
  private trimHeap(): void {
    const limit = this.options.maxTotalHeapMb * ONE_MB;
    let heap = this.heapUsedBytes();
    while (heap > limit) {
      const pool = this.largestIdleHolder(null, () => true);
      if (!pool) return;
      const victim = pool.idle.shift() as Sandbox;
      heap -= victim.heapUsedBytes;
      this.evictions++;
      this.discard(victim, pool);
    }
  }

  private sweepIdle(): void {
    const cutoff = Date.now() - this.options.idleTtlMs;
    for (const pool of [...this.pools.values()]) {
      const keep: Sandbox[] = [];
      const expired: Sandbox[] = [];
      for (const sandbox of pool.idle) (sandbox.lastUsedAt < cutoff ? expired : keep).push(sandbox);
      pool.idle = keep;
      for (const sandbox of expired) {
        this.evictions++;
        this.discard(sandbox, pool);
      }
    }
    this.pump();
  }

  /** Serves waiting requests that can now proceed, in arrival order. */
  private pump(): void {
    for (let i = 0; i < this.waiters.length && !this.closed; ) {
      const waiter = this.waiters[i] as Waiter;
      let served = false;
      if (waiter.key === null) {
        if (this.reserveSlot(null, waiter.workspace)) {
          served = true;
          waiter.resolve(null);
        }
      } else {
        const lease = this.tryAcquire(waiter.key, waiter.workspace, waiter.build);
        if (lease) {
          served = true;
          lease.then(waiter.resolve, waiter.reject);
        }
      }
      if (served) {
        clearTimeout(waiter.timer);
        this.waiters.splice(i, 1);
      } else {
        i++;
      }
    }
  }
}

/** Which pool an isolate belongs to; kept outside Sandbox so the cache owns that bookkeeping. */
const poolOf = new WeakMap<Sandbox, Pool>();
