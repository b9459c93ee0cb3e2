import { isIP } from 'node:net';
import type { Store } from '../store/db.js';
import type { Kysely } from 'kysely';
import type { AccessTokensTable, Database } from '../store/schema.js';
import { recordAudit, type Actor } from './audit.js';
import { conflict, invalid, notFound } from './errors.js';
import { newId, nowIso } from './ids.js';
import { MAX_TOKEN_NAME_CHARS, codePoints, validName } from './names.js';
import { digestSecret, generateSecret, secretHint } from './secrets.js';
import { TOKENS_CHANNEL } from './workspaces.js';

export type Scope = 'read' | 'write';

/** The key under which caches and change announcements name one access token. */
export const accessCacheKey = (id: string): string => `access:${id}`;
export const ALL_SCOPES: readonly Scope[] = ['read', 'write'];
export const MAX_GRACE_SECONDS = 604_800;

export interface IssueTokenInput {
  name: string;
  description?: string | undefined;
  scopes?: string[] | undefined;
  expiresAt?: string | undefined;
  expiresInDays?: number | undefined;
  allowedIps?: string[] | undefined;
  email?: string | undefined;
}

/** A token as lists show it: everything but the secret. */
export interface AccessTokenView {
  name: string;
  description: string;
  userId: string;
  id: string;
  hint: string;
  scopes: Scope[];
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  lastUsedIp: string | null;
  status: 'active' | 'expired' | 'rotating';
  /** When a rotated secret stops working (the end of its grace period); null for one not rotated. */
  graceUntil: string | null;
  allowedIps: string[] | null;
  email: string;
}

export interface IssuedToken {
  token: string;
  view: AccessTokenView;
  /** For a rotation: the secret it replaced, and when that one stops working. */
  replaced?: { id: string; graceUntil: string };
}

type TokenRow = AccessTokensTable & { email: string };

/** A token's stored fields and its member's e-mail, without the digest: what a verifier keeps. */
export type AccessTokenRecord = Omit<TokenRow, 'digest'>;

/** Validates and normalizes what a caller asked for; every failure names its field. */
function validateIssueInput(input: IssueTokenInput, now: Date): { name: string; description: string; scopes: Scope[]; expiresAt: string | null; allowedIps: string[] | null; email: string | null } {
  const name = validName(input.name, MAX_TOKEN_NAME_CHARS);
  const description = input.description ?? '';
  if (codePoints(description) > 1000) throw invalid('invalid_field', 'description must be at most 1000 characters', { field: 'description' });
  // NUL cannot be stored in PostgreSQL text and a lone surrogate would come back as U+FFFD, so
  // both are refused rather than silently changed.
  if (LONE_SURROGATE.test(description) || description.includes('\u0000')) {
    throw invalid('invalid_field', 'description must be valid Unicode text without NUL characters', { field: 'description' });
  }

  let scopes: Scope[] = [...ALL_SCOPES];
  if (input.scopes !== undefined) {
    if (input.scopes.length === 0) throw invalid('invalid_field', 'scopes must name at least one of read, write', { field: 'scopes' });
    const unknown = input.scopes.filter((s) => !(ALL_SCOPES as readonly string[]).includes(s));
    if (unknown.length > 0) throw invalid('invalid_field', `scopes may contain only read and write, got ${unknown.map((s) => JSON.stringify(s)).join(', ')}`, { field: 'scopes' });
    scopes = ALL_SCOPES.filter((s) => input.scopes!.includes(s));
  }

  let expiresAt: string | null = null;
  if (input.expiresAt !== undefined && input.expiresInDays !== undefined) {
    throw invalid('invalid_field', 'give either expiresAt or expiresInDays, not both', { field: 'expiresAt' });
  }
  if (input.expiresAt !== undefined) {
    const at = new Date(input.expiresAt);
    if (!/^\d{4}-\d{2}-\d{2}T/.test(input.expiresAt) || Number.isNaN(at.getTime())) throw invalid('invalid_field', 'expiresAt must be an ISO-8601 date-time', { field: 'expiresAt' });
    if (at.getTime() <= now.getTime()) throw invalid('invalid_field', 'expiresAt must be in the future', { field: 'expiresAt' });
    expiresAt = at.toISOString();
  } else if (input.expiresInDays !== undefined) {
    expiresAt = new Date(now.getTime() + input.expiresInDays * 86_400_000).toISOString();
  }

  let allowedIps: string[] | null = null;
  if (input.allowedIps !== undefined) {
    if (input.allowedIps.length === 0) throw invalid('invalid_field', 'allowedIps must not be empty; omit it to allow any address', { field: 'allowedIps' });
    allowedIps = input.allowedIps.map((cidr) => normalizeCidr(cidr));
  }
  const email = input.email === undefined ? null : input.email.trim().toLowerCase();
  // No colon: the e-mail travels as the Basic user name, which ends at the first colon.
  if (email !== null && (!/^[^\s@:]+@[^\s@:]+$/.test(email) || email.length > 254 || LONE_SURROGATE.test(email) || CONTROL_CHARACTERS.test(email))) {
    throw invalid('invalid_field', 'email must be an e-mail address', { field: 'email' });
  }
  return { name, description, scopes, expiresAt, allowedIps, email };
}

