import { LRUCache } from 'lru-cache';

// A read-through cache of one value per workspace, for what every instance derives from the store
// and must drop at once when it changes (the credentials user code reads, the configuration
// rudder-server polls). A change evicts its workspace here (the writer calls invalidate, and each
// instance's listener does for the others' announcements); the TTL bounds what a lost announcement
// can cost. A load that a change overtook is answered but not kept, so an eviction can never be
// undone by a read that started before it.

export interface WorkspaceCacheOptions<T> {
  maxWorkspaces: number;
  ttlMs: number;
  /** Bound on the summed `sizeOf` of the cached values. */
  maxSize: number;
  sizeOf: (value: T) => number;
}

export class WorkspaceCache<T extends {}> {
  private readonly cache: LRUCache<string, T>;
  /** Loads in flight by workspace; `stale` once a change made their answer too old to keep. */
  private readonly pending = new Map<string, { promise: Promise<T>; stale: boolean }>();

  constructor(
    private readonly load: (workspaceId: string) => Promise<T>,
    options: WorkspaceCacheOptions<T>,
  ) {
    this.cache = new LRUCache({ max: options.maxWorkspaces, ttl: options.ttlMs, maxSize: options.maxSize, sizeCalculation: (value) => Math.max(1, options.sizeOf(value)) });
  }

  get(workspaceId: string): Promise<T> {
    const cached = this.cache.get(workspaceId);
    if (cached) return Promise.resolve(cached);
    const inFlight = this.pending.get(workspaceId);
    if (inFlight) return inFlight.promise;
    const entry = { promise: undefined as unknown as Promise<T>, stale: false };
    entry.promise = this.load(workspaceId)
      .then((value) => {
        if (!entry.stale) this.cache.set(workspaceId, value);
        return value;
      })
      .finally(() => {
        if (this.pending.get(workspaceId) === entry) this.pending.delete(workspaceId);
      });
    this.pending.set(workspaceId, entry);
    return entry.promise;
  }

  invalidate(workspaceId: string): void {
    this.cache.delete(workspaceId);
    const inFlight = this.pending.get(workspaceId);
    if (inFlight) {
      inFlight.stale = true;
      this.pending.delete(workspaceId);
    }
  }

  clear(): void {
    this.cache.clear();
    for (const inFlight of this.pending.values()) inFlight.stale = true;
    this.pending.clear();
  }
}
