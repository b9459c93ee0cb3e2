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
  /** The target's name now; looked up from the action's kind when left out. */
  targetName?: string | null;
  outcome?: 'success' | 'failure';
  reason?: string | null;
}

export interface AuditEvent {
  id: string;
  at: string;
  /** `name`: an access token's name (tokens are never erased, so revoked ones keep theirs). */
  actor: { type: string; id: string | null; name: string | null };
  action: string;
  target: string | null;
  targetName: string | null;
  ip: string | null;
  userAgent: string | null;
  outcome: string;
  reason: string | null;
}

export const systemActor: Actor = { type: 'system', id: null };

/** How audit reasons name a version: its number for people, its id for tools. */
export const versionLabel = (seq: number, versionId: string): string => `version ${seq} (${versionId})`;

type Named = 'access_tokens' | 'transformations' | 'libraries';

/** Where the target of each kind of action has its name. */
const NAME_SOURCES: Record<string, Named | 'credentials' | 'workspaces'> = {
  access_token: 'access_tokens',
  transformation: 'transformations',
  library: 'libraries',
  credential: 'credentials',
  workspace: 'workspaces',
};

/** The name of `target` in the workspace, as the action's kind (the part before the dot) names it. */
async function currentName(executor: Kysely<Database>, workspaceId: string, action: string, target: string): Promise<string | null> {
  const source = NAME_SOURCES[action.split('.')[0]!];
  if (source === undefined) return null;
  if (source === 'workspaces') return (await executor.selectFrom('workspaces').select('name').where('id', '=', target).executeTakeFirst())?.name ?? null;
  if (source === 'credentials') {
    return (await executor.selectFrom('credentials').select('key').where('id', '=', target).where('workspace_id', '=', workspaceId).executeTakeFirst())?.key ?? null;
  }
  return (await executor.selectFrom(source).select('name').where('id', '=', target).where('workspace_id', '=', workspaceId).executeTakeFirst())?.name ?? null;
}

/** Pass the transaction that makes the change, so the change and its audit event commit together. */
export async function recordAudit(executor: Kysely<Database>, workspaceId: string, actor: Actor, entry: AuditEntry): Promise<void> {
  const target = entry.target ?? null;
  const targetName = entry.targetName !== undefined ? entry.targetName : target === null ? null : await currentName(executor, workspaceId, entry.action, target);
  await executor
    .insertInto('audit_events')
    .values({
      id: newId(),
      workspace_id: workspaceId,
      at: nowIso(),
      actor_type: actor.type,
      actor_id: actor.id,
      action: entry.action,
      target,
      target_name: targetName?.slice(0, 300) ?? null,
      // The column holds 64 characters; with TILLER_TRUST_PROXY the address comes from a header.
      ip: actor.ip?.slice(0, 64) ?? null,
      user_agent: actor.userAgent?.slice(0, 512) ?? null,
      outcome: entry.outcome ?? 'success',
      reason: entry.reason ?? null,
    })
    .execute();
}

/**
 * Newest first; `before` is an event id from a previous page. Actor names are the tokens' names
 * now; target names are as recorded, or looked up for events recorded before names were.
 */
export async function listAuditEvents(db: Kysely<Database>, workspaceId: string, options: { limit: number; before?: string | undefined }): Promise<AuditEvent[]> {
  let query = db.selectFrom('audit_events').selectAll().where('workspace_id', '=', workspaceId);
  if (options.before) query = query.where('id', '<', options.before);
  const rows = await query.orderBy('id', 'desc').limit(options.limit).execute();
  const tokenIds = [...new Set(rows.flatMap((r) => (r.actor_type === 'access_token' && r.actor_id !== null ? [r.actor_id] : [])))];
  const tokenNames = new Map(
    tokenIds.length === 0 ? [] : (await db.selectFrom('access_tokens').select(['id', 'name']).where('workspace_id', '=', workspaceId).where('id', 'in', tokenIds).execute()).map((t) => [t.id, t.name] as const),
  );
  const olderNames = new Map<string, string | null>();
  for (const r of rows) {
    if (r.target_name === null && r.target !== null && !olderNames.has(`${r.action}|${r.target}`)) olderNames.set(`${r.action}|${r.target}`, await currentName(db, workspaceId, r.action, r.target));
  }
  return rows.map((r) => ({
    id: r.id,
    at: r.at,
    actor: { type: r.actor_type, id: r.actor_id, name: r.actor_type === 'access_token' && r.actor_id !== null ? (tokenNames.get(r.actor_id) ?? null) : null },
    action: r.action,
    target: r.target,
    targetName: r.target_name ?? (r.target === null ? null : (olderNames.get(`${r.action}|${r.target}`) ?? null)),
    ip: r.ip,
    userAgent: r.user_agent,
    outcome: r.outcome,
    reason: r.reason,
  }));
}
