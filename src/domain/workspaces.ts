import type { Transaction } from 'kysely';
import type { Store } from '../store/db.js';
import type { Database } from '../store/schema.js';
import { recordAudit, systemActor } from './audit.js';
import { notFound } from './errors.js';
import { newId, nowIso } from './ids.js';
import { MAX_NAME_CHARS, validName } from './names.js';
import { digestSecret, generateSecret, secretHint } from './secrets.js';

export interface Workspace {
  id: string;
  name: string;
  ownerEmail: string;
  tokenHint: string;
  createdAt: string;
}

export const TOKENS_CHANNEL = 'tiller_tokens';

export async function createWorkspace(store: Store, pepper: Buffer, input: { name: string; ownerEmail: string }): Promise<{ workspace: Workspace; workspaceToken: string }> {
  return store.db.transaction().execute((trx) => insertWorkspace(trx, pepper, input));
}

async function insertWorkspace(trx: Transaction<Database>, pepper: Buffer, input: { name: string; ownerEmail: string }): Promise<{ workspace: Workspace; workspaceToken: string }> {
  const name = validName(input.name, MAX_NAME_CHARS);
  const workspaceToken = generateSecret('workspace');
  const workspace: Workspace = { id: newId(), name, ownerEmail: input.ownerEmail.toLowerCase(), tokenHint: secretHint(workspaceToken), createdAt: nowIso() };
  await trx
    .insertInto('workspaces')
    .values({ id: workspace.id, name: workspace.name, owner_email: workspace.ownerEmail, token_digest: digestSecret(pepper, workspaceToken), token_hint: workspace.tokenHint, created_at: workspace.createdAt, token_rotated_at: null })
    .execute();
  await trx.insertInto('members').values({ id: newId(), workspace_id: workspace.id, email: workspace.ownerEmail, created_at: workspace.createdAt }).execute();
  await recordAudit(trx, workspace.id, systemActor, { action: 'workspace.create', target: workspace.id });
  return { workspace, workspaceToken };
}

/** Replaces the workspace token at once; the old one stops working on every instance. */
export async function rotateWorkspaceToken(store: Store, pepper: Buffer, workspaceId: string): Promise<{ workspaceToken: string; workspace: Workspace }> {
  const workspaceToken = generateSecret('workspace');
  const workspace = await store.db.transaction().execute(async (trx) => {
    const row = await trx.selectFrom('workspaces').selectAll().where('id', '=', workspaceId).executeTakeFirst();
    if (!row) throw notFound('workspace');
    const hint = secretHint(workspaceToken);
    await trx.updateTable('workspaces').set({ token_digest: digestSecret(pepper, workspaceToken), token_hint: hint, token_rotated_at: nowIso() }).where('id', '=', workspaceId).execute();
    await recordAudit(trx, workspaceId, systemActor, { action: 'workspace.rotate_token', target: workspaceId });
    await store.announce(trx, TOKENS_CHANNEL, `workspace:${workspaceId}`);
    return { id: row.id, name: row.name, ownerEmail: row.owner_email, tokenHint: hint, createdAt: row.created_at };
  });
  return { workspaceToken, workspace };
}

export async function listWorkspaces(store: Store): Promise<Workspace[]> {
  const rows = await store.db.selectFrom('workspaces').selectAll().orderBy('created_at').execute();
  return rows.map((r) => ({ id: r.id, name: r.name, ownerEmail: r.owner_email, tokenHint: r.token_hint, createdAt: r.created_at }));
}

/**
 * On first start with an empty store: a workspace named "default", whose token is shown once.
 * Replicas starting together on one empty database race here; the claim row makes exactly one of
 * them create it (the others wait on the row's lock, then find it taken).
 */
export async function ensureDefaultWorkspace(store: Store, pepper: Buffer, ownerEmail: string): Promise<{ workspace: Workspace; workspaceToken: string } | null> {
  return store.db.transaction().execute(async (trx) => {
    const claim = await trx
      .insertInto('instance_settings')
      .values({ name: 'default_workspace', value: 'claimed', set_at: nowIso() })
      .onConflict((oc) => oc.column('name').doNothing())
      .executeTakeFirst();
    if (Number(claim.numInsertedOrUpdatedRows ?? 0) === 0) return null;
    // A store from before the claim row existed already has its workspaces.
    if (await trx.selectFrom('workspaces').select('id').limit(1).executeTakeFirst()) return null;
    return insertWorkspace(trx, pepper, { name: 'default', ownerEmail });
  });
}
