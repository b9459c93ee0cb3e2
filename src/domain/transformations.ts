// Transformations: every create and update appends an immutable version; the transformation row
// holds the latest and published pointers and a version counter that the database increments, so
// concurrent saves never share a seq and none is lost. Versions are never edited or removed.

import type { Kysely } from 'kysely';
import type { RuntimeLanguage } from '../runtime/types.js';
import type { Database, TransformationsTable, TransformationVersionsTable } from '../store/schema.js';
import { recordAudit, versionLabel, type Actor } from './audit.js';
import { supersedeCanary } from './release/canary.js';
import { advanceLatestVersion, findLiveRow, firstVersionColumns, markRowDeleted } from './catalog-rows.js';
import { assertLanguage, checkTransformationCode, languageChanges, normalizeDescription, runtimeLanguage, type CatalogContext } from './code-checks.js';
import { checkConnections, connectionChange, destinationNamesFor, destinationViews, type DestinationNames, type DestinationView } from './connections.js';
import { conflict, invalid, notFound } from './errors.js';
import { newId, nowIso } from './ids.js';
import { MAX_NAME_CHARS, validName } from './names.js';
import { activeQuarantines, type ActiveQuarantines } from './quarantines.js';
import { lockImportedLibraries, unknownLibraryImports, type VersionOrder } from './libraries.js';
import { describeFailure, runBatch, sampleEvents } from './publish/test-runs.js';
import { announceServedConfigChange } from './served-config.js';
import { LibraryLinker } from './serving/linking.js';

export const CODE_VERSION = '1';

export interface TransformationView {
  id: string;
  versionId: string;
  name: string;
  description: string;
  code: string;
  codeVersion: string;
  language: string;
  createdAt: string;
  updatedAt: string;
  workspaceId: string;
  /** The connected destinations, with name and enabled from the workspace's rudder-server configuration. */
  destinations: DestinationView[];
  imports: string[];
  /** ext: null until a version is published. */
  publishedVersionId: string | null;
  /**
   * ext: when a version of it crashed a sandbox process, until when that version is quarantined
   * (the latest end if several are); null when none is. On a version view: that version's own.
   */
  quarantinedUntil: string | null;
}

export interface TransformationVersionView extends TransformationView {
  /** ext: whether this version is the published one. */
  isPublished: boolean;
}

export interface CreateTransformationInput {
  name: string;
  code: string;
  description?: string | null | undefined;
  language?: string | undefined;
  events?: unknown[] | undefined;
  destinationIds?: string[] | undefined;
}

export interface UpdateTransformationInput {
  name?: string | undefined;
  code?: string | undefined;
  description?: string | null | undefined;
  language?: string | undefined;
  events?: unknown[] | undefined;
  destinationIds?: string[] | undefined;
}

type VersionFields = Pick<TransformationVersionsTable, 'id' | 'name' | 'description' | 'code' | 'code_version' | 'language' | 'imports' | 'created_at'>;

function destinationIdsOf(json: string): string[] {
  return json === '[]' ? [] : (JSON.parse(json) as string[]);
}

function destinationsOf(json: string, names: DestinationNames): DestinationView[] {
  return json === '[]' ? [] : destinationViews(destinationIdsOf(json), names);
}

type TransformationFields = Pick<TransformationsTable, 'id' | 'workspace_id' | 'created_at' | 'updated_at' | 'destination_ids' | 'published_version_id'>;

function transformationView(t: TransformationFields, v: Omit<VersionFields, 'created_at'>, names: DestinationNames, quarantinedUntil: string | null = null): TransformationView {
  return {
    id: t.id,
    versionId: v.id,
    name: v.name,
    description: v.description,
    code: v.code,
    codeVersion: v.code_version,
    language: v.language,
    createdAt: t.created_at,
    updatedAt: t.updated_at,
    workspaceId: t.workspace_id,
    destinations: destinationsOf(t.destination_ids, names),
    imports: JSON.parse(v.imports) as string[],
    publishedVersionId: t.published_version_id,
    quarantinedUntil,
  };
}

