import type { Kysely } from 'kysely';

// Facts every instance on one database must agree on, checked at start (for now the pepper's
// fingerprint, so an instance started with another pepper stops with one line instead of failing
// every token it did not issue).
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('instance_settings')
    .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('set_at', 'varchar(32)', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('instance_settings').execute();
}
