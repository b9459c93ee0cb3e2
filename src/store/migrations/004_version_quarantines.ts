import type { Kysely } from 'kysely';

// A transformation version whose batch crashed a sandbox process is quarantined for a while. The
// runtime pool enforces it in memory; this row makes it visible in the API (quarantinedUntil) on
// every instance, and keeps the latest reason. One row per version, updated on each quarantine.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('version_quarantines')
    .addColumn('version_id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('transformation_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('workspace_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('until', 'varchar(32)', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('version_quarantines_transformation').on('version_quarantines').columns(['workspace_id', 'transformation_id', 'until']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('version_quarantines').execute();
}
