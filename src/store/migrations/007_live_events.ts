import type { Kysely } from 'kysely';

// Live events (spec section 8): rudder-server posts samples of a transformation's input and output
// while its served entry says config.eventTransform: true. live_events_until is when that window
// ends (null: off), so every instance serves the same flag and it turns itself off without a write.
// live_event_samples keeps the most recent samples of each transformation, pruned on insert; ids
// sort by arrival (milliseconds, then the sample's place in its batch), newest last.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('transformations').addColumn('live_events_until', 'varchar(32)').execute();
  await db.schema
    .createTable('live_event_samples')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('workspace_id', 'varchar(64)', (c) => c.notNull().references('workspaces.id'))
    .addColumn('transformation_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('received_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('sample', 'text', (c) => c.notNull())
    .addColumn('sample_bytes', 'integer', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('live_event_samples_transformation').on('live_event_samples').columns(['transformation_id', 'id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('live_event_samples').execute();
  await db.schema.alterTable('transformations').dropColumn('live_events_until').execute();
}
