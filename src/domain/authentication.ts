import { hash } from 'node:crypto';
import type { BlockList } from 'node:net';
import { sql } from 'kysely';
import type { Store } from '../store/db.js';
import { compileAllowList, ipAllowed, type AccessTokenRecord, type Scope } from './access-tokens.js';
import { recordAudit } from './audit.js';
import { digestSecret, digestsEqual, secretKind, type SecretKind } from './secrets.js';
import { TOKENS_CHANNEL } from './workspaces.js';

export type Principal =
  | { kind: 'workspace'; workspaceId: string }
  | {
      kind: 'access';
      workspaceId: string;
      tokenId: string;
      memberId: string;
      email: string;
      scopes: Scope[];
      /** The token's stored fields as last read (last use kept current by this instance). */
      record: AccessTokenRecord;
    };

export type AuthFailureReason =
  | 'missing'
  | 'bad_scheme'
  | 'malformed'
  | 'unknown'
  | 'revoked'
  | 'expired'
  | 'rotated_out'
  | 'ip_not_allowed'
  | 'email_mismatch'
  | 'wrong_kind';

export type VerifyResult = { ok: true; principal: Principal } | { ok: false; reason: AuthFailureReason };

export interface VerifyContext {
  ip: string;
  /** The Basic user name given beside an access token; must then be the token's owner. */
  email?: string | null;
  userAgent?: string | null;
}

const MALFORMED: VerifyResult = Object.freeze({ ok: false, reason: 'malformed' });
const UNKNOWN: VerifyResult = Object.freeze({ ok: false, reason: 'unknown' });

interface CachedCredential {
  principal: Principal;
  /** The cache key: SHA-256 of the secret (see `verify`). */
  key: string;
  expiresAt: number | null;
  graceUntil: number | null;
  revoked: boolean;
  allowList: BlockList | null;
  cachedUntil: number;
}

export interface VerifierOptions {
  cacheSize: number;
  cacheTtlMs: number;
  onCacheLookup?: (hit: boolean) => void;
  onBackgroundError?: (err: unknown) => void;
}

const LAST_USED_INTERVAL_MS = 60_000;
/** Last-use writes are gathered this long and committed together: one transaction, not one per token. */
const LAST_USED_FLUSH_MS = 1000;
const LAST_USED_BATCH = 500;
const FAILURE_AUDIT_INTERVAL_MS = 10_000;
const SQLITE_WATCH_INTERVAL_MS = 250;

/**
 * Turns a presented secret into a principal. Checksums are checked before any lookup; verified
 * credentials are cached in-process (bounded LRU, short TTL) and evicted at once on revocation,
 * here and, through the store's change channel, on every other instance.
 */