function versionView(t: TransformationsTable, v: VersionFields, quarantines: ActiveQuarantines, names: DestinationNames): TransformationVersionView {
  // A version is a snapshot: its own time is both when it was created and last changed.
  return { ...transformationView(t, v, names, quarantines.byVersion.get(v.id) ?? null), createdAt: v.created_at, updatedAt: v.created_at, isPublished: t.published_version_id === v.id };
}

function findLiveTransformation(db: Kysely<Database>, workspaceId: string, id: string): Promise<TransformationsTable> {
  return findLiveRow(db, 'transformations', workspaceId, id);
}

/** Every live transformation of the workspace at its latest version, oldest first. */
export async function listTransformations(db: Kysely<Database>, workspaceId: string): Promise<TransformationView[]> {
  // Only the columns the answer needs: this is the hottest read, and most of its cost is copying text.
  const rows = await db
    .selectFrom('transformations as t')
    .innerJoin('transformation_versions as v', 'v.id', 't.latest_version_id')
    .select(['t.id', 't.workspace_id', 't.created_at', 't.updated_at', 't.destination_ids', 't.latest_version_id', 't.published_version_id'])
    .select(['v.name', 'v.description', 'v.code', 'v.code_version', 'v.language', 'v.imports'])
    .where('t.workspace_id', '=', workspaceId)
    .where('t.deleted_at', 'is', null)
    .orderBy('t.created_at', 'asc')
    .orderBy('t.id', 'asc')
    .execute();
  const { byTransformation } = await activeQuarantines(db, workspaceId);
  const names = await destinationNamesFor(db, workspaceId, rows.some((row) => row.destination_ids !== '[]'));
  return rows.map((row) => transformationView(row, { ...row, id: row.latest_version_id }, names, byTransformation.get(row.id) ?? null));
}

export async function getTransformation(db: Kysely<Database>, workspaceId: string, id: string): Promise<TransformationView> {
  const t = await findLiveTransformation(db, workspaceId, id);
  const v = await db.selectFrom('transformation_versions').selectAll().where('id', '=', t.latest_version_id).executeTakeFirstOrThrow();
  const { byTransformation } = await activeQuarantines(db, workspaceId, t.id);
  return transformationView(t, v, await destinationNamesFor(db, workspaceId, t.destination_ids !== '[]'), byTransformation.get(t.id) ?? null);
}

export async function listTransformationVersions(
  db: Kysely<Database>,
  workspaceId: string,
  id: string,
  options: { count: number; order: VersionOrder },
): Promise<TransformationVersionView[]> {
  const t = await findLiveTransformation(db, workspaceId, id);
  const rows = await db.selectFrom('transformation_versions').selectAll().where('transformation_id', '=', t.id).orderBy('seq', options.order).limit(options.count).execute();
  const quarantines = await activeQuarantines(db, workspaceId, t.id);
  const names = await destinationNamesFor(db, workspaceId, t.destination_ids !== '[]');
  return rows.map((row) => versionView(t, row, quarantines, names));
}

export async function getTransformationVersion(db: Kysely<Database>, workspaceId: string, id: string, versionId: string): Promise<TransformationVersionView> {
  const t = await findLiveTransformation(db, workspaceId, id);
  const v = await db.selectFrom('transformation_versions').selectAll().where('id', '=', versionId).where('transformation_id', '=', t.id).executeTakeFirst();
  if (!v) throw notFound('transformation version');
  return versionView(t, v, await activeQuarantines(db, workspaceId, t.id), await destinationNamesFor(db, workspaceId, t.destination_ids !== '[]'));
}

function normalizeDestinationIds(ids: string[] | undefined, publish: boolean): string[] | undefined {
  if (ids === undefined) return undefined;
  if (!publish && ids.length > 0) {
    throw invalid('invalid_field', 'destinationIds can only be given with publish=true: a destination runs the published version', { field: 'destinationIds' });
  }
  return [...new Set(ids)];
}

/**
 * Checks code before anything is saved: it compiles in its language, every import names a live
 * library in the same language, and it runs without error on the given events. With publish, it must also pass the publish test (the
 * events, or the sample event) against published libraries only, as it will run once published.
 */
