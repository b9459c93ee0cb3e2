import type { Store } from '../../store/db.js';
import type { AccessTokenRecord } from '../access-tokens.js';
import { writeLastUses, type TokenUse } from './tokens-store.js';

/** A token's last use is written at most this often. */
export const LAST_USED_INTERVAL_MS = 60_000;
/** Last-use writes are gathered this long and committed together: one transaction, not one per token. */
const LAST_USED_FLUSH_MS = 1000;
const LAST_USED_BATCH = 500;

/** An access token's record as a credential holds it, with when its last use was stored or queued (ms). */
export interface TokenUsage {
  record: AccessTokenRecord;
  lastUseAt: number;
}

export function tokenUsage(record: AccessTokenRecord): TokenUsage {
  return { record, lastUseAt: record.last_used_at === null ? 0 : Date.parse(record.last_used_at) };
}

/**
 * Records last use at most once a minute per token, off the request's path: uses are gathered and
 * committed together, so a burst of first uses costs one commit (one fsync on SQLite), not one each.
 * Most uses cost one comparison: the credential carries when its token's last use was recorded.
 * Its record answers GET /accessTokens/self, so it is updated at once.
 */
export class LastUseWriter {
  private readonly pending = new Map<string, TokenUse>();
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: Store,
    private readonly onError?: (err: unknown) => void,
  ) {}

  /** A row just read from the store (before a credential is built from it): shows a use still queued here. */
  loaded(record: AccessTokenRecord): void {
    const pending = this.pending.get(record.id);
    if (pending) {
      record.last_used_at = pending.at;
      record.last_used_ip = pending.ip;
    }
  }

  use(usage: TokenUsage, ip: string, now: number): void {
    if (now - usage.lastUseAt < LAST_USED_INTERVAL_MS) return;
    usage.lastUseAt = now;
    const { record } = usage;
    const use = { at: new Date(now).toISOString(), ip: ip.slice(0, 64) };
    record.last_used_at = use.at;
    record.last_used_ip = use.ip;
    this.pending.set(record.id, use);
    if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => void this.flush(), LAST_USED_FLUSH_MS);
      this.flushTimer.unref();
    }
  }

  /** Writes every queued use now (also on shutdown, before the store closes). */
  async flush(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    while (this.pending.size > 0) {
      const batch = [...this.pending].slice(0, LAST_USED_BATCH);
      for (const [id] of batch) this.pending.delete(id);
      try {
        await writeLastUses(this.store.db, batch, LAST_USED_INTERVAL_MS);
      } catch (err) {
        // Last use is informational: when the store is closed or away the batch is dropped, quietly
        // if the store is gone for good (shutdown), reported otherwise.
        if (await this.store.ping()) this.onError?.(err);
        return;
      }
    }
  }
}
