// A workspace's rudder-server configuration (rudder-server's ConfigT): imported whole from the
// JSON file rudder-server reads in file mode, exported back unchanged, and served to rudder-server
// at /workspaceConfig with Tiller's own parts filled in: each connected destination's published
// transformation, the published libraries those transformations import, the workspace's
// credentials and an updatedAt that moves with any of them (spec section 8).
//
// Destination configs hold third-party API keys: they go to the workspace token's holder and its
// rudder-server only, never into an audit entry, a log line or an error message (ids and counts only).

import { createHash } from 'node:crypto';
import { WorkspaceCache } from './workspace-cache.js';
import type { Kysely } from 'kysely';
import type { Store } from '../store/db.js';
import type { Database } from '../store/schema.js';
import { recordAudit, type Actor } from './audit.js';
import type { ConfigCredential } from './credentials.js';
import { DomainError, conflict, invalid } from './errors.js';
import { nowIso } from './ids.js';
import { SERVED_CONFIG_CHANNEL } from './served-config.js';

/**
 * The largest configuration an import accepts. A workspace of a few hundred sources and
 * destinations, definitions included, is a few MiB; rudder-server re-reads the whole of it on
 * every poll, so the bound keeps each poll cheap as well.
 */
export const MAX_WORKSPACE_CONFIG_BYTES = 8 * 1024 * 1024;
/** Source and destination ids: rudder-server's are 27 characters; a hand-written file may use names. */
export const MAX_CONFIG_ID_CHARS = 64;

type Json = Record<string, unknown>;

export interface ConfigDestination {
  id: string;
  name?: string;
  enabled?: boolean;
}

/** What an import was found to hold. */
export interface WorkspaceConfigSummary {
  sources: number;
  /** Distinct destination ids (a destination connected to two sources is listed under both). */
  destinations: number;
  bytes: number;
  importedAt: string;
  updatedAt: string;
}

export interface WorkspaceConfigContext {
  store: Store;
  /** Runs once an import has committed, so this instance's served configuration follows at once. */
  onChange(workspaceId: string): void;
}

/** A transformation entry of a served DestinationT, as Go's TransformationT decodes it. */
export interface ServedTransformation {
  id: string;
  versionId: string;
  config: Json;
  language: string;
}

/** What /workspaceConfig answers: the serialized ConfigT and its entity tag. */
export interface ServedConfig {
  body: string;
  etag: string;
  /**
   * When this answer goes out of date by itself (epoch ms): the next end of a live-events window,
   * at which config.eventTransform turns off without any write. Undefined when nothing expires.
   */
  staleAt?: number;
}

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

function wrong(path: string, rule: string): DomainError {
  return invalid('invalid_field', `${path} ${rule}`, { field: path });
}

function checkId(value: unknown, path: string): string {
  if (value === undefined || value === null) throw invalid('missing_field', `${path} is required`, { field: path });
  if (typeof value !== 'string' || value.trim() === '') throw wrong(path, 'must be a non-empty string');
  if (value.length > MAX_CONFIG_ID_CHARS) throw wrong(path, `must be at most ${MAX_CONFIG_ID_CHARS} characters`);
  return value;
}

/** Fields Go decodes into typed struct fields: a value of another JSON type fails rudder-server's whole decode. */
function checkTypes(entry: Json, path: string, fields: Record<string, 'string' | 'boolean' | 'object' | 'array'>): void {
  for (const [field, type] of Object.entries(fields)) {
    const value = entry[field];
    if (value === undefined || value === null) continue;
    const ok = type === 'object' ? isObject(value) : type === 'array' ? Array.isArray(value) : typeof value === type;
    if (!ok) throw wrong(`${path}.${field}`, `must be ${type === 'array' ? 'an array' : type === 'object' ? 'an object' : `a ${type}`}`);
  }
}

/**
 * Checks the shape rudder-server relies on and answers the first fault with its path, e.g.
 * `sources[2].destinations[0].id is required`. Everything else is kept as given.
 */
