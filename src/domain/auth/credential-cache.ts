import { hash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Credential } from './credential.js';

export interface CredentialCacheOptions {
  /** Credentials kept; 0 turns the cache off (every use is a store lookup). */
  size: number;
  /** How long a credential is trusted without a store read; 0 also turns the cache off. */
  ttlMs: number;
}

/**
 * Verified credentials by secret (bounded LRU, short TTL), with an index by id so a revocation or
 * rotation announced for "access:<id>" / "workspace:<id>" evicts the secret it concerns.
 */
export class CredentialCache {
  private readonly entries: LRUCache<string, Credential> | null;
  /** Credential id -> cache key; kept in step with `entries` by its dispose hook. */
  private readonly keys = new Map<string, string>();
  /** Bumped by every eviction, so a lookup that raced with one is used once but not cached. */
  private generation = 0;

  constructor(options: CredentialCacheOptions) {
    this.entries =
      options.size > 0 && options.ttlMs > 0
        ? new LRUCache<string, Credential>({
            max: options.size,
            ttl: options.ttlMs,
            dispose: (entry, key) => {
              if (this.keys.get(entry.id) === key) this.keys.delete(entry.id);
            },
          })
        : null;
  }

  /**
   * The cache key: a plain SHA-256 of the secret. A one-shot hash costs a fifth of the keyed
   * digest, and the secrets are random enough (178 bits) that it reveals nothing.
   */
  keyOf(secret: string): string {
    return hash('sha256', secret, 'base64');
  }

  get(key: string): Credential | undefined {
    return this.entries?.get(key);
  }

  /** A mark to pass to `remember` after a store lookup begun now. */
  mark(): number {
    return this.generation;
  }

  /** Keeps a credential read from the store, unless an eviction happened since `mark` (the row may predate it). */
  remember(key: string, entry: Credential, mark: number): void {
    if (!this.entries || mark !== this.generation) return;
    this.entries.set(key, entry);
    this.keys.set(entry.id, key);
  }

  /** Drops one credential ("access:<id>" or "workspace:<id>"). */
  evict(id: string): void {
    this.generation++;
    const key = this.keys.get(id);
    if (key !== undefined) this.entries?.delete(key);
    this.keys.delete(id);
  }

  clear(): void {
    this.generation++;
    this.entries?.clear();
    this.keys.clear();
  }
}
