// Libraries: shared code that transformations import by importName. Like transformations, every
// save appends an immutable version and the library row only moves its latest/published pointers.
// A library's name (and so its importName) and language never change, so a version's importName
// is always its library's.

import type { Kysely, Transaction } from 'kysely';
import type { RuntimeLanguage } from '../runtime/types.js';
import type { Dialect } from '../store/db.js';
import type { Database, LibrariesTable, LibraryVersionsTable } from '../store/schema.js';
import { recordAudit, versionLabel, type Actor } from './audit.js';
import { advanceLatestVersion, findLiveRow, firstVersionColumns, markRowDeleted } from './catalog-rows.js';
import { assertLanguage, checkLibraryCode, languageChanges, normalizeDescription, type CatalogContext } from './code-checks.js';
import { conflict, invalid, notFound } from './errors.js';
import { newId, nowIso } from './ids.js';
import { MAX_NAME_CHARS, validName } from './names.js';
import { importNameOf } from './import-name.js';
import { announceServedConfigChange } from './served-config.js';
import { languageMismatchMessage, quoteList, unknownImportsMessage, unpublishedImportsMessage } from './serving/linking.js';

export interface LibraryView {
  id: string;
  versionId: string;
  name: string;
  description: string;
  code: string;
  language: string;
  importName: string;
  createdAt: string;
  updatedAt: string;
  /** ext: null until a version is published. */
  publishedVersionId: string | null;
}

export interface LibraryVersionView extends LibraryView {
  /** ext: whether this version is the published one. */
  isPublished: boolean;
}

export interface CreateLibraryInput {
  name: string;
  code: string;
  description?: string | null | undefined;
  language?: string | undefined;
}

export interface UpdateLibraryInput {
  name?: string | undefined;
  code?: string | undefined;
  description?: string | null | undefined;
  language?: string | undefined;
}

export type VersionOrder = 'asc' | 'desc';

type LibraryFields = Pick<LibrariesTable, 'id' | 'import_name' | 'created_at' | 'updated_at' | 'published_version_id'>;
type VersionFields = Pick<LibraryVersionsTable, 'id' | 'name' | 'description' | 'code' | 'language'>;

function libraryView(library: LibraryFields, version: VersionFields): LibraryView {
  return {
    id: library.id,
    versionId: version.id,
    name: version.name,
    description: version.description,
    code: version.code,
    language: version.language,
    importName: library.import_name,
    createdAt: library.created_at,
    updatedAt: library.updated_at,
    publishedVersionId: library.published_version_id,
  };
}

function versionView(library: LibrariesTable, version: LibraryVersionsTable): LibraryVersionView {
  return {
    ...libraryView(library, version),
    // A version is a snapshot: its own time is both when it was created and last changed.
    createdAt: version.created_at,
    updatedAt: version.created_at,
    isPublished: library.published_version_id === version.id,
  };
}

function findLiveLibrary(db: Kysely<Database>, workspaceId: string, id: string): Promise<LibrariesTable> {
  return findLiveRow(db, 'libraries', workspaceId, id);
}

export async function listLibraries(db: Kysely<Database>, workspaceId: string): Promise<LibraryView[]> {
  const rows = await db
    .selectFrom('libraries as l')
    .innerJoin('library_versions as v', 'v.id', 'l.latest_version_id')
    .select(['l.id', 'l.import_name', 'l.created_at', 'l.updated_at', 'l.latest_version_id', 'l.published_version_id'])
    .select(['v.name', 'v.description', 'v.code', 'v.language'])
    .where('l.workspace_id', '=', workspaceId)
    .where('l.deleted_at', 'is', null)
    .orderBy('l.created_at', 'asc')
    .orderBy('l.id', 'asc')
    .execute();
  return rows.map((row) => libraryView(row, { ...row, id: row.latest_version_id }));
}

export async function getLibrary(db: Kysely<Database>, workspaceId: string, id: string): Promise<LibraryView> {
  const library = await findLiveLibrary(db, workspaceId, id);
  const version = await db.selectFrom('library_versions').selectAll().where('id', '=', library.latest_version_id).executeTakeFirstOrThrow();
  return libraryView(library, version);
}

export async function listLibraryVersions(db: Kysely<Database>, workspaceId: string, id: string, options: { count: number; order: VersionOrder }): Promise<LibraryVersionView[]> {
  const library = await findLiveLibrary(db, workspaceId, id);
  const rows = await db.selectFrom('library_versions').selectAll().where('library_id', '=', library.id).orderBy('seq', options.order).limit(options.count).execute();
  return rows.map((row) => versionView(library, row));
}

export async function getLibraryVersion(db: Kysely<Database>, workspaceId: string, id: string, versionId: string): Promise<LibraryVersionView> {
  const library = await findLiveLibrary(db, workspaceId, id);
  const version = await db.selectFrom('library_versions').selectAll().where('id', '=', versionId).where('library_id', '=', library.id).executeTakeFirst();
  if (!version) throw notFound('library version');
  return versionView(library, version);
}

