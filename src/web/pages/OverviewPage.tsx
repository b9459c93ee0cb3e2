import { useCallback, useMemo, useState } from 'react';
import { getWorkspaceStats, listTransformationsWithStats, type StatsWindowName } from '../api.js';
import { ErrorAlert, Loading } from '../components/Feedback.js';
import { PageHead } from '../components/ListPage.js';
import { formatRate, StatsSummary, StatsWindowSelect } from '../components/StatsSummary.js';
import { href } from '../router.js';
import { useLoaded } from '../use-loaded.js';

// The workspace at a glance: what all of its transformations did on live traffic over a window,
// and which of them carry the volume and the failures (last 24 hours), each linking to its Stats tab.

export function OverviewPage() {
  const [window, setWindow] = useState<StatsWindowName>('24h');
  const statsFetcher = useCallback(() => getWorkspaceStats(window), [window]);
  const stats = useLoaded(statsFetcher);
  const list = useLoaded(listTransformationsWithStats);
  const busiest = useMemo(
    () =>
      (list.data ?? [])
        .filter((t) => (t.stats24h?.eventsIn ?? 0) > 0)
        .sort((a, b) => (b.stats24h?.failed ?? 0) - (a.stats24h?.failed ?? 0) || (b.stats24h?.eventsIn ?? 0) - (a.stats24h?.eventsIn ?? 0)),
    [list.data],
  );

  return (
    <section aria-labelledby="overview-title" className="stack">
      <PageHead id="overview-title" title="Overview" actions={<StatsWindowSelect value={window} onChange={setWindow} />}>
        Live traffic through every transformation of this workspace, from rudder-server, summed over all Tiller instances.
      </PageHead>
      {stats.error && !stats.data ? <ErrorAlert error={stats.error} title="Could not load the workspace stats." onRetry={() => void stats.reload()} /> : null}
      {!stats.data && !stats.error ? <Loading label="Loading stats…" /> : null}
      {stats.data ? <StatsSummary stats={stats.data} emptyText="No live traffic in this window. Publish a transformation and connect it to a destination, and rudder-server's events show here." /> : null}

      <h2>Transformations with traffic, last 24 hours</h2>
      {list.error && !list.data ? <ErrorAlert error={list.error} title="Could not load the transformations." onRetry={() => void list.reload()} /> : null}
      {list.data && busiest.length === 0 ? <p className="empty">None had live traffic in the last 24 hours.</p> : null}
      {busiest.length > 0 ? (
        <table aria-label="Transformations with traffic">
          <thead>
            <tr>
              <th scope="col">Transformation</th>
              <th scope="col">Events in</th>
              <th scope="col">Failed</th>
              <th scope="col">Error rate</th>
            </tr>
          </thead>
          <tbody>
            {busiest.map((t) => (
              <tr key={t.id}>
                <td data-label="Transformation" className="primary-cell">
                  <a href={href(`/transformations/${t.id}?tab=stats`)}>{t.name}</a>
                </td>
                <td data-label="Events in">{(t.stats24h?.eventsIn ?? 0).toLocaleString('en')}</td>
                <td data-label="Failed">{(t.stats24h?.failed ?? 0).toLocaleString('en')}</td>
                <td data-label="Error rate">
                  <span className={(t.stats24h?.errorRate ?? 0) > 0 ? 'badge badge-danger' : 'badge badge-ok'}>{formatRate(t.stats24h?.errorRate ?? 0)}</span>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