// C0 and C1 control characters (tabs and newlines included) have no place in a one-line e-mail address.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;
// With the u flag a surrogate matches only when unpaired, i.e. when the text is not valid Unicode.
const LONE_SURROGATE = /[\ud800-\udfff]/u;

function normalizeCidr(cidr: string): string {
  const [rawAddress = '', prefixText, ...rest] = cidr.trim().split('/');
  // Clients on a dual-stack socket are matched by their IPv4 address, so a v4-mapped entry
  // (::ffff:a.b.c.d) is stored as the plain IPv4 network it means.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(rawAddress);
  const address = mapped?.[1] ?? rawAddress;
  const family = address.includes('%') ? 0 : isIP(address);
  const max = family === 4 ? 32 : 128;
  let prefix = prefixText === undefined ? (mapped ? 128 : max) : Number(prefixText);
  if (mapped) prefix -= 96;
  if (family === 0 || rest.length > 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > max || (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText))) {
    throw invalid('invalid_field', `allowedIps entry ${JSON.stringify(cidr)} is not an IPv4 or IPv6 CIDR`, { field: 'allowedIps' });
  }
  return `${address}/${prefix}`;
}

export function tokenStatus(row: Pick<AccessTokensTable, 'expires_at' | 'grace_until'>, now: string): AccessTokenView['status'] {
  if (row.expires_at !== null && row.expires_at <= now) return 'expired';
  if (row.grace_until !== null) return 'rotating';
  return 'active';
}

/** The list entry for a token the caller already holds (e.g. the verified credential itself). */
export function describeAccessToken(record: AccessTokenRecord, now = Date.now()): AccessTokenView {
  return viewWithStatus(record, accessTokenStatus(record, now));
}

/** tokenStatus with numeric time: for GET /accessTokens/self, where formatting "now" would cost more than the rest. */
export function accessTokenStatus(record: Pick<AccessTokenRecord, 'expires_at' | 'grace_until'>, now = Date.now()): AccessTokenView['status'] {
  return record.expires_at !== null && Date.parse(record.expires_at) <= now ? 'expired' : record.grace_until !== null ? 'rotating' : 'active';
}

function toView(row: AccessTokenRecord, now: string): AccessTokenView {
  return viewWithStatus(row, tokenStatus(row, now));
}

function viewWithStatus(row: AccessTokenRecord, status: AccessTokenView['status']): AccessTokenView {
  return {
    name: row.name,
    description: row.description,
    userId: row.member_id,
    id: row.id,
    hint: row.hint,
    scopes: row.scopes.split(',').filter(Boolean) as Scope[],
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
    lastUsedIp: row.last_used_ip,
    status,
    graceUntil: row.grace_until,
    allowedIps: row.allowed_ips === null ? null : (JSON.parse(row.allowed_ips) as string[]),
    email: row.email,
  };
}

/** Rows still able to authenticate (or to be shown): not revoked, not past a rotation's grace. */
function liveTokens(db: Kysely<Database>, workspaceId: string, now: string) {
  return db
    .selectFrom('access_tokens')
    .innerJoin('members', 'members.id', 'access_tokens.member_id')
    .selectAll('access_tokens')
    .select('members.email')
    .where('access_tokens.workspace_id', '=', workspaceId)
    .where('access_tokens.revoked_at', 'is', null)
    .where((eb) => eb.or([eb('access_tokens.grace_until', 'is', null), eb('access_tokens.grace_until', '>', now)]));
}

export async function issueAccessToken(store: Store, pepper: Buffer, workspaceId: string, actor: Actor, input: IssueTokenInput): Promise<IssuedToken> {
  const now = new Date();
  const valid = validateIssueInput(input, now);
  const token = generateSecret('access');
  const createdAt = now.toISOString();
  const id = newId();
  const row = await store.db.transaction().execute(async (trx) => {
    const member = await resolveMember(trx, workspaceId, valid.email, createdAt);
    const values: AccessTokensTable = {
      id,
      workspace_id: workspaceId,
      member_id: member.id,
      name: valid.name,
      description: valid.description,
      digest: digestSecret(pepper, token),
      hint: secretHint(token),
      scopes: valid.scopes.join(','),
      allowed_ips: valid.allowedIps === null ? null : JSON.stringify(valid.allowedIps),
      created_at: createdAt,
      expires_at: valid.expiresAt,
      last_used_at: null,
      last_used_ip: null,
      grace_until: null,
      rotated_from: null,
      revoked_at: null,
    };
    await trx.insertInto('access_tokens').values(values).execute();
    await recordAudit(trx, workspaceId, actor, { action: 'access_token.create', target: id });
    return { ...values, email: member.email };
  });
  return { token, view: toView(row, createdAt) };
}