/** True when a database error is a unique-constraint violation (SQLite or PostgreSQL). */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; message?: string } | undefined;
  return e?.code === '23505' || e?.code === 'SQLITE_CONSTRAINT_UNIQUE' || /UNIQUE constraint failed/.test(e?.message ?? '');
}

function importNameTaken(importName: string, name: string): Error {
  return conflict('import_name_taken', `a library whose name gives the import name "${importName}" already exists; "${name}" would import the same way`, { field: 'name', importName });
}

export async function createLibrary(ctx: CatalogContext, workspaceId: string, actor: Actor, input: CreateLibraryInput, options: { publish: boolean }): Promise<LibraryView> {
  const language = assertLanguage(input.language);
  const name = validName(input.name, MAX_NAME_CHARS);
  const importName = importNameOf(name);
  if (importName === '') throw invalid('invalid_field', 'name must contain at least one letter or digit, so that it gives an import name', { field: 'name' });
  const description = normalizeDescription(input.description);
  await checkLibraryCode(ctx, input.code, language);

  const id = newId();
  const versionId = newId();
  const now = nowIso();
  const library: LibrariesTable = {
    id,
    workspace_id: workspaceId,
    name,
    import_name: importName,
    description,
    language,
    ...firstVersionColumns(versionId, now, options.publish),
  };
  const version: LibraryVersionsTable = { id: versionId, library_id: id, workspace_id: workspaceId, seq: 1, name, import_name: importName, description, code: input.code, language, created_at: now, created_by: actor.id };
  try {
    await ctx.store.db.transaction().execute(async (trx) => {
      // First, so every transaction takes the configuration's row lock before any catalog row (no deadlocks).
      if (options.publish) await announceServedConfigChange(trx, ctx.store, workspaceId);
      const taken = await trx.selectFrom('libraries').select('id').where('workspace_id', '=', workspaceId).where('import_name', '=', importName).where('deleted_at', 'is', null).executeTakeFirst();
      if (taken) throw importNameTaken(importName, name);
      await trx.insertInto('libraries').values(library).execute();
      await trx.insertInto('library_versions').values(version).execute();
      await recordAudit(trx, workspaceId, actor, { action: 'library.create', target: id, reason: versionLabel(1, versionId) });
      if (options.publish) await recordAudit(trx, workspaceId, actor, { action: 'library.publish', target: id, reason: versionLabel(1, versionId) });
    });
  } catch (error) {
    // Two creates racing past the check above meet the partial unique index instead.
    if (isUniqueViolation(error)) throw importNameTaken(importName, name);
    throw error;
  }
  if (options.publish) ctx.onServedConfigChange?.(workspaceId);
  return libraryView(library, version);
}

export async function updateLibrary(ctx: CatalogContext, workspaceId: string, actor: Actor, id: string, input: UpdateLibraryInput, options: { publish: boolean }): Promise<LibraryView> {
  const { db } = ctx.store;
  const current = await findLiveLibrary(db, workspaceId, id);
  const latest = await db.selectFrom('library_versions').selectAll().where('id', '=', current.latest_version_id).executeTakeFirstOrThrow();
  // An alias of the stored language (python for pythonfaas) is no change.
  if (languageChanges(input.language, current.language)) {
    throw invalid('language_immutable', `a library's language cannot change (it is ${current.language})`, { field: 'language' });
  }
  if (input.name !== undefined && input.name.trim() !== current.name) {
    throw invalid('name_immutable', `a library's name cannot change, because transformations import it by "${current.import_name}"; create a new library instead`, { field: 'name' });
  }
  const description = input.description === undefined ? latest.description : normalizeDescription(input.description);
  const code = input.code ?? latest.code;
  await checkLibraryCode(ctx, code, current.language as RuntimeLanguage);

  const versionId = newId();
  const now = nowIso();
  const saved = await db.transaction().execute(async (trx) => {
    // First, so every transaction takes the configuration's row lock before any catalog row (no deadlocks).
    if (options.publish) await announceServedConfigChange(trx, ctx.store, workspaceId);
    const bumped = await advanceLatestVersion(trx, 'libraries', workspaceId, id, { versionId, now, publish: options.publish }, { description });
    const version: LibraryVersionsTable = {
      id: versionId,
      library_id: id,
      workspace_id: workspaceId,
      seq: bumped.version_count,
      name: current.name,
      import_name: current.import_name,
      description,
      code,
      language: current.language,
      created_at: now,
      created_by: actor.id,
    };
    await trx.insertInto('library_versions').values(version).execute();
    await recordAudit(trx, workspaceId, actor, { action: 'library.update', target: id, reason: versionLabel(version.seq, versionId) });
    if (options.publish) await recordAudit(trx, workspaceId, actor, { action: 'library.publish', target: id, reason: versionLabel(version.seq, versionId) });
    return libraryView(bumped, version);
  });
  if (options.publish) ctx.onServedConfigChange?.(workspaceId);
  return saved;
}

