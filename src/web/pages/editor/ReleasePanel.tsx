import { useCallback, useEffect, useMemo } from 'react';
import { abortCanary, getReleaseState, promoteCanary, startCanary, type ReleaseState } from '../../api.js';
import { ErrorAlert, Loading, useToast } from '../../components/Feedback.js';
import { formatRate } from '../../components/StatsSummary.js';
import { TimeChart, type ChartSeries } from '../../components/TimeChart.js';
import { formatDateSeconds } from '../../format.js';
import { READ_ONLY_REASON } from '../../session.js';
import { useAction } from '../../use-action.js';
import { useLoaded } from '../../use-loaded.js';
import { ShadowSection } from './ShadowSection.js';
import { VersionShareForm } from './VersionShareForm.js';
import type { VersionEntry } from './VersionsPanel.js';

// A transformation's release: start a canary of one of its versions on a share of live traffic,
// watch it beside the published version, promote or abort it; a guard may have withdrawn it.

const REFRESH_MS = 5000;

const statusText: Record<NonNullable<ReleaseState['canary']>['status'], string> = {
  running: 'running',
  promoted: 'promoted',
  aborted: 'aborted',
  rolled_back: 'withdrawn by its guard',
};

export function ReleasePanel({ transformationId, versions, canWrite, onChanged }: { transformationId: string; versions: VersionEntry[]; canWrite: boolean; onChanged: () => void }) {
  const fetcher = useCallback(() => getReleaseState(transformationId), [transformationId]);
  const { data, error, reload } = useLoaded(fetcher);
  const { notify } = useToast();
  const running = data?.canary?.status === 'running';
  const candidates = versions.filter((entry) => entry.version.versionId !== data?.stableVersionId);
  const labelOf = (id: string | null | undefined) => versions.find((entry) => entry.version.versionId === id)?.label ?? id ?? '—';

  useEffect(() => {
    if (!running) return undefined;
    const timer = setInterval(() => void reload(), REFRESH_MS);
    return () => clearInterval(timer);
  }, [running, reload]);

  const change = useAction(async (what: 'promote' | 'abort' | { versionId: string; percent: number }) => {
    if (typeof what === 'object') await startCanary(transformationId, what);
    else if (what === 'promote') await promoteCanary(transformationId);
    else await abortCanary(transformationId);
    notify(typeof what === 'object' ? `Canary started on ${what.percent}% of live traffic.` : what === 'promote' ? 'Canary promoted: it is the published version now.' : 'Canary aborted.');
    await reload();
    onChanged();
  });

  const charts = useMemo(() => {
    if (!data?.series) return null;
    const times = data.series.stable.map((point) => Date.parse(point.start) / 1000);
    const volume: ChartSeries[] = [
      { label: 'published', values: data.series.stable.map((p) => p.eventsIn), color: '--text-muted' },
      { label: 'canary', values: data.series.canary.map((p) => p.eventsIn), color: '--brand' },
    ];
    const failures: ChartSeries[] = [
      { label: 'published', values: data.series.stable.map((p) => (p.eventsIn === 0 ? null : p.errorRate * 100)), color: '--text-muted' },
      { label: 'canary', values: data.series.canary.map((p) => (p.eventsIn === 0 ? null : p.errorRate * 100)), color: '--danger' },
    ];
    return { times, volume, failures };
  }, [data]);

  if (error && !data) return <ErrorAlert error={error} title="Could not load the release state." onRetry={() => void reload()} />;
  if (!data) return <Loading label="Loading the release…" />;
  const reason = !canWrite ? READ_ONLY_REASON : null;
  const { canary, sides } = data;

  return (
    <div className="stack release-panel">
      <ErrorAlert error={change.error} title="Could not change the release." />
      {!data.stableVersionId ? <div className="alert alert-info">Publish a version first: a canary shares the published version's live traffic.</div> : null}
      {canary ? (
        <section aria-label="Canary">
          <p>
            Canary <strong>{labelOf(canary.canaryVersionId)}</strong> on {canary.percent}% of the live traffic of <strong>{labelOf(canary.stableVersionId)}</strong>:{' '}
            <span className={`badge ${canary.status === 'running' ? 'badge-warn' : canary.status === 'promoted' ? 'badge-ok' : 'badge-danger'}`} data-testid="canary-status">
              {statusText[canary.status]}
            </span>{' '}
            <span className="muted">since {formatDateSeconds(canary.startedAt)}</span>
          </p>
          {canary.endReason ? <p className="muted" data-testid="canary-end-reason">{canary.endReason}</p> : null}
          <p className="hint">{canary.scope}</p>
          {running ? (
            <div className="row" style={{ display: 'flex', gap: 8 }}>
              <button type="button" disabled={reason !== null || change.busy} title={reason ?? undefined} onClick={() => void change.run('promote')}>
                Promote
              </button>
              <button type="button" className="danger" disabled={reason !== null || change.busy} title={reason ?? undefined} onClick={() => void change.run('abort')}>
                Abort
              </button>
            </div>
          ) : null}
        </section>
      ) : null}
      {sides ? (
        <table aria-label="Published and canary side by side">
          <thead>
            <tr>
              <th scope="col" />
              <th scope="col">Events in</th>
              <th scope="col">Out</th>
              <th scope="col">Dropped</th>
              <th scope="col">Failed</th>
              <th scope="col">Failure rate</th>
              <th scope="col">p50 / p99</th>
            </tr>
          </thead>
          <tbody>
            {(['stable', 'canary'] as const).map((side) => (
              <tr key={side} data-side={side}>
                <th scope="row">{side === 'stable' ? `Published (${labelOf(sides[side].versionId)})` : `Canary (${labelOf(sides[side].versionId)})`}</th>
                <td data-label="Events in">{sides[side].eventsIn.toLocaleString('en')}</td>
                <td data-label="Out">{sides[side].eventsOut.toLocaleString('en')}</td>
                <td data-label="Dropped">{sides[side].dropped.toLocaleString('en')}</td>
                <td data-label="Failed">{sides[side].failed.toLocaleString('en')}</td>
                <td data-label="Failure rate">{formatRate(sides[side].failureRate)}</td>
                <td data-label="p50 / p99">{sides[side].p50Ms === null ? '—' : `≤ ${sides[side].p50Ms} / ≤ ${sides[side].p99Ms} ms`}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {charts && sides && sides.stable.eventsIn + sides.canary.eventsIn > 0 ? (
        <div className="stats-charts">
          <TimeChart title="Events per side" times={charts.times} series={charts.volume} />
          <TimeChart title="Failure rate per side" times={charts.times} series={charts.failures} format={(v) => `${v.toFixed(1)} %`} />
        </div>
      ) : null}
      {!running && data.stableVersionId ? (
        candidates.length === 0 ? (
          <p className="empty">Save another version to try it as a canary.</p>
        ) : (
          <VersionShareForm
            name="Start a canary"
            versionLabel="Version"
            shareLabel="Share of live traffic (%)"
            maxPercent={99}
            initialPercent={5}
            submitLabel="Start canary"
            candidates={candidates}
            reason={reason}
            busy={change.busy}
            onSubmit={(versionId, percent) => void change.run({ versionId, percent })}
          />
        )
      ) : null}
      <ShadowSection transformationId={transformationId} versions={versions} publishedVersionId={data.stableVersionId} canWrite={canWrite} />
    </div>
  );
}