async function resolveMember(db: Kysely<Database>, workspaceId: string, email: string | null, now: string): Promise<{ id: string; email: string }> {
  if (email === null) {
    const owner = await db
      .selectFrom('members')
      .innerJoin('workspaces', 'workspaces.id', 'members.workspace_id')
      .select(['members.id', 'members.email'])
      .where('members.workspace_id', '=', workspaceId)
      .whereRef('members.email', '=', 'workspaces.owner_email')
      .executeTakeFirstOrThrow();
    return owner;
  }
  // Two tokens issued at once for a new member must not collide on the unique (workspace, email).
  await db
    .insertInto('members')
    .values({ id: newId(), workspace_id: workspaceId, email, created_at: now })
    .onConflict((oc) => oc.columns(['workspace_id', 'email']).doNothing())
    .execute();
  return db.selectFrom('members').select(['id', 'email']).where('workspace_id', '=', workspaceId).where('email', '=', email).executeTakeFirstOrThrow();
}

export async function listAccessTokens(store: Store, workspaceId: string): Promise<AccessTokenView[]> {
  const now = nowIso();
  const rows = await liveTokens(store.db, workspaceId, now).orderBy('access_tokens.created_at').orderBy('access_tokens.id').execute();
  return rows.map((r) => toView(r, now));
}

export async function getAccessToken(store: Store, workspaceId: string, id: string): Promise<AccessTokenView> {
  const now = nowIso();
  const row = await liveTokens(store.db, workspaceId, now).where('access_tokens.id', '=', id).executeTakeFirst();
  if (!row) throw notFound('access token');
  return toView(row, now);
}

/**
 * Revokes every live token with this name (names are not unique), with their rotation chains.
 * Returns the revoked ids.
 */
export async function deleteAccessTokensByName(store: Store, workspaceId: string, actor: Actor, rawName: string): Promise<string[]> {
  // Not the name rule: a name stored before it (or before it grew stricter) must stay deletable.
  const name = rawName.trim();
  if (name.length === 0) throw invalid('invalid_field', 'name must not be empty', { field: 'name' });
  const now = nowIso();
  return store.db.transaction().execute(async (trx) => {
    const rows = await liveTokens(trx, workspaceId, now).where('access_tokens.name', '=', name).execute();
    if (rows.length === 0) throw notFound(`access token named ${JSON.stringify(name)}`);
    return revokeWithChains(store, trx, workspaceId, actor, rows, now);
  });
}

/** Revokes one token and its rotation chain's secrets still in grace. Returns the revoked ids. */
export async function revokeAccessToken(store: Store, workspaceId: string, actor: Actor, id: string): Promise<string[]> {
  const now = nowIso();
  return store.db.transaction().execute(async (trx) => {
    const row = await liveTokens(trx, workspaceId, now).where('access_tokens.id', '=', id).executeTakeFirst();
    if (!row) throw notFound('access token');
    return revokeWithChains(store, trx, workspaceId, actor, [row], now);
  });
}

/**
 * Inside the revoking transaction: revokes `targets` and, with each, every other secret of its
 * rotation chain (predecessors and successors, linked by rotated_from) that still works because its
 * grace period has not ended. Revoking the replacement of a leaked secret must not leave the leaked
 * one working for up to MAX_GRACE_SECONDS. The chain's live head is revoked only when it is a target
 * itself: revoking an old secret leaves its replacement working.
 *
 * Each revoked id is audited (chain members as access_token.revoke_chain, naming the target) and
 * announced, so every instance's cache forgets it. Returns every revoked id.
 */
