import type { Kysely } from 'kysely';

// What live traffic did, per transformation version and minute, and the latest failed events.
// Each instance writes only its own rows of transformation_stats (instance_id is random per
// process), replacing them whole as its in-memory rollup grows, so a latency histogram merges
// exactly and no instance's write races another's; reads sum across instances.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('transformation_stats')
    .addColumn('instance_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('version_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('minute', 'varchar(32)', (c) => c.notNull())
    .addColumn('workspace_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('transformation_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('events_in', 'integer', (c) => c.notNull())
    .addColumn('events_out', 'integer', (c) => c.notNull())
    .addColumn('dropped', 'integer', (c) => c.notNull())
    .addColumn('failed', 'integer', (c) => c.notNull())
    .addColumn('batches', 'integer', (c) => c.notNull())
    .addColumn('run_ms', 'double precision', (c) => c.notNull())
    .addColumn('run_ms_histogram', 'text', (c) => c.notNull())
    .addColumn('cold_starts', 'integer', (c) => c.notNull())
    .addColumn('limit_kills', 'integer', (c) => c.notNull())
    .addColumn('quarantined', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('transformation_stats_pk', ['instance_id', 'version_id', 'minute'])
    .execute();
  await db.schema.createIndex('transformation_stats_by_transformation').on('transformation_stats').columns(['transformation_id', 'minute']).execute();
  await db.schema.createIndex('transformation_stats_by_minute').on('transformation_stats').columns(['minute']).execute();

  await db.schema
    .createTable('transformation_errors')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('workspace_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('transformation_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('version_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('at', 'varchar(32)', (c) => c.notNull())
    .addColumn('error', 'text', (c) => c.notNull())
    .addColumn('line', 'integer')
    .addColumn('event', 'text', (c) => c.notNull())
    .addColumn('event_truncated', 'integer', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('transformation_errors_by_transformation').on('transformation_errors').columns(['transformation_id', 'id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('transformation_errors').execute();
  await db.schema.dropTable('transformation_stats').execute();
}
