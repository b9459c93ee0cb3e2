import { useCallback, useMemo, useState } from 'react';
import { getTransformationErrors, getTransformationStats, type RecentError, type StatsWindowName } from '../../api.js';
import { ErrorAlert, Loading } from '../../components/Feedback.js';
import { RelativeTime } from '../../components/RelativeTime.js';
import { TimeChart, type ChartSeries } from '../../components/TimeChart.js';
import { formatDateSeconds, shortId } from '../../format.js';
import { useLoaded } from '../../use-loaded.js';

// What the published transformation did on live traffic (rudder-server's /customTransform
// batches), summed over every Tiller instance: volume and error rate over a chosen window, and the
// latest failed events, each of which can be loaded into the Test tab.

const WINDOWS: Array<{ id: StatsWindowName; label: string }> = [
  { id: '1h', label: 'Last hour' },
  { id: '24h', label: 'Last 24 hours' },
  { id: '7d', label: 'Last 7 days' },
];

const percent = (rate: number) => `${(rate * 100).toFixed(rate > 0 && rate < 0.01 ? 2 : 1)} %`;
const count = (value: number) => value.toLocaleString('en');
const firstLine = (text: string) => text.split('\n')[0] ?? text;

export function StatsPanel({ transformationId, onOpenInTest }: { transformationId: string; onOpenInTest: (event: unknown) => void }) {
  const [window, setWindow] = useState<StatsWindowName>('24h');
  const statsFetcher = useCallback(() => getTransformationStats(transformationId, window), [transformationId, window]);
  const errorsFetcher = useCallback(() => getTransformationErrors(transformationId), [transformationId]);
  const stats = useLoaded(statsFetcher);
  const errors = useLoaded(errorsFetcher);

  const charts = useMemo(() => {
    if (!stats.data) return null;
    const times = stats.data.series.map((point) => Date.parse(point.start) / 1000);
    const volume: ChartSeries[] = [
      { label: 'events in', values: stats.data.series.map((p) => p.eventsIn), color: '--brand' },
      { label: 'events out', values: stats.data.series.map((p) => p.eventsOut), color: '--text-muted' },
      { label: 'failed', values: stats.data.series.map((p) => p.failed), color: '--danger' },
    ];
    const rate: ChartSeries[] = [{ label: 'error rate', values: stats.data.series.map((p) => (p.eventsIn === 0 ? null : p.errorRate * 100)), color: '--danger' }];
    return { times, volume, rate };
  }, [stats.data]);

  const reload = () => {
    void stats.reload();
    void errors.reload();
  };

  return (
    <div className="stack stats-panel">
      <div className="row" style={{ display: 'flex', gap: 8, alignItems: 'center', flexWrap: 'wrap' }}>
        <label>
          Window{' '}
          <select value={window} onChange={(event) => setWindow(event.target.value as StatsWindowName)} aria-label="Stats window">
            {WINDOWS.map((w) => (
              <option key={w.id} value={w.id}>
                {w.label}
              </option>
            ))}
          </select>
        </label>
        <button type="button" className="small" onClick={reload}>
          Refresh
        </button>
        <span className="muted">Live traffic from rudder-server, all instances; each instance reports every few seconds.</span>
      </div>

      {stats.error && !stats.data ? <ErrorAlert error={stats.error} title="Could not load the stats." onRetry={() => void stats.reload()} /> : null}
      {!stats.data && !stats.error ? <Loading label="Loading stats…" /> : null}
      {stats.data ? (
        <>
          <dl className="stats-totals" aria-label="Totals over the window">
            <div>
              <dt>Events in</dt>
              <dd>{count(stats.data.totals.eventsIn)}</dd>
            </div>
            <div>
              <dt>Events out</dt>
              <dd>{count(stats.data.totals.eventsOut)}</dd>
            </div>
            <div>
              <dt>Dropped</dt>
              <dd>{count(stats.data.totals.dropped)}</dd>
            </div>
            <div>
              <dt>Failed</dt>
              <dd>{count(stats.data.totals.failed)}</dd>
            </div>
            <div>
              <dt>Error rate</dt>
              <dd>{percent(stats.data.totals.errorRate)}</dd>
            </div>
            <div>
              <dt>Batch time p50 / p99</dt>
              <dd>{stats.data.totals.runMs.p50 === null ? '—' : `≤ ${stats.data.totals.runMs.p50} / ≤ ${stats.data.totals.runMs.p99} ms`}</dd>
            </div>
          </dl>
          {stats.data.totals.eventsIn === 0 ? (
            <p className="empty">No live traffic in this window. rudder-server sends events here once the transformation is published and connected to a destination.</p>
          ) : charts ? (
            <div className="stats-charts">
              <TimeChart title="Events" times={charts.times} series={charts.volume} />
              <TimeChart title="Error rate" times={charts.times} series={charts.rate} format={(v) => `${v.toFixed(1)} %`} />
            </div>
          ) : null}
        </>
      ) : null}

      <h3>Recent errors</h3>
      {errors.error && !errors.data ? <ErrorAlert error={errors.error} title="Could not load the recent errors." onRetry={() => void errors.reload()} /> : null}
      {errors.data && errors.data.length === 0 ? <p className="empty">No failed events recently.</p> : null}
      {errors.data && errors.data.length > 0 ? (
        <ul className="recent-errors" aria-label="Recent errors">
          {errors.data.map((e: RecentError) => (
            <li key={e.id}>
              <div className="recent-error-head">
                <time dateTime={e.at} title={formatDateSeconds(e.at)}>
                  <RelativeTime value={e.at} />
                </time>
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
