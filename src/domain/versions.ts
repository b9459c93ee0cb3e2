import type { Kysely } from 'kysely';
import type { Database, LibraryVersionsTable, TransformationVersionsTable } from '../store/schema.js';

// Read access to immutable versions, shared by the Transformations API, the run endpoints,
// /customTransform and the config-backend routes. A version never changes once written, so
// callers may cache what these return by version id for as long as they like.

export interface TransformationVersion {
  versionId: string;
  transformationId: string;
  workspaceId: string;
  seq: number;
  name: string;
  description: string;
  code: string;
  codeVersion: string;
  language: string;
  imports: string[];
  createdAt: string;
}

export interface LibraryVersion {
  versionId: string;
  libraryId: string;
  workspaceId: string;
  seq: number;
  name: string;
  importName: string;
  description: string;
  code: string;
  language: string;
  createdAt: string;
}

export function toTransformationVersion(row: TransformationVersionsTable): TransformationVersion {
  return {
    versionId: row.id,
    transformationId: row.transformation_id,
    workspaceId: row.workspace_id,
    seq: row.seq,
    name: row.name,
    description: row.description,
    code: row.code,
    codeVersion: row.code_version,
    language: row.language,
    imports: JSON.parse(row.imports) as string[],
    createdAt: row.created_at,
  };
}

export function toLibraryVersion(row: LibraryVersionsTable): LibraryVersion {
  return {
    versionId: row.id,
    libraryId: row.library_id,
    workspaceId: row.workspace_id,
    seq: row.seq,
    name: row.name,
    importName: row.import_name,
    description: row.description,
    code: row.code,
    language: row.language,
    createdAt: row.created_at,
  };
}

/**
 * A transformation version by id. With `workspaceId`, another workspace's version is not found.
 * Versions of deleted transformations stay readable here (they may still be running in a pipeline).
 */
export async function findTransformationVersion(db: Kysely<Database>, versionId: string, workspaceId?: string): Promise<TransformationVersion | undefined> {
  let query = db.selectFrom('transformation_versions').selectAll().where('id', '=', versionId);
  if (workspaceId !== undefined) query = query.where('workspace_id', '=', workspaceId);
  const row = await query.executeTakeFirst();
  return row && toTransformationVersion(row);
}

export async function findLibraryVersions(db: Kysely<Database>, versionIds: string[], workspaceId?: string): Promise<LibraryVersion[]> {
  if (versionIds.length === 0) return [];
  let query = db.selectFrom('library_versions').selectAll().where('id', 'in', versionIds);
  if (workspaceId !== undefined) query = query.where('workspace_id', '=', workspaceId);
  return (await query.execute()).map(toLibraryVersion);
}

export async function findLibraryVersion(db: Kysely<Database>, versionId: string, workspaceId?: string): Promise<LibraryVersion | undefined> {
  return (await findLibraryVersions(db, [versionId], workspaceId))[0];
}

/** The published version of every live library of a workspace (what a run links by default). */
export async function publishedLibraryVersions(db: Kysely<Database>, workspaceId: string): Promise<LibraryVersion[]> {
  const rows = await db
    .selectFrom('libraries')
    .innerJoin('library_versions', 'library_versions.id', 'libraries.published_version_id')
    .selectAll('library_versions')
    .where('libraries.workspace_id', '=', workspaceId)
    .where('libraries.deleted_at', 'is', null)
    .execute();
  return rows.map(toLibraryVersion);
}

/** The published version of a live transformation, or undefined if it is unknown or unpublished. */
export async function publishedTransformationVersion(db: Kysely<Database>, workspaceId: string, transformationId: string): Promise<TransformationVersion | undefined> {
  const row = await db
    .selectFrom('transformations')
    .innerJoin('transformation_versions', 'transformation_versions.id', 'transformations.published_version_id')
    .selectAll('transformation_versions')
    .where('transformations.id', '=', transformationId)
    .where('transformations.workspace_id', '=', workspaceId)
    .where('transformations.deleted_at', 'is', null)
    .executeTakeFirst();
  return row && toTransformationVersion(row);
}
