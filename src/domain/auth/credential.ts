import { BlockList, isIP } from 'node:net';
import { accessCacheKey, type AccessTokenRecord, type Scope } from '../access-tokens.js';
import { tokenUsage, type TokenUsage } from './last-use.js';
import type { AccessTokenRow } from './tokens-store.js';

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

/** A verified secret's principal and the rules it must pass on every use, compiled once. */
export interface Credential {
  principal: Principal;
  /** The one answer for every successful use of this credential (no allocation per request). */
  accepted: VerifyResult & { ok: true };
  /** "access:<id>" or "workspace:<id>": how change announcements name it. */
  id: string;
  /** An access token's record and last use; null for a workspace token. */
  usage: TokenUsage | null;
  expiresAt: number | null;
  graceUntil: number | null;
  revoked: boolean;
  allowList: BlockList | null;
}

function credential(principal: Principal, id: string, usage: TokenUsage | null, rules: Pick<Credential, 'expiresAt' | 'graceUntil' | 'revoked' | 'allowList'>): Credential {
  return { principal, accepted: { ok: true, principal }, id, usage, ...rules };
}

export function workspaceCredential(workspaceId: string): Credential {
  return credential({ kind: 'workspace', workspaceId }, `workspace:${workspaceId}`, null, { expiresAt: null, graceUntil: null, revoked: false, allowList: null });
}

/** The credential of an access token's row (the digest is not kept). */
export function accessCredential(row: AccessTokenRow): Credential {
  const { digest: _storedDigest, ...record } = row;
  const principal: Principal = { kind: 'access', workspaceId: row.workspace_id, tokenId: row.id, memberId: row.member_id, email: row.email, scopes: row.scopes.split(',') as Scope[], record };
  return credential(principal, accessCacheKey(row.id), tokenUsage(record), {
    expiresAt: row.expires_at === null ? null : Date.parse(row.expires_at),
    graceUntil: row.grace_until === null ? null : Date.parse(row.grace_until),
    revoked: row.revoked_at !== null,
    allowList: row.allowed_ips === null ? null : compileAllowList(JSON.parse(row.allowed_ips) as string[]),
  });
}

/** Why a known credential may not be used now, from here, by this caller; null when it may. */
export function refusal(entry: Credential, now: number, context: VerifyContext): AuthFailureReason | null {
  if (entry.graceUntil !== null && now >= entry.graceUntil) return 'rotated_out';
  if (entry.revoked) return 'revoked';
  if (entry.expiresAt !== null && now >= entry.expiresAt) return 'expired';
  if (entry.allowList && !ipAllowed(entry.allowList, context.ip)) return 'ip_not_allowed';
  if (context.email && entry.principal.kind === 'access' && context.email.toLowerCase() !== entry.principal.email) return 'email_mismatch';
  return null;
}

/** Compiles a token's stored CIDRs once, so per-request checks are a lookup. */
export function compileAllowList(cidrs: string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address = '', prefix = ''] = cidr.split('/');
    list.addSubnet(address, Number(prefix), isIP(address) === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
}

export function ipAllowed(list: BlockList, ip: string): boolean {
  // A v4 client on a dual-stack socket shows up as ::ffff:a.b.c.d.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  const address = mapped?.[1] ?? ip;
  const family = isIP(address);
  if (family === 0) return false;
  return list.check(address, family === 6 ? 'ipv6' : 'ipv4');
}