export function checkWorkspaceConfig(config: unknown): { sources: number; destinationIds: Set<string> } {
  if (!isObject(config)) throw invalid('invalid_body', 'request body must be a JSON object: the ConfigT file rudder-server reads in file mode');
  checkTypes(config, 'config', { workspaceId: 'string', updatedAt: 'string', settings: 'object', connections: 'object', libraries: 'array', credentials: 'object' });
  const sources = config.sources;
  if (sources === undefined || sources === null) throw invalid('missing_field', 'sources is required', { field: 'sources' });
  if (!Array.isArray(sources)) throw wrong('sources', 'must be an array');
  const sourceIds = new Map<string, number>();
  const destinationIds = new Set<string>();
  sources.forEach((source: unknown, i) => {
    const path = `sources[${i}]`;
    if (!isObject(source)) throw wrong(path, 'must be an object');
    const id = checkId(source.id, `${path}.id`);
    const earlier = sourceIds.get(id);
    if (earlier !== undefined) throw invalid('duplicate_id', `${path}.id "${id}" is also the id of sources[${earlier}]; source ids must be unique`, { field: `${path}.id` });
    sourceIds.set(id, i);
    checkTypes(source, path, { name: 'string', writeKey: 'string', enabled: 'boolean', config: 'object', sourceDefinition: 'object', destinations: 'array' });
    const destinations = (source.destinations ?? []) as unknown[];
    const inSource = new Map<string, number>();
    destinations.forEach((destination: unknown, j) => {
      const at = `${path}.destinations[${j}]`;
      if (!isObject(destination)) throw wrong(at, 'must be an object');
      const destinationId = checkId(destination.id, `${at}.id`);
      const twice = inSource.get(destinationId);
      if (twice !== undefined) throw invalid('duplicate_id', `${at}.id "${destinationId}" is also the id of ${path}.destinations[${twice}]; a source lists each destination once`, { field: `${at}.id` });
      inSource.set(destinationId, j);
      checkTypes(destination, at, { name: 'string', enabled: 'boolean', config: 'object', destinationDefinition: 'object', isProcessorEnabled: 'boolean', transformations: 'array' });
      // The same id under two sources is one destination connected to both, as ConfigT expresses it.
      destinationIds.add(destinationId);
    });
  });
  return { sources: sources.length, destinationIds };
}

/**
 * Replaces the workspace's configuration with `config`. Refused (409) when it leaves out a
 * destination a transformation is connected to: disconnect that first, so that no connection
 * silently stops being served.
 */
export async function importWorkspaceConfig(ctx: WorkspaceConfigContext, workspaceId: string, actor: Actor, config: unknown): Promise<WorkspaceConfigSummary> {
  const { sources, destinationIds } = checkWorkspaceConfig(config);
  const text = JSON.stringify(config);
  const bytes = Buffer.byteLength(text, 'utf8');
  const now = nowIso();
  const { store } = ctx;
  await store.db.transaction().execute(async (trx) => {
    // Serializes against connection changes (which lock the same row) on PostgreSQL.
    if (store.dialect === 'postgres') await trx.selectFrom('workspace_configs').select('workspace_id').where('workspace_id', '=', workspaceId).forUpdate().execute();
    const connected = await trx.selectFrom('transformations').select(['id', 'destination_ids']).where('workspace_id', '=', workspaceId).where('deleted_at', 'is', null).where('destination_ids', '!=', '[]').execute();
    for (const transformation of connected) {
      const dropped = (JSON.parse(transformation.destination_ids) as string[]).filter((id) => !destinationIds.has(id));
      if (dropped.length > 0) {
        throw conflict(
          'destination_connected',
          `the configuration leaves out destination${dropped.length === 1 ? '' : 's'} ${dropped.map((id) => `"${id}"`).join(', ')}, connected to transformation "${transformation.id}"; disconnect ${dropped.length === 1 ? 'it' : 'them'} first`,
          { destinationIds: dropped, transformationId: transformation.id },
        );
      }
    }
    const row = { config: text, config_bytes: bytes, source_count: sources, destination_count: destinationIds.size, imported_at: now, imported_by: actor.id, changed_at: now };
    await trx
      .insertInto('workspace_configs')
      .values({ workspace_id: workspaceId, ...row })
      .onConflict((oc) => oc.column('workspace_id').doUpdateSet(row))
      .execute();
    // Counts and size only: destination configs hold third-party secrets.
    await recordAudit(trx, workspaceId, actor, { action: 'workspace_config.import', target: workspaceId, reason: `${sources} sources, ${destinationIds.size} destinations, ${bytes} bytes` });
    await store.announce(trx, SERVED_CONFIG_CHANNEL, workspaceId);
  });
  ctx.onChange(workspaceId);
  return { sources, destinations: destinationIds.size, bytes, importedAt: now, updatedAt: now };
}

function noConfig(): DomainError {
  return new DomainError('not_found', 'workspace_config_missing', 'this workspace has no rudder-server configuration yet; import one with PUT /workspaceConfig/base');
}

/** The imported configuration as JSON text, as it was imported. */
export async function exportWorkspaceConfig(store: Store, workspaceId: string): Promise<string> {
  const row = await store.db.selectFrom('workspace_configs').select('config').where('workspace_id', '=', workspaceId).executeTakeFirst();
  if (!row) throw noConfig();
  return row.config;
}

