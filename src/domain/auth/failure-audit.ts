import { LRUCache } from 'lru-cache';
import type { Store } from '../../store/db.js';
import { recordAudit } from '../audit.js';
import type { AuthFailureReason, Principal, VerifyContext } from './credential.js';

const FAILURE_AUDIT_INTERVAL_MS = 10_000;

/**
 * Failures of real tokens go to their workspace's audit log; the secret never does. One event per
 * token, reason and address every few seconds is enough to see what happens, and a script
 * replaying a dead token cannot turn each attempt into a database write.
 */
export class FailureAuditor {
  /** token|reason|ip pairs audited within the interval. */
  private readonly recent = new LRUCache<string, true>({ max: 10_000, ttl: FAILURE_AUDIT_INTERVAL_MS });

  constructor(
    private readonly store: Store,
    private readonly onError?: (err: unknown) => void,
  ) {}

  record(principal: Principal, reason: AuthFailureReason, context: VerifyContext): void {
    const actor = principal.kind === 'access' ? { type: 'access_token' as const, id: principal.tokenId } : { type: 'workspace' as const, id: principal.workspaceId };
    const dedupeKey = `${actor.id}|${reason}|${context.ip}`;
    if (this.recent.has(dedupeKey)) return;
    this.recent.set(dedupeKey, true);
    const action = reason === 'rotated_out' ? 'access_token.reuse' : 'auth.failure';
    recordAudit(this.store.db, principal.workspaceId, { ...actor, ip: context.ip, userAgent: context.userAgent ?? null }, { action, target: actor.id, outcome: 'failure', reason }).catch((err: unknown) => this.onError?.(err));
  }
}
