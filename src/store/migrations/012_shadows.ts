import type { Kysely } from 'kysely';

// Shadow runs: a candidate version of a transformation run on a sampled copy of its published
// version's live traffic, compared with the live answer and never used. One row per transformation
// (its latest shadow), and each instance's comparison report, replaced about every second.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('transformation_shadows')
    .addColumn('transformation_id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('workspace_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('stable_version_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('candidate_version_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('percent', 'integer', (c) => c.notNull())
    .addColumn('status', 'varchar(16)', (c) => c.notNull())
    .addColumn('started_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('ended_at', 'varchar(32)')
    .execute();
  await db.schema
    .createTable('shadow_reports')
    .addColumn('transformation_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('started_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('instance_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('report', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('shadow_reports_pk', ['transformation_id', 'started_at', 'instance_id'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('shadow_reports').execute();
  await db.schema.dropTable('transformation_shadows').execute();
}
