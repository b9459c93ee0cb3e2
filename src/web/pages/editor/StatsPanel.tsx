import { useCallback, useState } from 'react';
import { getTransformationErrors, getTransformationStats, type RecentError, type StatsWindowName } from '../../api.js';
import { ErrorAlert, Loading } from '../../components/Feedback.js';
import { RelativeTime } from '../../components/RelativeTime.js';
import { StatsSummary, StatsWindowSelect } from '../../components/StatsSummary.js';
import { shortId } from '../../format.js';
import { useLoaded } from '../../use-loaded.js';

// What the published transformation did on live traffic (rudder-server's /customTransform
// batches), summed over every Tiller instance: volume and error rate over a chosen window, and the
// latest failed events, each of which can be loaded into the Test tab.

const firstLine = (text: string) => text.split('\n')[0] ?? text;

export function StatsPanel({ transformationId, onOpenInTest }: { transformationId: string; onOpenInTest: (event: unknown) => void }) {
  const [window, setWindow] = useState<StatsWindowName>('24h');
  const statsFetcher = useCallback(() => getTransformationStats(transformationId, window), [transformationId, window]);
  const errorsFetcher = useCallback(() => getTransformationErrors(transformationId), [transformationId]);
  const stats = useLoaded(statsFetcher);
  const errors = useLoaded(errorsFetcher);

  const reload = () => {
    void stats.reload();
    void errors.reload();
  };

  return (
    <div className="stack stats-panel">
      <div className="row" style={{ display: 'flex', gap: 8, alignItems: 'center', flexWrap: 'wrap' }}>
        <StatsWindowSelect value={window} onChange={setWindow} />
        <button type="button" className="small" onClick={reload}>
          Refresh
        </button>
        <span className="muted">Live traffic from rudder-server, all instances; each instance reports every few seconds.</span>
      </div>

      {stats.error && !stats.data ? <ErrorAlert error={stats.error} title="Could not load the stats." onRetry={() => void stats.reload()} /> : null}
      {!stats.data && !stats.error ? <Loading label="Loading stats…" /> : null}
      {stats.data ? (
        <StatsSummary stats={stats.data} emptyText="No live traffic in this window. rudder-server sends events here once the transformation is published and connected to a destination." />
      ) : null}

      <h3>Recent errors</h3>
      {errors.error && !errors.data ? <ErrorAlert error={errors.error} title="Could not load the recent errors." onRetry={() => void errors.reload()} /> : null}
      {errors.data && errors.data.length === 0 ? <p className="empty">No failed events recently.</p> : null}
      {errors.data && errors.data.length > 0 ? (
        <ul className="recent-errors" aria-label="Recent errors">
          {errors.data.map((e: RecentError) => (
            <li key={e.id}>
              <div className="recent-error-head">
                <RelativeTime value={e.at} />
                <span className="muted">version {shortId(e.versionId)}</span>
                {e.line !== null ? <span className="muted">line {e.line}</span> : null}
                <button type="button" className="small" disabled={e.event === null} title={e.event === null ? 'This event was too large to keep whole.' : undefined} onClick={() => onOpenInTest(e.event)}>
                  Open in test panel
                </button>
              </div>
              <pre className="recent-error-text">{firstLine(e.error)}</pre>
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
