import { useCallback, useState } from 'react';
import { getWorkspaceConfigSummary, setTransformationDestinations } from '../../api.js';
import { ErrorAlert, Loading, useToast } from '../../components/Feedback.js';
import { DataTable } from '../../components/ListPage.js';
import { href } from '../../router.js';
import { READ_ONLY_REASON } from '../../session.js';
import { useAction } from '../../use-action.js';
import { useLoaded } from '../../use-loaded.js';

// A transformation's "Destinations" tab: connect it to destinations of the workspace's
// rudder-server configuration, or disconnect it. A destination runs the published version, so
// connecting needs one; a destination connected to another transformation says which.

interface DestinationRow {
  id: string;
  name: string;
  enabled: boolean | null;
  type: string | null;
  sources: string[];
  transformationId: string | null;
}

async function loadDestinations(): Promise<{ rows: DestinationRow[] | null }> {
  const summary = await getWorkspaceConfigSummary();
  if (!summary) return { rows: null };
  // A destination connected to two sources is listed under both: one row, both sources named.
  const byId = new Map<string, DestinationRow>();
  for (const source of summary.sources) {
    for (const destination of source.destinations) {
      const known = byId.get(destination.id);
      const sourceName = source.name ?? source.id;
      if (known) known.sources.push(sourceName);
      else byId.set(destination.id, { id: destination.id, name: destination.name ?? destination.id, enabled: destination.enabled, type: destination.type, sources: [sourceName], transformationId: destination.transformationId });
    }
  }
  return { rows: [...byId.values()] };
}

export function DestinationsPanel({ transformationId, published, canWrite, onChanged }: { transformationId: string; published: boolean; canWrite: boolean; onChanged: () => void }) {
  const fetcher = useCallback(loadDestinations, []);
  const { data, error, reload } = useLoaded(fetcher);
  const [pending, setPending] = useState<string | null>(null);
  const { notify } = useToast();
  const rows = data?.rows;
  const connectedIds = (rows ?? []).filter((row) => row.transformationId === transformationId).map((row) => row.id);

  const change = useAction(async (row: DestinationRow, connect: boolean) => {
    setPending(row.id);
    try {
      const next = connect ? [...connectedIds, row.id] : connectedIds.filter((id) => id !== row.id);
      await setTransformationDestinations(transformationId, { destinationIds: next });
      notify(connect ? `Connected to “${row.name}”: rudder-server runs the published version there from its next poll.` : `Disconnected from “${row.name}”.`);
      onChanged();
      await reload();
    } finally {
      setPending(null);
    }
  });

  if (error) return <ErrorAlert error={error} title="Could not load the destinations." onRetry={() => void reload()} />;
  if (!data) return <Loading label="Loading destinations…" />;
  if (rows === null || rows === undefined) {
    return (
      <p className="muted">
        This workspace has no rudder-server configuration yet, so there is nothing to connect to. See <a href={href('/configuration')}>Configuration</a> for how to
        import one.
      </p>
    );
  }
  if (rows.length === 0) return <p className="muted">The workspace&apos;s rudder-server configuration has no destinations.</p>;

  const reason = !canWrite ? READ_ONLY_REASON : !published ? 'Publish a version first: a destination runs the published version.' : null;
  return (
    <div className="stack">
      <ErrorAlert error={change.error} title="Could not change the connection." />
      {reason ? (
        <div className="alert alert-info" role="note">
          {reason}
        </div>
      ) : null}
      <DataTable label="Destinations" columns={['Destination', 'Type', 'Sources', 'Status', 'Connection']}>
        {rows.map((row) => {
          const mine = row.transformationId === transformationId;
          const heldElsewhere = row.transformationId !== null && !mine;
          return (
            <tr key={row.id}>
              <td data-label="Destination">
                {row.name} <code className="small">{row.id}</code>
              </td>
              <td data-label="Type">{row.type ?? <span className="muted">—</span>}</td>
              <td data-label="Sources">{row.sources.join(', ')}</td>
              <td data-label="Status">{row.enabled === false ? <span className="badge badge-warn">disabled</span> : <span className="badge badge-ok">enabled</span>}</td>
              <td data-label="Connection">
                {heldElsewhere ? (
                  <span>
                    Runs <a href={href(`/transformations/${encodeURIComponent(row.transformationId ?? '')}`)}>another transformation</a>
                  </span>
                ) : mine ? (
                  <button type="button" className="small" disabled={!canWrite || pending !== null} aria-label={`Disconnect ${row.name}`} onClick={() => void change.run(row, false)}>
                    {pending === row.id ? 'Disconnecting…' : 'Disconnect'}
                  </button>
                ) : (
                  <button type="button" className="small primary" disabled={reason !== null || pending !== null} aria-label={`Connect ${row.name}`} onClick={() => void change.run(row, true)}>
                    {pending === row.id ? 'Connecting…' : 'Connect'}
                  </button>
                )}
              </td>
            </tr>
          );
        })}
      </DataTable>
    </div>
  );
}