async function validateForSave(
  ctx: CatalogContext,
  workspaceId: string,
  version: { versionId: string; name: string; code: string; language: RuntimeLanguage },
  events: unknown[] | undefined,
  publish: boolean,
  draft: boolean,
): Promise<{ imports: string[]; unresolved: string[] }> {
  const { versionId, name, code, language } = version;
  const imports = await checkTransformationCode(ctx, code, language);
  const linker = new LibraryLinker(ctx.store.db, workspaceId, [], publish ? 'publish' : 'test');
  const link = await linker.link(imports, language);
  if (!link.ok) {
    // Git-driven clients upsert transformations before the libraries they import, with an
    // explicit publish=false and no events. Such a draft may name a library that the same run
    // creates next; test and publish refuse it until the library exists.
    if (draft && events === undefined && link.code === 'unknown_import') {
      const missing = await unknownLibraryImports(ctx.store.db, workspaceId, imports);
      if (missing.length > 0) return { imports, unresolved: missing };
    }
    throw invalid(link.code, link.message, { field: 'code', imports: link.imports });
  }
  if (events === undefined && !publish) return { imports, unresolved: [] };

  // The run uses the id the version will be saved under, so its sandbox stays warm for real runs.
  // The code is not saved yet, so a crash counts against the workspace's test calls (inline).
  const run = await runBatch(ctx, workspaceId, { versionId, code, name, inline: true, ...runtimeLanguage(language) }, link.libraries, events ?? sampleEvents());
  if (!run.ok) {
    const what = events === undefined ? 'the sample event' : 'the test events';
    throw invalid(events === undefined ? 'test_failed' : 'events_failed', `the code failed on ${what}, so nothing was saved: ${describeFailure(run)}`, {
      field: events === undefined ? 'code' : 'events',
      errors: run.errors,
      logs: run.logs,
    });
  }
  return { imports, unresolved: [] };
}

function withWarnings<T extends object>(view: T, unresolved: string[]): T & { warnings?: { code: string; message: string; imports: string[] }[] } {
  if (unresolved.length === 0) return view;
  const list = unresolved.map((name) => JSON.stringify(name)).join(', ');
  return {
    ...view,
    warnings: [
      {
        code: 'unknown_import',
        message: `saved as a draft, but the code imports ${list}, which ${unresolved.length === 1 ? 'is not a library' : 'are not libraries'} of this workspace yet; create ${unresolved.length === 1 ? 'it' : 'them'} before testing or publishing this version`,
        imports: unresolved,
      },
    ],
  };
}

export async function createTransformation(
  ctx: CatalogContext,
  workspaceId: string,
  actor: Actor,
  input: CreateTransformationInput,
  options: { publish: boolean; draft?: boolean },
): Promise<TransformationView> {
  const language = assertLanguage(input.language);
  const name = validName(input.name, MAX_NAME_CHARS);
  const description = normalizeDescription(input.description);
  const destinationIds = normalizeDestinationIds(input.destinationIds, options.publish) ?? [];
  const versionId = newId();
  const { imports, unresolved } = await validateForSave(ctx, workspaceId, { versionId, name, code: input.code, language }, input.events, options.publish, options.draft ?? false);

  const id = newId();
  const now = nowIso();
  const transformation: TransformationsTable = {
    id,
    workspace_id: workspaceId,
    name,
    description,
    language,
    destination_ids: JSON.stringify(destinationIds),
    ...firstVersionColumns(versionId, now, options.publish),
    live_events_until: null,
  };
  const version: TransformationVersionsTable = {
    id: versionId,
    transformation_id: id,
    workspace_id: workspaceId,
    seq: 1,
    name,
    description,
    code: input.code,
    code_version: CODE_VERSION,
    language,
    imports: JSON.stringify(imports),
    created_at: now,
    created_by: actor.id,
  };
  const names = await ctx.store.db.transaction().execute(async (trx) => {
    // First, so every transaction takes the configuration's row lock before any catalog row (no deadlocks).
    if (options.publish) await announceServedConfigChange(trx, ctx.store, workspaceId);
    await lockImportedLibraries(trx, ctx.store.dialect, workspaceId, imports, { requirePublished: options.publish, allowMissing: unresolved.length > 0, language });
    const connected = destinationIds.length > 0 ? await checkConnections(trx, ctx.store.dialect, workspaceId, id, destinationIds) : null;
    await trx.insertInto('transformations').values(transformation).execute();
    await trx.insertInto('transformation_versions').values(version).execute();
    await recordAudit(trx, workspaceId, actor, { action: 'transformation.create', target: id, reason: versionLabel(1, versionId) });
    const change = connectionChange([], destinationIds);
    if (change) await recordAudit(trx, workspaceId, actor, { action: 'transformation.connections', target: id, reason: change });
    if (options.publish) await recordAudit(trx, workspaceId, actor, { action: 'transformation.publish', target: id, reason: versionLabel(1, versionId) });
    return connected;
  });
  if (options.publish) ctx.onServedConfigChange?.(workspaceId);
  return withWarnings(transformationView(transformation, version, names), unresolved);
}

