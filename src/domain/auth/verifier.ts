// Authentication, top-down: a secret from the Authorization header (src/http/auth.ts) is looked up
// in the credential cache; on a miss its checksum is checked (secrets.ts), its keyed digest computed
// and its row read (tokens-store.ts), and the credential built from the row (credential.ts) is
// cached. Every use is then checked against the credential's rules, and its last use or failure
// recorded off the request's path (last-use.ts, failure-audit.ts).
import type { Store } from '../../store/db.js';
import { digestSecret, secretKind, type SecretKind } from '../secrets.js';
import { CredentialCache } from './credential-cache.js';
import { accessCredential, refusal, workspaceCredential, type Credential, type VerifyContext, type VerifyResult } from './credential.js';
import { FailureAuditor } from './failure-audit.js';
import { watchCredentialChanges } from './invalidation.js';
import { LastUseWriter } from './last-use.js';
import { findAccessTokenByDigest, findWorkspaceByDigest } from './tokens-store.js';

const MALFORMED: VerifyResult = Object.freeze({ ok: false, reason: 'malformed' });
const UNKNOWN: VerifyResult = Object.freeze({ ok: false, reason: 'unknown' });

export interface VerifierOptions {
  cacheSize: number;
  cacheTtlMs: number;
  onCacheLookup?: (hit: boolean) => void;
  onBackgroundError?: (err: unknown) => void;
}

/**
 * Turns a presented secret into a principal. Checksums are checked before any lookup; verified
 * credentials are cached in-process and evicted at once on revocation, here and, through the
 * store's change channel, on every other instance.
 */
export class CredentialVerifier {
  private readonly cache: CredentialCache;
  private readonly lastUses: LastUseWriter;
  private readonly failures: FailureAuditor;
  private stopWatching: (() => void) | undefined;

  constructor(
    private readonly store: Store,
    private readonly pepper: Buffer,
    private readonly options: VerifierOptions,
  ) {
    this.cache = new CredentialCache({ size: options.cacheSize, ttlMs: options.cacheTtlMs });
    this.lastUses = new LastUseWriter(store, options.onBackgroundError);
    this.failures = new FailureAuditor(store, options.onBackgroundError);
  }

  async start(): Promise<void> {
    this.stopWatching = await watchCredentialChanges(this.store, this.cache);
  }

  /** Stops background work and writes the last uses still pending. Call before closing the store. */
  async stop(): Promise<void> {
    this.stopWatching?.();
    this.stopWatching = undefined;
    await this.lastUses.flush();
  }

  /** Drops one credential ("access:<id>" or "workspace:<id>") from this instance's cache. */
  evict(id: string): void {
    this.cache.evict(id);
  }

  clear(): void {
    this.cache.clear();
  }

  /**
   * Verifies a presented secret. A cached credential is answered synchronously (no promise on the
   * hot path); otherwise the answer is a promise of the store lookup. `await` works for both.
   * The keyed digest, compared in constant time, is computed only to look a secret up in the
   * store, and only once its checksum holds.
   */
  verify(secret: string, context: VerifyContext): VerifyResult | Promise<VerifyResult> {
    const key = this.cache.keyOf(secret);
    const now = Date.now();
    const cached = this.cache.get(key);
    if (cached) {
      this.options.onCacheLookup?.(true);
      return this.conclude(cached, now, context);
    }
    const kind = secretKind(secret);
    if (kind === null) return MALFORMED;
    this.options.onCacheLookup?.(false);
    return this.verifyFromStore(kind, digestSecret(this.pepper, secret), key, now, context);
  }

  private async verifyFromStore(kind: SecretKind, digest: string, key: string, now: number, context: VerifyContext): Promise<VerifyResult> {
    // An eviction during the lookup may concern this very row, read before the change committed.
    const mark = this.cache.mark();
    const entry = await this.load(kind, digest);
    if (!entry) return UNKNOWN;
    this.cache.remember(key, entry, mark);
    return this.conclude(entry, now, context);
  }

  private async load(kind: SecretKind, digest: string): Promise<Credential | undefined> {
    if (kind === 'workspace') {
      const workspace = await findWorkspaceByDigest(this.store.db, digest);
      return workspace && workspaceCredential(workspace.id);
    }
    const row = await findAccessTokenByDigest(this.store.db, digest);
    if (!row) return undefined;
    this.lastUses.loaded(row);
    return accessCredential(row);
  }

  private conclude(entry: Credential, now: number, context: VerifyContext): VerifyResult {
    const failure = refusal(entry, now, context);
    if (failure) {
      this.failures.record(entry.principal, failure, context);
      return { ok: false, reason: failure };
    }
    if (entry.usage) this.lastUses.use(entry.usage, context.ip, now);
    return entry.accepted;
  }
}
