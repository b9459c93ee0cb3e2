import { sql, type Kysely } from 'kysely';

// Listing a workspace's live transformations or libraries reads them in creation order. These
// partial indexes hold exactly that order (created_at, then id for ties within a millisecond), so
// a list is one index scan with no sort step, on both dialects.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('transformations_live_order').on('transformations').columns(['workspace_id', 'created_at', 'id']).where(sql.ref('deleted_at'), 'is', null).execute();
  await db.schema.createIndex('libraries_live_order').on('libraries').columns(['workspace_id', 'created_at', 'id']).where(sql.ref('deleted_at'), 'is', null).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('libraries_live_order').execute();
  await db.schema.dropIndex('transformations_live_order').execute();
}
