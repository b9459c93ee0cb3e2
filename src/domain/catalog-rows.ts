// Transformations and libraries keep their rows the same way: scoped to a workspace, deleted by
// setting deleted_at, and pointing at immutable version rows through latest_version_id and
// published_version_id, with a version_count that the database increments on every save so that
// concurrent saves never share a seq. What follows is that common part of both catalogs.

import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import { notFound } from './errors.js';

/** The catalog tables whose rows are versioned this way. */
export type CatalogTable = 'transformations' | 'libraries';

/** What a 404 calls a row of each table. */
const ROW_NAME = { transformations: 'transformation', libraries: 'library' } as const;

/** Columns a save may change besides the version pointers, per table. */
type SavedFields<T extends CatalogTable> = Partial<Omit<Database[T], 'id' | 'workspace_id' | 'version_count' | 'latest_version_id' | 'published_version_id' | 'updated_at' | 'deleted_at'>>;

/** The version columns of a new row, whose first version is `versionId` (seq 1). */
export function firstVersionColumns(versionId: string, now: string, publish: boolean): Pick<Database[CatalogTable], 'created_at' | 'updated_at' | 'latest_version_id' | 'published_version_id' | 'version_count' | 'deleted_at'> {
  return {
    created_at: now,
    updated_at: now,
    latest_version_id: versionId,
    published_version_id: publish ? versionId : null,
    version_count: 1,
    deleted_at: null,
  };
}

/** A live (not deleted) row of the workspace; 404 otherwise. */
export async function findLiveRow<T extends CatalogTable>(db: Kysely<Database>, table: T, workspaceId: string, id: string): Promise<Database[T]> {
  // Both tables have these columns; Kysely cannot see that through a generic table name.
  const row = await db
    .selectFrom(table as CatalogTable)
    .selectAll()
    .where('id', '=', id)
    .where('workspace_id', '=', workspaceId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  if (!row) throw notFound(ROW_NAME[table]);
  return row as Database[T];
}

/**
 * Inside a save's transaction: makes `versionId` the row's latest version (and, with publish, its
 * published one) and sets `fields`, answering the updated row, whose version_count is the new
 * version's seq. The increment happens in the database, so concurrent saves each get their own.
 * 404 when the row is gone or deleted.
 */
export async function advanceLatestVersion<T extends CatalogTable>(
  trx: Kysely<Database>,
  table: T,
  workspaceId: string,
  id: string,
  version: { versionId: string; now: string; publish: boolean },
  fields: SavedFields<T>,
): Promise<Database[T]> {
  const bumped = await trx
    .updateTable(table as CatalogTable)
    .set((eb) => ({
      version_count: eb('version_count', '+', 1),
      latest_version_id: version.versionId,
      ...fields,
      updated_at: version.now,
      ...(version.publish ? { published_version_id: version.versionId } : {}),
    }))
    .where('id', '=', id)
    .where('workspace_id', '=', workspaceId)
    .where('deleted_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
  if (!bumped) throw notFound(ROW_NAME[table]);
  return bumped as Database[T];
}

/** Inside a delete's transaction: marks the live row deleted and answers it; 404 when there is none. */
export async function markRowDeleted<T extends CatalogTable>(trx: Kysely<Database>, table: T, workspaceId: string, id: string, now: string): Promise<Database[T]> {
  const deleted = await trx
    .updateTable(table as CatalogTable)
    .set({ deleted_at: now })
    .where('id', '=', id)
    .where('workspace_id', '=', workspaceId)
    .where('deleted_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
  if (!deleted) throw notFound(ROW_NAME[table]);
  return deleted as Database[T];
}