export async function updateTransformation(
  ctx: CatalogContext,
  workspaceId: string,
  actor: Actor,
  id: string,
  input: UpdateTransformationInput,
  options: { publish: boolean; draft?: boolean },
): Promise<TransformationView> {
  const { db } = ctx.store;
  const current = await findLiveTransformation(db, workspaceId, id);
  // An alias of the stored language (python for pythonfaas) is no change.
  if (languageChanges(input.language, current.language)) {
    throw invalid('language_immutable', `a transformation's language cannot change (it is ${current.language})`, { field: 'language' });
  }
  const language = current.language as RuntimeLanguage;
  const latest = await db.selectFrom('transformation_versions').selectAll().where('id', '=', current.latest_version_id).executeTakeFirstOrThrow();
  // Omitted fields carry over from the latest version.
  const name = input.name === undefined ? latest.name : validName(input.name, MAX_NAME_CHARS);
  const description = input.description === undefined ? latest.description : normalizeDescription(input.description);
  const code = input.code ?? latest.code;
  const destinationIds = normalizeDestinationIds(input.destinationIds, options.publish);
  const versionId = newId();
  const { imports, unresolved } = await validateForSave(ctx, workspaceId, { versionId, name, code, language }, input.events, options.publish, options.draft ?? false);

  const now = nowIso();
  const servedChange = options.publish || destinationIds !== undefined;
  const saved = await db.transaction().execute(async (trx) => {
    // First, so every transaction takes the configuration's row lock before any catalog row (no deadlocks).
    if (servedChange) await announceServedConfigChange(trx, ctx.store, workspaceId);
    await lockImportedLibraries(trx, ctx.store.dialect, workspaceId, imports, { requirePublished: options.publish, allowMissing: unresolved.length > 0, language });
    let names: DestinationNames = null;
    let connectedBefore: string[] = [];
    if (destinationIds !== undefined) {
      names = await checkConnections(trx, ctx.store.dialect, workspaceId, id, destinationIds);
      const before = await trx.selectFrom('transformations').select('destination_ids').where('id', '=', id).where('workspace_id', '=', workspaceId).executeTakeFirst();
      connectedBefore = destinationIdsOf(before?.destination_ids ?? '[]');
    }
    const bumped = await advanceLatestVersion(
      trx,
      'transformations',
      workspaceId,
      id,
      { versionId, now, publish: options.publish },
      { name, description, ...(destinationIds !== undefined ? { destination_ids: JSON.stringify(destinationIds) } : {}) },
    );
    const version: TransformationVersionsTable = {
      id: versionId,
      transformation_id: id,
      workspace_id: workspaceId,
      seq: bumped.version_count,
      name,
      description,
      code,
      code_version: CODE_VERSION,
      language,
      imports: JSON.stringify(imports),
      created_at: now,
      created_by: actor.id,
    };
    await trx.insertInto('transformation_versions').values(version).execute();
    await recordAudit(trx, workspaceId, actor, { action: 'transformation.update', target: id, reason: versionLabel(version.seq, versionId) });
    if (options.publish) {
      await recordAudit(trx, workspaceId, actor, { action: 'transformation.publish', target: id, reason: versionLabel(version.seq, versionId) });
      await supersedeCanary(trx, ctx.store, workspaceId, actor, id, `version ${version.seq} (${versionId}) was published`, versionId);
    }
    const change = destinationIds === undefined ? null : connectionChange(connectedBefore, destinationIds);
    if (change) await recordAudit(trx, workspaceId, actor, { action: 'transformation.connections', target: id, reason: change });
    if (destinationIds === undefined) names = await destinationNamesFor(trx, workspaceId, bumped.destination_ids !== '[]');
    return withWarnings(transformationView(bumped, version, names), unresolved);
  });
  if (servedChange) ctx.onServedConfigChange?.(workspaceId);
  return saved;
}

