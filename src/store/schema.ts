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
  /** The target's name when the event happened (null for events recorded before names were). */
  target_name: string | null;
  ip: string | null;
  user_agent: string | null;
  outcome: string;
  reason: string | null;
}

export interface TransformationsTable {
  id: string;
  workspace_id: string;
  name: string;
  description: string;
  language: string;
  /** JSON array of destination ids. */
  destination_ids: string;
  created_at: string;
  updated_at: string;
  latest_version_id: string;
  published_version_id: string | null;
  version_count: number;
  deleted_at: string | null;
  /** Until when the served configuration turns live events on for it (config.eventTransform); null: off. */
  live_events_until: string | null;
}

export interface TransformationVersionsTable {
  id: string;
  transformation_id: string;
  workspace_id: string;
  seq: number;
  name: string;
  description: string;
  code: string;
  code_version: string;
  language: string;
  /** JSON array of library import names the code uses. */
  imports: string;
  created_at: string;
  created_by: string | null;
}

export interface LibrariesTable {
  id: string;
  workspace_id: string;
  name: string;
  import_name: string;
  description: string;
  language: string;
  created_at: string;
  updated_at: string;
  latest_version_id: string;
  published_version_id: string | null;
  version_count: number;
  deleted_at: string | null;
}

export interface LibraryVersionsTable {
  id: string;
  library_id: string;
  workspace_id: string;
  seq: number;
  name: string;
  import_name: string;
  description: string;
  code: string;
  language: string;
  created_at: string;
  created_by: string | null;
}

export interface VersionQuarantinesTable {
  version_id: string;
  transformation_id: string;
  workspace_id: string;
  /** ISO time the quarantine ends. */
  until: string;
  /** Quarantines of this version in a row. */
  count: number;
  reason: string;
  updated_at: string;
}

export interface CredentialsTable {
  id: string;
  workspace_id: string;
  /** What user code passes to getCredential; unique per workspace. */
  key: string;
  /** 1 for a secret, 0 otherwise (an integer on both dialects). */
  is_secret: number;
  /** A non-secret's value; null for a secret. */
  value: string | null;
  /** A secret's sealed value (src/domain/credential-seal.ts); null otherwise. */
  value_sealed: string | null;
  /** The id of the key that sealed value_sealed; null for a non-secret. */
  sealed_key_id: string | null;
  /** UTF-8 size of the plaintext value. */
  value_bytes: number;
  created_at: string;
  updated_at: string;
  /** The access token that created / last changed it. */
  created_by: string | null;
  updated_by: string | null;
}

export interface WorkspaceConfigsTable {
  workspace_id: string;
  /** The imported ConfigT as JSON text, exactly as it was parsed from the import. */
  config: string;
  config_bytes: number;
  source_count: number;
  destination_count: number;
  imported_at: string;
  /** The workspace (token) that imported it. */
  imported_by: string | null;
  /** Last change of anything /workspaceConfig serves: its updatedAt. */
  changed_at: string;
}

export interface LiveEventSamplesTable {
  /** Sorts by arrival: 8 characters of milliseconds, 4 of the place in its batch, 15 random. */
  id: string;
  workspace_id: string;
  transformation_id: string;
  received_at: string;
  /** The sample as rudder-server sent it, JSON text of at most MAX_LIVE_EVENT_SAMPLE_BYTES. */
  sample: string;
  sample_bytes: number;
}

export interface InstanceSettingsTable {
  /** What the value is, e.g. pepper_fingerprint. */
  name: string;
  value: string;
  set_at: string;
}

export interface TransformationStatsTable {
  /** Random per server process: each instance replaces only its own rows. */
  instance_id: string;
  version_id: string;
  /** Start of the minute, ISO 8601 (2026-01-02T03:04:00.000Z). */
  minute: string;
  workspace_id: string;
  transformation_id: string;
  events_in: number;
  events_out: number;
  dropped: number;
  failed: number;
  batches: number;
  run_ms: number;
  /** JSON array of batch counts per STATS_RUN_MS_BUCKETS bound (the last one: above every bound). */
  run_ms_histogram: string;
  cold_starts: number;
  limit_kills: number;
  quarantined: number;
}

export interface TransformationErrorsTable {
  /** Sorts by arrival. */
  id: string;
  workspace_id: string;
  transformation_id: string;
  version_id: string;
  at: string;
  error: string;
  /** The line of the user's code the error names, when it names one. */
  line: number | null;
  /** The failing event as JSON text, secrets masked, cut to a size limit (then event_truncated is 1). */
  event: string;
  event_truncated: number;
}

export interface TransformationCanariesTable {
  transformation_id: string;
  workspace_id: string;
  /** The published version the canary shares traffic with; requests naming it are split. */
  stable_version_id: string;
  canary_version_id: string;
  /** Share of the stable version's events that run the canary, 1 to 99. */
  percent: number;
  /** JSON of CanaryGuards. */
  guards: string;
  /** running | promoted | aborted | rolled_back */
  status: string;
  started_at: string;
  ended_at: string | null;
  end_reason: string | null;
}

export interface CanaryFiguresTable {
  transformation_id: string;
  /** The canary's started_at: figures of an earlier canary of the same transformation never mix in. */
  started_at: string;
  instance_id: string;
  /** stable | canary */
  side: string;
  /** JSON of SideFigures. */
  figures: string;
}

export interface TransformationShadowsTable {
  transformation_id: string;
  workspace_id: string;
  /** The published version whose live batches are copied. */
  stable_version_id: string;
  /** The version run on the copies (a draft: never published by a shadow). */
  candidate_version_id: string;
  /** Share of live batches copied, 1 to 100. */
  percent: number;
  /** running | stopped */
  status: string;
  started_at: string;
  ended_at: string | null;
}

export interface ShadowReportsTable {
  transformation_id: string;
  started_at: string;
  instance_id: string;
  /** JSON of ShadowReport: this instance's comparisons. */
  report: string;
}

export interface Database {
  workspaces: WorkspacesTable;
  members: MembersTable;
  access_tokens: AccessTokensTable;
  audit_events: AuditEventsTable;
  transformations: TransformationsTable;
  transformation_versions: TransformationVersionsTable;
  libraries: LibrariesTable;
  library_versions: LibraryVersionsTable;
  version_quarantines: VersionQuarantinesTable;
  credentials: CredentialsTable;
  workspace_configs: WorkspaceConfigsTable;
  live_event_samples: LiveEventSamplesTable;
  instance_settings: InstanceSettingsTable;
  transformation_stats: TransformationStatsTable;
  transformation_errors: TransformationErrorsTable;
  transformation_canaries: TransformationCanariesTable;
  canary_figures: CanaryFiguresTable;
  transformation_shadows: TransformationShadowsTable;
  shadow_reports: ShadowReportsTable;
}
