import type { Kysely } from 'kysely';

// Canary releases: one row per transformation (its latest canary, running or ended), and the
// figures each instance has counted for the canary's two sides since it started, replaced by that
// instance about every second so every instance's guards judge the same totals.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('transformation_canaries')
    .addColumn('transformation_id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('workspace_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('stable_version_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('canary_version_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('percent', 'integer', (c) => c.notNull())
    .addColumn('guards', 'text', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('started_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('ended_at', 'varchar(32)')
    .addColumn('end_reason', 'text')
    .execute();
  await db.schema
    .createTable('canary_figures')
    .addColumn('transformation_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('started_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('instance_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('side', 'varchar(8)', (c) => c.notNull())
    .addColumn('figures', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('canary_figures_pk', ['transformation_id', 'started_at', 'instance_id', 'side'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('canary_figures').execute();
  await db.schema.dropTable('transformation_canaries').execute();
}
