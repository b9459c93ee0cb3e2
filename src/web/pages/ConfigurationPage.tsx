import { getWorkspaceConfigSummary, type WorkspaceConfigSummary } from '../api.js';
import { Empty, ErrorAlert, Loading } from '../components/Feedback.js';
import { DataTable, PageHead, RefreshToolbar } from '../components/ListPage.js';
import { RelativeTime } from '../components/RelativeTime.js';
import { plural } from '../format.js';
import { useLoaded } from '../use-loaded.js';

// The rudder-server configuration the workspace holds, read-only: it is imported whole from the
// file rudder-server reads (PUT /workspaceConfig/base). Names and ids only: the server never sends
// the dashboard a destination's config, which may hold API keys.

/** Wrapped, so that "nothing imported" (null) is told apart from "still loading" (useLoaded's null). */
async function load(): Promise<{ summary: WorkspaceConfigSummary | null }> {
  return { summary: await getWorkspaceConfigSummary() };
}

function EnabledBadge({ enabled }: { enabled: boolean | null }) {
  if (enabled === null) return <span className="muted">—</span>;
  return enabled ? <span className="badge badge-ok">enabled</span> : <span className="badge badge-warn">disabled</span>;
}

function entryName(entry: { id: string; name: string | null }): string {
  return entry.name ?? entry.id;
}

function ImportHelp() {
  const origin = typeof window === 'undefined' ? 'https://tiller.example.com' : window.location.origin;
  return (
    <>
      <p>Import the JSON file rudder-server reads in file mode (workspaceConfig.json) with the workspace token:</p>
      <pre>
        <code>{`curl -X PUT ${origin}/workspaceConfig/base \\\n  -u "$TILLER_WORKSPACE_TOKEN:" \\\n  -H 'Content-Type: application/json' \\\n  --data-binary @workspaceConfig.json`}</code>
      </pre>
      <p>Then point rudder-server at Tiller with CONFIG_BACKEND_URL and the workspace token.</p>
    </>
  );
}

export function ConfigurationPage() {
  const { data, error, reload } = useLoaded(load);
  const summary = data?.summary;
  const destinationCount = summary ? new Set(summary.sources.flatMap((source) => source.destinations.map((destination) => destination.id))).size : 0;

  return (
    <section aria-labelledby="configuration-title">
      <PageHead
        id="configuration-title"
        title="Configuration"
        actions={<RefreshToolbar onRefresh={() => void reload()} />}
      >
        The rudder-server configuration this workspace serves at <code>/workspaceConfig</code>: its sources and their destinations, read-only. Destination
        settings, which may hold API keys, are not shown.
      </PageHead>

      <ErrorAlert error={error} title="Could not load the configuration." onRetry={() => void reload()} />
      {data === null && !error ? <Loading label="Loading the configuration…" /> : null}

      {data && summary === null ? (
        <div className="card">
          <Empty title="No configuration imported yet">
            <ImportHelp />
          </Empty>
        </div>
      ) : null}

      {summary ? (
        <>
          <p className="small muted">
            {plural(summary.sources.length, 'source')}, {plural(destinationCount, 'destination')}. Imported <RelativeTime value={summary.importedAt} />; last change{' '}
            <RelativeTime value={summary.updatedAt} />.
          </p>
          {summary.sources.map((source) => (
            <div className="card" key={source.id} data-testid={`source-${source.id}`}>
              <h2>
                {entryName(source)} <EnabledBadge enabled={source.enabled} />
              </h2>
              <p className="small muted">
                Source <code>{source.id}</code>
                {source.type ? ` · ${source.type}` : ''}
              </p>
              {source.destinations.length === 0 ? (
                <p className="muted">No destinations.</p>
              ) : (
                <DataTable label={`Destinations of ${entryName(source)}`} columns={['Destination', 'Id', 'Type', 'Enabled', 'Transformation']}>
                  {source.destinations.map((destination) => (
                    <tr key={destination.id}>
                      <td data-label="Destination">{entryName(destination)}</td>
                      <td data-label="Id">
                        <code>{destination.id}</code>
                      </td>
                      <td data-label="Type">{destination.type ?? <span className="muted">—</span>}</td>
                      <td data-label="Enabled">
                        <EnabledBadge enabled={destination.enabled} />
                      </td>
                      <td data-label="Transformation">
                        {destination.transformationId ? (
                          <a href={`#/transformations/${encodeURIComponent(destination.transformationId)}`}>
                            <code>{destination.transformationId}</code>
                          </a>
                        ) : (
                          <span className="muted">none</span>
                        )}
                      </td>
                    </tr>
                  ))}
                </DataTable>
              )}
            </div>
          ))}
        </>
      ) : null}
    </section>
  );
}