/** The destinations of the imported configuration by id (null when none is imported). */
export async function configDestinations(db: Kysely<Database>, workspaceId: string): Promise<Map<string, ConfigDestination> | null> {
  const row = await db.selectFrom('workspace_configs').select('config').where('workspace_id', '=', workspaceId).executeTakeFirst();
  if (!row) return null;
  return destinationsOf(JSON.parse(row.config) as Json);
}

function destinationsOf(config: Json): Map<string, ConfigDestination> {
  const found = new Map<string, ConfigDestination>();
  for (const source of config.sources as Json[]) {
    for (const destination of (source.destinations ?? []) as Json[]) {
      const id = destination.id as string;
      if (found.has(id)) continue;
      found.set(id, {
        id,
        ...(typeof destination.name === 'string' ? { name: destination.name } : {}),
        ...(typeof destination.enabled === 'boolean' ? { enabled: destination.enabled } : {}),
      });
    }
  }
  return found;
}

/** A source or destination as the dashboard lists it: no configs, which may hold API keys. */
export interface ConfigEntrySummary {
  id: string;
  name: string | null;
  enabled: boolean | null;
  /** The definition's displayName, else its name. */
  type: string | null;
}

export interface ConfigSummary {
  sources: (ConfigEntrySummary & { destinations: (ConfigEntrySummary & { transformationId: string | null })[] })[];
  importedAt: string;
  updatedAt: string;
}

function summaryOf(entry: Json, definition: unknown): ConfigEntrySummary {
  const def = isObject(definition) ? definition : {};
  const type = typeof def.displayName === 'string' ? def.displayName : typeof def.name === 'string' ? def.name : null;
  return { id: entry.id as string, name: typeof entry.name === 'string' ? entry.name : null, enabled: typeof entry.enabled === 'boolean' ? entry.enabled : null, type };
}

/** The imported sources and destinations with the transformation connected to each, without their configs. */
export async function summarizeWorkspaceConfig(store: Store, workspaceId: string): Promise<ConfigSummary> {
  const row = await store.db.selectFrom('workspace_configs').select(['config', 'imported_at', 'changed_at']).where('workspace_id', '=', workspaceId).executeTakeFirst();
  if (!row) throw noConfig();
  const connected = await store.db.selectFrom('transformations').select(['id', 'destination_ids']).where('workspace_id', '=', workspaceId).where('deleted_at', 'is', null).where('destination_ids', '!=', '[]').execute();
  const holder = new Map<string, string>();
  for (const transformation of connected) for (const id of JSON.parse(transformation.destination_ids) as string[]) holder.set(id, transformation.id);
  const config = JSON.parse(row.config) as Json;
  return {
    sources: (config.sources as Json[]).map((source) => ({
      ...summaryOf(source, source.sourceDefinition),
      destinations: ((source.destinations ?? []) as Json[]).map((destination) => ({
        ...summaryOf(destination, destination.destinationDefinition),
        transformationId: holder.get(destination.id as string) ?? null,
      })),
    })),
    importedAt: row.imported_at,
    updatedAt: row.changed_at,
  };
}

export interface ConfigCredentialSource {
  mapForConfig(workspaceId: string): Promise<Record<string, ConfigCredential>>;
}

/**
 * Builds what rudder-server reads from /workspaceConfig?fetchAll=true. Every destination gets a
 * `transformations` list: its connected transformation's published version, else []. `libraries`
 * lists the published version of every library the published transformations import, so the
 * runtime links what it will run.
 */
