import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import { newId, nowIso } from './ids.js';

/** Who did something and from where. Actor ids are token or workspace ids, never secrets. */
export interface Actor {
  type: 'workspace' | 'access_token' | 'system' | 'anonymous';
  id: string | null;
  ip?: string | null;
  userAgent?: string | null;
}

export interface AuditEntry {
  action: string;
  target?: string | null;
  outcome?: 'success' | 'failure';
  reason?: string | null;
}

export interface AuditEvent {
  id: string;
  at: string;
  actor: { type: string; id: string | null };
  action: string;
  target: string | null;
  ip: string | null;
  userAgent: string | null;
  outcome: string;
  reason: string | null;
}

export const systemActor: Actor = { type: 'system', id: null };

/** Pass the transaction that makes the change, so the change and its audit event commit together. */
export async function recordAudit(executor: Kysely<Database>, workspaceId: string, actor: Actor, entry: AuditEntry): Promise<void> {
  await executor
    .insertInto('audit_events')
    .values({
      id: newId(),
      workspace_id: workspaceId,
      at: nowIso(),
      actor_type: actor.type,
      actor_id: actor.id,
      action: entry.action,
      target: entry.target ?? null,
      // The column holds 64 characters; with TILLER_TRUST_PROXY the address comes from a header.
      ip: actor.ip?.slice(0, 64) ?? null,
      user_agent: actor.userAgent?.slice(0, 512) ?? null,
      outcome: entry.outcome ?? 'success',
      reason: entry.reason ?? null,
    })
    .execute();
}

/** Newest first; `before` is an event id from a previous page. */
export async function listAuditEvents(db: Kysely<Database>, workspaceId: string, options: { limit: number; before?: string | undefined }): Promise<AuditEvent[]> {
  let query = db.selectFrom('audit_events').selectAll().where('workspace_id', '=', workspaceId);
  if (options.before) query = query.where('id', '<', options.before);
  const rows = await query.orderBy('id', 'desc').limit(options.limit).execute();
  return rows.map((r) => ({
    id: r.id,
    at: r.at,
    actor: { type: r.actor_type, id: r.actor_id },
    action: r.action,
    target: r.target,
    ip: r.ip,
    userAgent: r.user_agent,
    outcome: r.outcome,
    reason: r.reason,
  }));
}