/** Live transformations in `language` whose latest or published version imports `importName`. */
async function transformationsImporting(trx: Kysely<Database>, workspaceId: string, importName: string, language: string): Promise<{ id: string; name: string }[]> {
  const rows = await trx
    .selectFrom('transformations as t')
    .innerJoin('transformation_versions as v', (join) => join.on((eb) => eb.or([eb('v.id', '=', eb.ref('t.latest_version_id')), eb('v.id', '=', eb.ref('t.published_version_id'))])))
    .select(['t.id', 't.name', 'v.imports'])
    .where('t.workspace_id', '=', workspaceId)
    .where('t.deleted_at', 'is', null)
    // Code in another language never links this library (a draft may name its import name while it is unresolved).
    .where('v.language', '=', language)
    .execute();
  const found = new Map<string, string>();
  for (const row of rows) if ((JSON.parse(row.imports) as string[]).includes(importName)) found.set(row.id, row.name);
  return [...found].map(([id, name]) => ({ id, name }));
}

/**
 * Deletes a library unless a live transformation's latest or published version imports it. The
 * library row is marked first: on PostgreSQL that row lock makes a concurrent transformation save
 * (which locks the libraries it imports, see lockImportedLibraries) wait and then see the deletion.
 */
export async function deleteLibrary(ctx: CatalogContext, workspaceId: string, actor: Actor, id: string): Promise<void> {
  await ctx.store.db.transaction().execute(async (trx) => {
    const deleted = await markRowDeleted(trx, 'libraries', workspaceId, id, nowIso());
    const users = await transformationsImporting(trx, workspaceId, deleted.import_name, deleted.language);
    if (users.length > 0) {
      throw conflict(
        'library_in_use',
        `library "${deleted.name}" is imported by ${users.length === 1 ? 'transformation' : 'transformations'} ${quoteList(users.map((user) => user.name))}; change or delete ${users.length === 1 ? 'it' : 'them'} first`,
        { transformations: users },
      );
    }
    await recordAudit(trx, workspaceId, actor, { action: 'library.delete', target: id });
  });
}

/**
 * The live libraries of the workspace that `imports` name, by import name: the published version id
 * (null when unpublished) and language. With `lock`, the rows are locked for share until the
 * transaction ends.
 */
async function liveLibrariesImported(
  db: Kysely<Database>,
  workspaceId: string,
  imports: string[],
  options: { lock: boolean },
): Promise<Map<string, { publishedVersionId: string | null; language: string }>> {
  let query = db
    .selectFrom('libraries')
    .select(['import_name', 'published_version_id', 'language'])
    .where('workspace_id', '=', workspaceId)
    .where('deleted_at', 'is', null)
    .where('import_name', 'in', [...new Set(imports)]);
  if (options.lock) query = query.forShare();
  const rows = await query.execute();
  return new Map(rows.map((row) => [row.import_name, { publishedVersionId: row.published_version_id, language: row.language }]));
}

/** The imports that name no live library of the workspace, in the order given. */
export async function unknownLibraryImports(db: Kysely<Database>, workspaceId: string, imports: string[]): Promise<string[]> {
  if (imports.length === 0) return [];
  const live = await liveLibrariesImported(db, workspaceId, imports, { lock: false });
  return imports.filter((name) => !live.has(name));
}

/**
 * Inside a save or publish transaction: checks that every import names a live library in the
 * code's `language` (and, when `requirePublished`, one with a published version), locking those
 * rows on PostgreSQL so that a concurrent delete waits for this transaction. SQLite runs one
 * transaction at a time anyway.
 */
export async function lockImportedLibraries(
  trx: Transaction<Database>,
  dialect: Dialect,
  workspaceId: string,
  imports: string[],
  options: { requirePublished: boolean; allowMissing?: boolean; language?: string | undefined },
): Promise<void> {
  if (imports.length === 0) return;
  const live = await liveLibrariesImported(trx, workspaceId, imports, { lock: dialect === 'postgres' });
  const missing = imports.filter((name) => !live.has(name));
  if (missing.length > 0 && !options.allowMissing) {
    throw invalid('unknown_import', unknownImportsMessage(missing), { imports: missing });
  }
  const otherLanguage = imports.flatMap((importName) => {
    const library = live.get(importName);
    return library !== undefined && options.language !== undefined && library.language !== options.language ? [{ importName, language: library.language }] : [];
  });
  if (otherLanguage.length > 0 && options.language !== undefined) {
    const names = otherLanguage.map((entry) => entry.importName);
    throw invalid('library_language_mismatch', languageMismatchMessage(otherLanguage, options.language), { field: 'code', imports: names });
  }
  if (options.requirePublished) {
    const unpublished = imports.filter((name) => live.get(name)?.publishedVersionId === null);
    if (unpublished.length > 0) {
      throw invalid('unpublished_import', unpublishedImportsMessage(unpublished), { imports: unpublished });
    }
  }
}
