import type { Kysely } from 'kysely';

// A workspace's rudder-server configuration (ConfigT, as rudder-server reads it in file mode),
// kept as the imported JSON text so it exports back unchanged. The counts let lists and audit
// entries describe it without parsing; changed_at is what /workspaceConfig answers as updatedAt,
// bumped by every write that changes the served configuration (import, publish, connections,
// credentials), so every instance answers the same time for the same content.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('workspace_configs')
    .addColumn('workspace_id', 'varchar(64)', (c) => c.primaryKey().references('workspaces.id'))
    .addColumn('config', 'text', (c) => c.notNull())
    .addColumn('config_bytes', 'integer', (c) => c.notNull())
    .addColumn('source_count', 'integer', (c) => c.notNull())
    .addColumn('destination_count', 'integer', (c) => c.notNull())
    .addColumn('imported_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('imported_by', 'varchar(64)')
    .addColumn('changed_at', 'varchar(32)', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('workspace_configs').execute();
}
