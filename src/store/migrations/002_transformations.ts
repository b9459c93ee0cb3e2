import { sql, type Kysely } from 'kysely';

// Versions are append-only rows; the parent row holds the latest and published pointers.
// seq numbers each parent's versions, and the unique (parent, seq) pair is what makes two
// concurrent updates produce two versions instead of one overwriting the other.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('transformations')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('workspace_id', 'varchar(64)', (c) => c.notNull().references('workspaces.id'))
    .addColumn('name', 'varchar(400)', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('language', 'varchar(32)', (c) => c.notNull())
    .addColumn('destination_ids', 'text', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('latest_version_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('published_version_id', 'varchar(64)')
    .addColumn('version_count', 'integer', (c) => c.notNull())
    .addColumn('deleted_at', 'varchar(32)')
    .execute();
  await db.schema.createIndex('transformations_workspace').on('transformations').columns(['workspace_id', 'created_at']).execute();

  await db.schema
    .createTable('transformation_versions')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('transformation_id', 'varchar(64)', (c) => c.notNull().references('transformations.id'))
    .addColumn('workspace_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('name', 'varchar(400)', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('code', 'text', (c) => c.notNull())
    .addColumn('code_version', 'varchar(8)', (c) => c.notNull())
    .addColumn('language', 'varchar(32)', (c) => c.notNull())
    .addColumn('imports', 'text', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('created_by', 'varchar(64)')
    .addUniqueConstraint('transformation_versions_seq', ['transformation_id', 'seq'])
    .execute();

  await db.schema
    .createTable('libraries')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('workspace_id', 'varchar(64)', (c) => c.notNull().references('workspaces.id'))
    .addColumn('name', 'varchar(400)', (c) => c.notNull())
    .addColumn('import_name', 'varchar(400)', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('language', 'varchar(32)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('latest_version_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('published_version_id', 'varchar(64)')
    .addColumn('version_count', 'integer', (c) => c.notNull())
    .addColumn('deleted_at', 'varchar(32)')
    .execute();
  // Import names are unique among a workspace's live libraries; a deleted one frees its name.
  await db.schema.createIndex('libraries_live_import_name').on('libraries').columns(['workspace_id', 'import_name']).unique().where(sql.ref('deleted_at'), 'is', null).execute();

  await db.schema
    .createTable('library_versions')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('library_id', 'varchar(64)', (c) => c.notNull().references('libraries.id'))
    .addColumn('workspace_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('name', 'varchar(400)', (c) => c.notNull())
    .addColumn('import_name', 'varchar(400)', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('code', 'text', (c) => c.notNull())
    .addColumn('language', 'varchar(32)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('created_by', 'varchar(64)')
    .addUniqueConstraint('library_versions_seq', ['library_id', 'seq'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['library_versions', 'libraries', 'transformation_versions', 'transformations']) {
    await db.schema.dropTable(table).execute();
  }
}
