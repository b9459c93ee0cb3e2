// Warm isolates per immutable version, bounded by count and by heap. Versions never change, so a
// compiled isolate stays valid until it is evicted, recycled or breaks a limit.
//
// A "pool" holds the isolates of one cache key (transformation version id + the version ids of the
// libraries it links). A hot pool may grow to `isolatesPerVersion` isolates so concurrent batches of
// one version use several cores. All isolates count against `maxIsolates`; when a new one is needed
// and the bound is reached, idle isolates of the least recently used pools are disposed. When every
// isolate is busy, requests wait (FIFO, without head-of-line blocking across pools).

import { RunError, type RuntimeCacheOptions } from './types.js';
import type { Sandbox } from './sandbox.js';

interface Pool {
  key: string;
  idle: Sandbox[];
  /** Idle + busy + being created. */
  size: number;
}

/** A request waiting for an isolate of one key, or (key null) for any free slot to build in. */
interface Waiter {
  key: string | null;
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

  /** A warm isolate for `key`, or a new one from `build`; waits when the bounds say so. */
  acquire(key: string, build: () => Promise<Sandbox>): Promise<Lease> {
    if (this.closed) return Promise.reject(new RunError('shutting_down', 'the runtime is shutting down'));
    const immediate = this.tryAcquire(key, build);
    if (immediate) return immediate;
    return this.wait(key, build) as Promise<Lease>;
  }

  private wait(key: string | null, build: () => Promise<Sandbox>): Promise<Lease | null> {
    return new Promise<Lease | null>((resolve, reject) => {
      const waiter: Waiter = { key, build, resolve, reject, timer: undefined };
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
  async acquireUnkeyed(build: () => Promise<Sandbox>, keyOf: (sandbox: Sandbox) => string): Promise<Lease> {
    if (this.closed) throw new RunError('shutting_down', 'the runtime is shutting down');
    // Without a key there is no idle isolate to reuse: wait for a free slot to build in.
    if (!this.reserveSlot(null)) await this.wait(null, build);
    let sandbox: Sandbox;
    try {
      this.misses++;
      sandbox = await build();
    } catch (error) {
      this.total--;
      this.pump();
      throw error;
    }
    const key = keyOf(sandbox);
    const pool = this.poolFor(key);
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

  private tryAcquire(key: string, build: () => Promise<Sandbox>): Promise<Lease> | null {
    const existing = this.pools.get(key);
    const sandbox = existing?.idle.pop();
    if (existing && sandbox) {
      this.touch(existing);
      this.hits++;
      this.busy.add(sandbox);
      return Promise.resolve({ sandbox, created: false });
    }
    if ((existing && existing.size >= this.options.isolatesPerVersion) || !this.reserveSlot(existing ?? null)) return null;
    const pool = this.poolFor(key);
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
        this.total--;
        if (pool.size === 0) this.pools.delete(pool.key);
        this.pump();
        throw error;
      },
    );
  }

  /** Takes one slot of maxIsolates, disposing the least recently used idle isolate if needed. */
  private reserveSlot(forPool: Pool | null): boolean {
    if (this.total < this.options.maxIsolates) {
      this.total++;
      return true;
    }
    for (const pool of this.pools.values()) {
      if (pool === forPool) continue;
      const victim = pool.idle.shift();
      if (victim) {
        this.evictions++;
        this.discard(victim, pool);
        this.total++;
        return true;
      }
    }
    return false;
  }

  /** The pool for `key` (created if needed), marked most recently used. */
  private poolFor(key: string): Pool {
    const pool = this.pools.get(key) ?? { key, idle: [], size: 0 };
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
      pool.size--;
      if (pool.size <= 0 && this.pools.get(pool.key) === pool) this.pools.delete(pool.key);
    }
  }

  /** Disposes idle isolates (least recently used first) while all heaps together exceed the bound. */
  private trimHeap(): void {
    const limit = this.options.maxTotalHeapMb * ONE_MB;
    let heap = this.heapUsedBytes();
    if (heap <= limit) return;
    for (const pool of [...this.pools.values()]) {
      while (heap > limit && pool.idle.length > 0) {
        const victim = pool.idle.shift() as Sandbox;
        heap -= victim.heapUsedBytes;
        this.evictions++;
        this.discard(victim, pool);
      }
      if (heap <= limit) return;
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
        if (this.reserveSlot(null)) {
          served = true;
          waiter.resolve(null);
        }
      } else {
        const lease = this.tryAcquire(waiter.key, waiter.build);
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
