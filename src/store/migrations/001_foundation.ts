import type { Kysely } from 'kysely';

// Portable DDL only: the same statements run on SQLite and PostgreSQL.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('workspaces')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(200)', (c) => c.notNull())
    .addColumn('owner_email', 'varchar(254)', (c) => c.notNull())
    .addColumn('token_digest', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('token_hint', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('token_rotated_at', 'varchar(32)')
    .execute();

  await db.schema
    .createTable('members')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('workspace_id', 'varchar(64)', (c) => c.notNull().references('workspaces.id'))
    .addColumn('email', 'varchar(254)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addUniqueConstraint('members_workspace_email', ['workspace_id', 'email'])
    .execute();

  await db.schema
    .createTable('access_tokens')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('workspace_id', 'varchar(64)', (c) => c.notNull().references('workspaces.id'))
    .addColumn('member_id', 'varchar(64)', (c) => c.notNull().references('members.id'))
    .addColumn('name', 'varchar(400)', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull())
    .addColumn('digest', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('hint', 'varchar(64)', (c) => c.notNull())
    .addColumn('scopes', 'varchar(64)', (c) => c.notNull())
    .addColumn('allowed_ips', 'text')
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('expires_at', 'varchar(32)')
    .addColumn('last_used_at', 'varchar(32)')
    .addColumn('last_used_ip', 'varchar(64)')
    .addColumn('grace_until', 'varchar(32)')
    .addColumn('rotated_from', 'varchar(64)')
    .addColumn('revoked_at', 'varchar(32)')
    .execute();
  await db.schema.createIndex('access_tokens_workspace_name').on('access_tokens').columns(['workspace_id', 'name']).execute();

  await db.schema
    .createTable('audit_events')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('workspace_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('at', 'varchar(32)', (c) => c.notNull())
    .addColumn('actor_type', 'varchar(32)', (c) => c.notNull())
    .addColumn('actor_id', 'varchar(64)')
    .addColumn('action', 'varchar(64)', (c) => c.notNull())
    .addColumn('target', 'varchar(400)')
    .addColumn('ip', 'varchar(64)')
    .addColumn('user_agent', 'varchar(512)')
    .addColumn('outcome', 'varchar(16)', (c) => c.notNull())
    .addColumn('reason', 'varchar(200)')
    .execute();
  await db.schema.createIndex('audit_events_workspace_id').on('audit_events').columns(['workspace_id', 'id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['audit_events', 'access_tokens', 'members', 'workspaces']) {
    await db.schema.dropTable(table).execute();
  }
}