/** The id stops resolving; its versions stay (a pipeline may still run one by version id). */
export async function deleteTransformation(ctx: CatalogContext, workspaceId: string, actor: Actor, id: string): Promise<void> {
  await ctx.store.db.transaction().execute(async (trx) => {
    // Its published version's imports may leave the served libraries list. First: see announceServedConfigChange's callers.
    await announceServedConfigChange(trx, ctx.store, workspaceId);
    // rudder-server would keep sending the destination's events to a version nobody manages.
    const row = await trx.selectFrom('transformations').select('destination_ids').where('id', '=', id).where('workspace_id', '=', workspaceId).where('deleted_at', 'is', null).executeTakeFirst();
    const connected = destinationIdsOf(row?.destination_ids ?? '[]');
    if (connected.length > 0) {
      throw conflict(
        'transformation_connected',
        `the transformation is connected to destination${connected.length === 1 ? '' : 's'} ${connected.map((d) => `"${d}"`).join(', ')}; disconnect it first (PUT /transformations/{id}/destinations with destinationIds: [])`,
        { destinationIds: connected },
      );
    }
    await markRowDeleted(trx, 'transformations', workspaceId, id, nowIso());
    // Its live-event samples are users' events: they go with it rather than wait for a prune that never comes.
    await trx.deleteFrom('live_event_samples').where('transformation_id', '=', id).where('workspace_id', '=', workspaceId).execute();
    await supersedeCanary(trx, ctx.store, workspaceId, actor, id, 'the transformation was deleted');
    await recordAudit(trx, workspaceId, actor, { action: 'transformation.delete', target: id });
  });
  ctx.onServedConfigChange?.(workspaceId);
}

/**
 * Connects the transformation to exactly `destinationIds` ([] disconnects it) without saving a
 * version: what the dashboard's connect and disconnect do. The destinations run its published
 * version, so connecting needs one (409 otherwise). The rules are those of destinationIds.
 */
export async function setTransformationDestinations(ctx: CatalogContext, workspaceId: string, actor: Actor, id: string, destinationIds: string[]): Promise<TransformationView> {
  const wanted = [...new Set(destinationIds)];
  const { db } = ctx.store;
  const result = await db.transaction().execute(async (trx) => {
    // First: see announceServedConfigChange.
    await announceServedConfigChange(trx, ctx.store, workspaceId);
    const current = await findLiveTransformation(trx, workspaceId, id);
    if (wanted.length > 0 && current.published_version_id === null) {
      throw conflict('not_published', 'publish a version of this transformation before connecting it: a destination runs the published version', { field: 'destinationIds' });
    }
    const names = await checkConnections(trx, ctx.store.dialect, workspaceId, id, wanted);
    const change = connectionChange(destinationIdsOf(current.destination_ids), wanted);
    if (change === null) return { changed: false, names, row: current };
    const row = await trx
      .updateTable('transformations')
      .set({ destination_ids: JSON.stringify(wanted), updated_at: nowIso() })
      .where('id', '=', id)
      .where('workspace_id', '=', workspaceId)
      .returningAll()
      .executeTakeFirstOrThrow();
    await recordAudit(trx, workspaceId, actor, { action: 'transformation.connections', target: id, reason: change });
    return { changed: true, names, row };
  });
  if (result.changed) ctx.onServedConfigChange?.(workspaceId);
  const v = await db.selectFrom('transformation_versions').selectAll().where('id', '=', result.row.latest_version_id).executeTakeFirstOrThrow();
  const { byTransformation } = await activeQuarantines(db, workspaceId, id);
  return transformationView(result.row, v, result.names, byTransformation.get(id) ?? null);
}
