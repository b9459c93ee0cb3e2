// Table shapes as Kysely sees them. Times are ISO-8601 strings in UTC with milliseconds on both
// dialects, so they sort lexicographically and round-trip unchanged through the API.

export interface WorkspacesTable {
  id: string;
  name: string;
  owner_email: string;
  token_digest: string;
  token_hint: string;
  created_at: string;
  token_rotated_at: string | null;
}

export interface MembersTable {
  id: string;
  workspace_id: string;
  email: string;
  created_at: string;
}

export interface AccessTokensTable {
  id: string;
  workspace_id: string;
  member_id: string;
  name: string;
  description: string;
  digest: string;
  hint: string;
  /** Comma-separated subset of read,write. */
  scopes: string;
  /** JSON array of CIDRs, or null for any address. */
  allowed_ips: string | null;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  last_used_ip: string | null;
  /** Set when a rotation replaced this secret; the old secret works until then. */
  grace_until: string | null;
  /** The token this one replaced by rotation. */
  rotated_from: string | null;
  revoked_at: string | null;
}

export interface AuditEventsTable {
  id: string;
  workspace_id: string;
  at: string;
  actor_type: string;
  actor_id: string | null;
  action: string;
  target: string | null;
  ip: string | null;
  user_agent: string | null;
  outcome: string;
  reason: string | null;
}

export interface Database {
  workspaces: WorkspacesTable;
  members: MembersTable;
  access_tokens: AccessTokensTable;
  audit_events: AuditEventsTable;
}
