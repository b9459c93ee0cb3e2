import { sql, type Kysely } from 'kysely';

// Workspace credentials: what user code reads with getCredential(key). A non-secret keeps its
// value in plain text; a secret keeps only its sealed value (src/domain/credential-seal.ts), whose
// key id is also a column so a key rotation can find the rows still sealed under an old key.
// value_bytes is the plaintext's UTF-8 size, for the per-workspace size limit without decrypting.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('credentials')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('workspace_id', 'varchar(64)', (c) => c.notNull().references('workspaces.id'))
    .addColumn('key', 'varchar(100)', (c) => c.notNull())
    .addColumn('is_secret', 'integer', (c) => c.notNull())
    .addColumn('value', 'text')
    .addColumn('value_sealed', 'text')
    .addColumn('sealed_key_id', 'varchar(16)')
    .addColumn('value_bytes', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
    .addColumn('created_by', 'varchar(64)')
    .addColumn('updated_by', 'varchar(64)')
    .addUniqueConstraint('credentials_workspace_key', ['workspace_id', 'key'])
    // A secret's plain text is never stored, not even beside its sealed value.
    .addCheckConstraint(
      'credentials_value_form',
      sql`(is_secret = 1 and value is null and value_sealed is not null and sealed_key_id is not null) or (is_secret = 0 and value is not null and value_sealed is null and sealed_key_id is null)`,
    )
    .execute();
  // Lists read a workspace's credentials in creation order, like the catalog's lists (see 003).
  await db.schema.createIndex('credentials_workspace_order').on('credentials').columns(['workspace_id', 'created_at', 'id']).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('credentials').execute();
}