export async function buildServedConfig(store: Store, credentials: ConfigCredentialSource, workspaceId: string, nowMs: number = Date.now()): Promise<ServedConfig> {
  const { db } = store;
  const now = new Date(nowMs).toISOString();
  const row = await db.selectFrom('workspace_configs').select(['config', 'changed_at']).where('workspace_id', '=', workspaceId).executeTakeFirst();
  if (!row) throw noConfig();
  const published = await db
    .selectFrom('transformations as t')
    .innerJoin('transformation_versions as v', 'v.id', 't.published_version_id')
    .select(['t.id', 't.destination_ids', 't.live_events_until', 'v.id as version_id', 'v.language', 'v.imports'])
    .where('t.workspace_id', '=', workspaceId)
    .where('t.deleted_at', 'is', null)
    .orderBy('t.id', 'asc')
    .execute();
  const byDestination = new Map<string, ServedTransformation>();
  const imports = new Set<string>();
  // updatedAt also moves when a live-events window ends (to its end: the same on every instance),
  // since what is served changes then without a write.
  let updatedAt = row.changed_at;
  let staleAt: number | undefined;
  for (const transformation of published) {
    for (const name of JSON.parse(transformation.imports) as string[]) imports.add(name);
    const until = transformation.live_events_until;
    const live = until !== null && until > now;
    if (until !== null && !live && until > updatedAt) updatedAt = until;
    if (live) staleAt = Math.min(staleAt ?? Infinity, Date.parse(until));
    for (const destinationId of JSON.parse(transformation.destination_ids) as string[]) {
      // eventTransform: rudder-server posts samples of this transformation to /dataplane/eventTransformStatus.
      byDestination.set(destinationId, { id: transformation.id, versionId: transformation.version_id, config: live ? { eventTransform: true } : {}, language: transformation.language });
    }
  }
  const libraries =
    imports.size === 0
      ? []
      : await db
          .selectFrom('libraries')
          .select('published_version_id')
          .where('workspace_id', '=', workspaceId)
          .where('deleted_at', 'is', null)
          .where('import_name', 'in', [...imports])
          .where('published_version_id', 'is not', null)
          .orderBy('published_version_id', 'asc')
          .execute();
  const config = JSON.parse(row.config) as Json;
  for (const source of config.sources as Json[]) {
    turnOffDebugger(source, 'eventUpload');
    for (const destination of (source.destinations ?? []) as Json[]) {
      turnOffDebugger(destination, 'eventDelivery');
      const connected = byDestination.get(destination.id as string);
      destination.transformations = connected ? [connected] : [];
    }
  }
  const served = {
    ...config,
    workspaceId,
    libraries: libraries.map((library) => ({ versionId: library.published_version_id as string })),
    credentials: await credentials.mapForConfig(workspaceId),
    updatedAt,
  };
  const body = JSON.stringify(served);
  // Content-derived, so every instance answers the same tag for the same configuration.
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 32)}"`;
  return staleAt === undefined ? { body, etag } : { body, etag, staleAt };
}

/**
 * Serves a source's or destination's live-events flag (config.eventUpload, config.eventDelivery)
 * as false: Tiller keeps live events of transformations only, and rudder-server would otherwise
 * post the others to a route that refuses them (routes/dataplane.ts). The export keeps the flag.
 */
function turnOffDebugger(entity: Json, flag: 'eventUpload' | 'eventDelivery'): void {
  const config = entity.config;
  if (isObject(config) && config[flag] === true) entity.config = { ...config, [flag]: false };
}

export interface ServedConfigCacheOptions {
  /** Bounds how long a lost announcement can leave an instance serving an old configuration. */
  ttlMs: number;
  maxWorkspaces: number;
  /** Bound on the summed size of cached bodies, in UTF-16 code units. */
  maxChars: number;
}

export const defaultServedConfigCacheOptions: ServedConfigCacheOptions = { ttlMs: 15_000, maxWorkspaces: 1000, maxChars: 256 * 1024 * 1024 };

/**
 * The served configuration of each workspace, built once and kept in memory, so a fleet of
 * rudder-servers polling every 5 s costs a map lookup (and a 304 when nothing changed). Every
 * change evicts its workspace: on this instance at once (onChange, after commit) and on the
 * others through the store's change channel; credentials follow their own cache's evictions. The
 * TTL bounds what a lost announcement can cost.
 */
export class ServedWorkspaceConfigs {
  readonly context: WorkspaceConfigContext;
  private readonly cache: WorkspaceCache<ServedConfig>;

  constructor(
    private readonly store: Store,
    private readonly credentials: ConfigCredentialSource & { watch(watcher: (workspaceId: string | null) => void): void },
    options: ServedConfigCacheOptions = defaultServedConfigCacheOptions,
  ) {
    this.context = { store, onChange: (workspaceId) => this.invalidate(workspaceId) };
    this.cache = new WorkspaceCache((workspaceId) => buildServedConfig(store, credentials, workspaceId), {
      maxWorkspaces: options.maxWorkspaces,
      ttlMs: options.ttlMs,
      maxSize: options.maxChars,
      sizeOf: (entry) => entry.body.length + 64,
    });
  }

  /** Listens for other instances' changes; a reconnect (announcements may be lost) clears all. */
  async start(): Promise<void> {
    this.credentials.watch((workspaceId) => (workspaceId === null ? this.clear() : this.invalidate(workspaceId)));
    await this.store.listen(SERVED_CONFIG_CHANNEL, (workspaceId) => this.invalidate(workspaceId), () => this.clear());
  }

  /** The cached answer, rebuilt once a live-events window it serves has ended. */
  async get(workspaceId: string): Promise<ServedConfig> {
    const served = await this.cache.get(workspaceId);
    if (served.staleAt === undefined || served.staleAt > Date.now()) return served;
    this.cache.invalidate(workspaceId);
    return this.cache.get(workspaceId);
  }

  invalidate(workspaceId: string): void {
    this.cache.invalidate(workspaceId);
  }

  clear(): void {
    this.cache.clear();
  }
}
