import type { Kysely } from 'kysely';

// The audit log shows what a change was about by name (a token, a transformation, a library, a
// credential's key), as it was called at the time: renames and deletions later do not rewrite history.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('audit_events').addColumn('target_name', 'varchar(300)').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('audit_events').dropColumn('target_name').execute();
}