async function revokeWithChains(store: Store, trx: Kysely<Database>, workspaceId: string, actor: Actor, targets: TokenRow[], now: string): Promise<string[]> {
  const targetIds = new Set(targets.map((t) => t.id));
  // A rotation copies the name and names never change, so a chain lies among the tokens of its name
  // (one indexed read, whatever the chain's length).
  const relatives = await trx
    .selectFrom('access_tokens')
    .select(['id', 'rotated_from', 'grace_until', 'revoked_at'])
    .where('workspace_id', '=', workspaceId)
    .where('name', 'in', [...new Set(targets.map((t) => t.name))])
    .execute();
  const byId = new Map(relatives.map((r) => [r.id, r]));
  const successorOf = new Map<string, string>();
  for (const r of relatives) if (r.rotated_from !== null) successorOf.set(r.rotated_from, r.id);
  const walks = [(id: string) => byId.get(id)?.rotated_from ?? undefined, (id: string) => successorOf.get(id)];

  /** Chain member id -> the target whose chain it is on. */
  const chained = new Map<string, string>();
  for (const target of targetIds) {
    for (const next of walks) {
      // Bounded by the rows read: a corrupt link can never loop.
      let id = next(target);
      for (let steps = 0; id !== undefined && steps < relatives.length; steps++, id = next(id)) {
        const member = byId.get(id);
        if (!member) break;
        const inGrace = member.revoked_at === null && member.grace_until !== null && member.grace_until > now;
        if (inGrace && !targetIds.has(id) && !chained.has(id)) chained.set(id, target);
      }
    }
  }

  const ids = [...targetIds, ...chained.keys()];
  await trx.updateTable('access_tokens').set({ revoked_at: now }).where('id', 'in', ids).where('revoked_at', 'is', null).execute();
  for (const id of targetIds) {
    const members = [...chained.values()].filter((t) => t === id).length;
    await recordAudit(trx, workspaceId, actor, { action: 'access_token.delete', target: id, reason: members > 0 ? `also revoked ${members} secret${members === 1 ? '' : 's'} of its rotation chain still in grace` : null });
  }
  for (const [id, target] of chained) {
    await recordAudit(trx, workspaceId, actor, { action: 'access_token.revoke_chain', target: id, reason: `in grace on the rotation chain of ${target}, which was revoked` });
  }
  for (const id of ids) await store.announce(trx, TOKENS_CHANNEL, accessCacheKey(id));
  return ids;
}

/**
 * Issues a new secret with the same name, scopes, member, IP list and expiry. The old secret keeps
 * working for `graceSeconds` (0: stops at once) so deployments can switch without downtime.
 */
export async function rotateAccessToken(store: Store, pepper: Buffer, workspaceId: string, actor: Actor, id: string, graceSeconds: number): Promise<IssuedToken> {
  if (!Number.isInteger(graceSeconds) || graceSeconds < 0 || graceSeconds > MAX_GRACE_SECONDS) {
    throw invalid('invalid_field', `gracePeriodSeconds must be a whole number from 0 to ${MAX_GRACE_SECONDS}`, { field: 'gracePeriodSeconds' });
  }
  const now = new Date();
  const nowText = now.toISOString();
  const token = generateSecret('access');
  const row = await store.db.transaction().execute(async (trx) => {
    const old = await liveTokens(trx, workspaceId, nowText).where('access_tokens.id', '=', id).executeTakeFirst();
    if (!old) throw notFound('access token');
    if (old.grace_until !== null) throw conflict('already_rotated', 'this token was already rotated; rotate its replacement instead');
    const graceUntil = new Date(now.getTime() + graceSeconds * 1000).toISOString();
    // A zero grace period is the same as revoking the old secret now.
    // Only while still live and unrotated: a concurrent rotation or revocation of the same token
    // (PostgreSQL re-checks this after waiting for its row lock) must not fork or revive its chain.
    const updated = await trx
      .updateTable('access_tokens')
      .set(graceSeconds === 0 ? { grace_until: graceUntil, revoked_at: nowText } : { grace_until: graceUntil })
      .where('id', '=', id)
      .where('grace_until', 'is', null)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (updated.numUpdatedRows === 0n) throw conflict('already_rotated', 'this token was rotated or revoked meanwhile');
    const values: AccessTokensTable = {
      ...stripEmail(old),
      id: newId(),
      digest: digestSecret(pepper, token),
      hint: secretHint(token),
      created_at: nowText,
      last_used_at: null,
      last_used_ip: null,
      grace_until: null,
      rotated_from: old.id,
      revoked_at: null,
    };
    await trx.insertInto('access_tokens').values(values).execute();
    await recordAudit(trx, workspaceId, actor, { action: 'access_token.rotate', target: old.id, reason: `replaced by ${values.id}; grace ${graceSeconds}s` });
    await store.announce(trx, TOKENS_CHANNEL, accessCacheKey(old.id));
    return { row: { ...values, email: old.email }, replaced: { id: old.id, graceUntil } };
  });
  return { token, view: toView(row.row, nowText), replaced: row.replaced };
}

function stripEmail(row: TokenRow): AccessTokensTable {
  const { email: _email, ...rest } = row;
  return rest;
}