export class CredentialVerifier {
  private readonly cache = new Map<string, CachedCredential>();
  /** "access:<id>" or "workspace:<id>" -> cache key, so announcements can evict by id. */
  private readonly keys = new Map<string, string>();
  private readonly lastUsedWrites = new Map<string, number>();
  /** Bumped by every eviction, so a lookup that raced with one is used once but not cached. */
  private generation = 0;
  private dataVersionTimer: NodeJS.Timeout | undefined;
  private readonly pendingUses = new Map<string, { at: string; ip: string }>();
  private flushTimer: NodeJS.Timeout | undefined;
  /** token|reason|ip -> when its last failure was audited. */
  private readonly failureAudits = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly pepper: Buffer,
    private readonly options: VerifierOptions,
  ) {}

  async start(): Promise<void> {
    await this.store.listen(TOKENS_CHANNEL, (key) => this.evict(key), () => this.clear());
    if (this.store.dialect === 'sqlite') await this.watchSqliteWriters();
  }

  /** Stops background work and writes the last uses still pending. Call before closing the store. */
  async stop(): Promise<void> {
    if (this.dataVersionTimer) clearInterval(this.dataVersionTimer);
    this.dataVersionTimer = undefined;
    await this.flushUses();
  }

  /**
   * Announcements on SQLite reach only this process, but the CLI (e.g. `workspace rotate-token`)
   * writes from another one. SQLite's data_version changes whenever another connection commits, so
   * polling it bounds how long such a change can hide behind the cache.
   */
  private async watchSqliteWriters(): Promise<void> {
    const read = async (): Promise<number> => {
      const result = await sql<{ data_version: number }>`pragma data_version`.execute(this.store.db);
      return Number(result.rows[0]?.data_version ?? 0);
    };
    let seen = await read();
    this.dataVersionTimer = setInterval(() => {
      read().then(
        (version) => {
          if (version !== seen) this.clear();
          seen = version;
        },
        // The store was closed: nothing left to watch.
        () => {
          clearInterval(this.dataVersionTimer);
          this.dataVersionTimer = undefined;
        },
      );
    }, SQLITE_WATCH_INTERVAL_MS);
    this.dataVersionTimer.unref();
  }

  /** Drops one credential ("access:<id>" or "workspace:<id>") from this instance's cache. */
  evict(key: string): void {
    this.generation++;
    const cacheKey = this.keys.get(key);
    if (cacheKey !== undefined) this.cache.delete(cacheKey);
    this.keys.delete(key);
  }

  clear(): void {
    this.generation++;
    this.cache.clear();
    this.keys.clear();
  }

  /**
   * Verifies a presented secret. A cached credential is answered synchronously (no promise on the
   * hot path); otherwise the answer is a promise of the store lookup. `await` works for both.
   *
   * The cache is keyed by a plain SHA-256 of the secret: a one-shot hash costs a fifth of the
   * keyed digest, and the secrets are random enough (178 bits) that it reveals nothing. The keyed
   * digest, compared in constant time, is computed only to look a secret up in the store, and only
   * once its checksum holds.
   */
  verify(secret: string, context: VerifyContext): VerifyResult | Promise<VerifyResult> {
    const key = hash('sha256', secret, 'base64');
    const now = Date.now();
    const entry = this.cache.get(key);
    if (entry && entry.cachedUntil > now) {
      // Map order is the LRU order: re-insert on every hit.
      this.cache.delete(key);
      this.cache.set(key, entry);
      this.options.onCacheLookup?.(true);
      return this.conclude(entry, now, context);
    }
    const kind = secretKind(secret);
    if (kind === null) return MALFORMED;
    this.options.onCacheLookup?.(false);
    return this.verifyFromStore(kind, digestSecret(this.pepper, secret), key, now, context);
  }

  private async verifyFromStore(kind: SecretKind, digest: string, key: string, now: number, context: VerifyContext): Promise<VerifyResult> {
    const generation = this.generation;
    const entry = await this.load(kind, digest, key, now);
    if (!entry) return UNKNOWN;
    // An eviction during the lookup may concern this very row, read before the change committed.
    if (generation === this.generation) this.remember(entry);
    return this.conclude(entry, now, context);
  }

  private conclude(entry: CachedCredential, now: number, context: VerifyContext): VerifyResult {
    const failure = this.check(entry, now, context);
    if (failure) {
      this.auditFailure(entry.principal, failure, context);
      return { ok: false, reason: failure };
    }
    if (entry.principal.kind === 'access') this.touch(entry.principal.record, context.ip, now);
    return { ok: true, principal: entry.principal };
  }

  private check(entry: CachedCredential, now: number, context: VerifyContext): AuthFailureReason | null {
    if (entry.graceUntil !== null && now >= entry.graceUntil) return 'rotated_out';
    if (entry.revoked) return 'revoked';
    if (entry.expiresAt !== null && now >= entry.expiresAt) return 'expired';
    if (entry.allowList && !ipAllowed(entry.allowList, context.ip)) return 'ip_not_allowed';
    if (context.email && entry.principal.kind === 'access' && context.email.toLowerCase() !== entry.principal.email) return 'email_mismatch';
    return null;
  }

  private async load(kind: SecretKind, digest: string, key: string, now: number): Promise<CachedCredential | undefined> {
    const cachedUntil = now + this.options.cacheTtlMs;
    if (kind === 'workspace') {
      const row = await this.store.db.selectFrom('workspaces').select(['id', 'token_digest']).where('token_digest', '=', digest).executeTakeFirst();
      if (!row || !digestsEqual(row.token_digest, digest)) return undefined;
      return { principal: { kind: 'workspace', workspaceId: row.id }, key, expiresAt: null, graceUntil: null, revoked: false, allowList: null, cachedUntil };
    }
    const row = await this.store.db
      .selectFrom('access_tokens')
      .innerJoin('members', 'members.id', 'access_tokens.member_id')
      .selectAll('access_tokens')
      .select('members.email')
      .where('access_tokens.digest', '=', digest)
      .executeTakeFirst();
    if (!row || !digestsEqual(row.digest, digest)) return undefined;
    if (row.last_used_at) this.lastUsedWrites.set(row.id, Date.parse(row.last_used_at));
    const { digest: _storedDigest, ...record } = row;
    const pending = this.pendingUses.get(row.id);
    if (pending) Object.assign(record, { last_used_at: pending.at, last_used_ip: pending.ip });
    return {
      principal: { kind: 'access', workspaceId: row.workspace_id, tokenId: row.id, memberId: row.member_id, email: row.email, scopes: row.scopes.split(',') as Scope[], record },
      key,
      expiresAt: row.expires_at === null ? null : Date.parse(row.expires_at),
      graceUntil: row.grace_until === null ? null : Date.parse(row.grace_until),
      revoked: row.revoked_at !== null,
      allowList: row.allowed_ips === null ? null : compileAllowList(JSON.parse(row.allowed_ips) as string[]),
      cachedUntil,
    };
  }

  private remember(entry: CachedCredential): void {
    if (this.options.cacheSize <= 0) return;
    const key = entry.principal.kind === 'access' ? `access:${entry.principal.tokenId}` : `workspace:${entry.principal.workspaceId}`;
    this.cache.set(entry.key, entry);
    this.keys.set(key, entry.key);
    while (this.cache.size > this.options.cacheSize) {
      const oldest = this.cache.keys().next().value as string;
      this.cache.delete(oldest);
    }
    if (this.keys.size > this.options.cacheSize * 2) {
      for (const [k, d] of this.keys) if (!this.cache.has(d)) this.keys.delete(k);
    }
  }

  /**
   * Records last use at most once a minute per token, off the request's path: uses are gathered
   * and committed together, so a burst of first uses costs one commit (one fsync on SQLite), not one each.
   */
  private touch(record: AccessTokenRecord, ip: string, now: number): void {
    const last = this.lastUsedWrites.get(record.id) ?? 0;
    if (now - last < LAST_USED_INTERVAL_MS) return;
    this.lastUsedWrites.set(record.id, now);
    if (this.lastUsedWrites.size > Math.max(1000, this.options.cacheSize * 2)) this.lastUsedWrites.clear();
    const use = { at: new Date(now).toISOString(), ip: ip.slice(0, 64) };
    // The cached record answers GET /accessTokens/self, so it shows the use at once.
    record.last_used_at = use.at;
    record.last_used_ip = use.ip;
    this.pendingUses.set(record.id, use);
    if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => void this.flushUses(), LAST_USED_FLUSH_MS);
      this.flushTimer.unref();
    }
  }

  private async flushUses(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    while (this.pendingUses.size > 0) {
      const batch = [...this.pendingUses].slice(0, LAST_USED_BATCH);
      for (const [id] of batch) this.pendingUses.delete(id);
      try {
        await this.store.db.transaction().execute(async (trx) => {
          for (const [id, use] of batch) {
            // Another instance may have written a use in the meantime: keep to once a minute overall.
            const threshold = new Date(Date.parse(use.at) - LAST_USED_INTERVAL_MS).toISOString();
            await trx
              .updateTable('access_tokens')
              .set({ last_used_at: use.at, last_used_ip: use.ip })
              .where('id', '=', id)
              .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<=', threshold)]))
              .execute();
          }
        });
      } catch (err) {
        // Last use is informational: when the store is closed or away the batch is dropped, quietly
        // if the store is gone for good (shutdown), reported otherwise.
        if (await this.store.ping()) this.options.onBackgroundError?.(err);
        return;
      }
    }
  }

  /**
   * Failures of real tokens go to their workspace's audit log; the secret never does. One event per
   * token, reason and address every few seconds is enough to see what happens, and a script
   * replaying a dead token cannot turn each attempt into a database write.
   */
  private auditFailure(principal: Principal, reason: AuthFailureReason, context: VerifyContext): void {
    const actor = principal.kind === 'access' ? { type: 'access_token' as const, id: principal.tokenId } : { type: 'workspace' as const, id: principal.workspaceId };
    const dedupeKey = `${actor.id}|${reason}|${context.ip}`;
    const now = Date.now();
    if ((this.failureAudits.get(dedupeKey) ?? 0) > now - FAILURE_AUDIT_INTERVAL_MS) return;
    if (this.failureAudits.size >= 10_000) this.failureAudits.clear();
    this.failureAudits.set(dedupeKey, now);
    const action = reason === 'rotated_out' ? 'access_token.reuse' : 'auth.failure';
    recordAudit(this.store.db, principal.workspaceId, { ...actor, ip: context.ip, userAgent: context.userAgent ?? null }, { action, target: actor.id, outcome: 'failure', reason }).catch((err: unknown) =>
      this.options.onBackgroundError?.(err),
    );
  }
}
