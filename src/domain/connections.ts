// Connections: which transformation runs for which destination of the workspace's rudder-server
// configuration, as RudderStack's Transformation API has them (destinationIds in, destinations
// out; spec sections 4 and 8). A destination runs at most one transformation, and only a
// published one: destinationIds are accepted only with publish=true.

import type { Kysely, Transaction } from 'kysely';
import type { Dialect } from '../store/db.js';
import type { Database } from '../store/schema.js';
import { conflict, invalid } from './errors.js';
import { configDestinations, type ConfigDestination } from './workspace-config.js';

/** A connected destination as transformation answers list it; name and enabled from the configuration. */
export interface DestinationView {
  id: string;
  name?: string;
  enabled?: boolean;
}

export type DestinationNames = Map<string, ConfigDestination> | null;

const quoted = (ids: readonly string[]) => ids.map((id) => `"${id}"`).join(', ');

/**
 * Inside the save's transaction: every id must be a destination of the imported configuration
 * (400 naming the others) and held by no other live transformation (409 naming the holder). On
 * PostgreSQL the configuration's row is locked first, so two saves connecting the same destination
 * (or an import dropping it) are serialized; SQLite runs one write transaction at a time.
 */
export async function checkConnections(trx: Transaction<Database>, dialect: Dialect, workspaceId: string, transformationId: string, destinationIds: readonly string[]): Promise<DestinationNames> {
  if (dialect === 'postgres') await trx.selectFrom('workspace_configs').select('workspace_id').where('workspace_id', '=', workspaceId).forUpdate().execute();
  const destinations = await configDestinations(trx, workspaceId);
  if (destinationIds.length === 0) return destinations;
  const unknown = destinationIds.filter((id) => !destinations?.has(id));
  if (unknown.length > 0) {
    const what = `destinationIds ${quoted(unknown)} ${unknown.length === 1 ? 'is not a destination' : 'are not destinations'}`;
    throw invalid(
      'unknown_destination',
      destinations === null
        ? `${what}: this workspace has no rudder-server configuration yet; import one with PUT /workspaceConfig/base`
        : `${what} of this workspace's rudder-server configuration`,
      { field: 'destinationIds', destinationIds: unknown },
    );
  }
  const others = await trx
    .selectFrom('transformations')
    .select(['id', 'name', 'destination_ids'])
    .where('workspace_id', '=', workspaceId)
    .where('deleted_at', 'is', null)
    .where('id', '!=', transformationId)
    .where('destination_ids', '!=', '[]')
    .execute();
  const wanted = new Set(destinationIds);
  for (const other of others) {
    const held = (JSON.parse(other.destination_ids) as string[]).filter((id) => wanted.has(id));
    if (held.length > 0) {
      throw conflict(
        'destination_connected',
        `destination ${quoted(held)} ${held.length === 1 ? 'is' : 'are'} already connected to transformation "${other.name}" (${other.id}); a destination runs at most one transformation: disconnect it there first`,
        { field: 'destinationIds', destinationIds: held, transformationId: other.id },
      );
    }
  }
  return destinations;
}

/** The audit reason for a change of connections, or null when nothing changed. */
export function connectionChange(before: readonly string[], after: readonly string[]): string | null {
  const added = after.filter((id) => !before.includes(id));
  const removed = before.filter((id) => !after.includes(id));
  if (added.length === 0 && removed.length === 0) return null;
  return [added.length > 0 ? `connected ${added.join(', ')}` : null, removed.length > 0 ? `disconnected ${removed.join(', ')}` : null].filter(Boolean).join('; ');
}

export function destinationViews(ids: readonly string[], destinations: DestinationNames): DestinationView[] {
  return ids.map((id) => {
    const known = destinations?.get(id);
    return known ? { ...known } : { id };
  });
}

/** The configuration's destinations, read only when some transformation is connected (it may be large). */
export async function destinationNamesFor(db: Kysely<Database>, workspaceId: string, anyConnected: boolean): Promise<DestinationNames> {
  return anyConnected ? configDestinations(db, workspaceId) : null;
}
