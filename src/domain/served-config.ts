// What every write that changes a workspace's served rudder-server configuration (/workspaceConfig)
// does inside its transaction: move the configuration's updatedAt, and tell every instance to
// drop what it serves from memory. Kept apart from workspace-config.ts so that the catalog and the
// credentials can call it without importing the configuration's reader.

import type { Kysely } from 'kysely';
import type { Store } from '../store/db.js';
import type { Database } from '../store/schema.js';
import { nowIso } from './ids.js';

/** Announcements name the workspace whose served configuration changed. */
export const SERVED_CONFIG_CHANNEL = 'tiller_workspace_config';

/**
 * Moves updatedAt of the workspace's configuration (a no-op until one is imported). Announcing is
 * left to the caller when it already announces on a channel the served configurations listen to
 * (credentials); `announce` does both.
 */
export async function touchServedConfig(trx: Kysely<Database>, workspaceId: string): Promise<void> {
  await trx.updateTable('workspace_configs').set({ changed_at: nowIso() }).where('workspace_id', '=', workspaceId).execute();
}

/**
 * touchServedConfig plus the announcement every instance's served configurations listen to. Call
 * it first in the transaction: its update takes the configuration's row lock, and taking that lock
 * before any library or transformation row, in every transaction, is what keeps a publish and a
 * connection change from deadlocking on PostgreSQL.
 */
export async function announceServedConfigChange(trx: Kysely<Database>, store: Store, workspaceId: string): Promise<void> {
  await touchServedConfig(trx, workspaceId);
  await store.announce(trx, SERVED_CONFIG_CHANNEL, workspaceId);
}
