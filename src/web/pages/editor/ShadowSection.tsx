import { useCallback, useEffect, useState } from 'react';
import { getShadow, startShadow, stopShadow } from '../../api.js';
import { LazyDiffView } from '../../components/LazyDiffView.js';
import { ErrorAlert, Loading, useToast } from '../../components/Feedback.js';
import { formatJson } from '../../format.js';
import { READ_ONLY_REASON } from '../../session.js';
import { useAction } from '../../use-action.js';
import { useLoaded } from '../../use-loaded.js';
import { VersionShareForm } from './VersionShareForm.js';
import type { VersionEntry } from './VersionsPanel.js';

// A shadow of a candidate version on a sampled copy of live batches: start and stop it, read the
// comparison, and see each sampled difference in the diff view the Versions tab uses.

const REFRESH_MS = 5000;

/** A diff sample side as readable text: pretty JSON, or the word the server sent (failed, dropped). */
function readable(text: string): string {
  try {
    return formatJson(JSON.parse(text));
  } catch {
    return text;
  }
}

export function ShadowSection({ transformationId, versions, publishedVersionId, canWrite }: { transformationId: string; versions: VersionEntry[]; publishedVersionId: string | null; canWrite: boolean }) {
  const fetcher = useCallback(() => getShadow(transformationId), [transformationId]);
  const { data, error, reload } = useLoaded(fetcher);
  const { notify } = useToast();
  const [shown, setShown] = useState(0);
  const running = data?.shadow?.status === 'running';
  const candidates = versions.filter((entry) => entry.version.versionId !== publishedVersionId);
  const labelOf = (id: string | undefined) => versions.find((entry) => entry.version.versionId === id)?.label ?? id ?? '—';
  const reason = !canWrite ? READ_ONLY_REASON : null;

  useEffect(() => {
    if (!running) return undefined;
    const timer = setInterval(() => void reload(), REFRESH_MS);
    return () => clearInterval(timer);
  }, [running, reload]);

  const change = useAction(async (what: 'stop' | { versionId: string; percent: number }) => {
    if (typeof what === 'object') await startShadow(transformationId, what);
    else await stopShadow(transformationId);
    notify(typeof what === 'object' ? `Shadowing ${what.percent}% of live batches.` : 'Shadow stopped.');
    await reload();
  });

  if (error && !data) return <ErrorAlert error={error} title="Could not load the shadow." onRetry={() => void reload()} />;
  if (!data) return <Loading label="Loading the shadow…" />;
  const { shadow, report } = data;
  const diff = report?.diffs[Math.min(shown, Math.max(0, (report?.diffs.length ?? 1) - 1))];

  return (
    <section className="stack" aria-label="Shadow">
      <h3>Shadow</h3>
      <ErrorAlert error={change.error} title="Could not change the shadow." />
      <p className="hint">
        A shadow runs a version on a copy of some live batches after their answer is computed and compares the two. It never changes or delays the live answer, and makes no
        fetch or fetchV2 call.
      </p>
      {shadow ? (
        <p>
          <strong>{labelOf(shadow.candidateVersionId)}</strong> on {shadow.percent}% of the live batches of <strong>{labelOf(shadow.stableVersionId)}</strong>:{' '}
          <span className={`badge ${running ? 'badge-warn' : 'badge-ok'}`} data-testid="shadow-status">
            {shadow.status}
          </span>
        </p>
      ) : null}
      {report ? (
        <dl className="stats-totals" aria-label="Shadow report">
          {(
            [
              ['Compared', report.compared],
              ['Identical', report.identical],
              ['Differing', report.differing],
              ['Failed only in the shadow', report.failedOnlyInCandidate],
              ['Drops differ', report.dropsDiffer],
              ['Not compared (outbound calls)', report.notCompared],
              ['Batches shed', report.shedBatches],
            ] as const
          ).map(([label, value]) => (
            <div key={label}>
              <dt>{label}</dt>
              <dd>{value.toLocaleString('en')}</dd>
            </div>
          ))}
        </dl>
      ) : null}
      {report && diff ? (
        <div className="stack">
          <div className="row" style={{ display: 'flex', gap: 8, alignItems: 'center', flexWrap: 'wrap' }}>
            <span>
              Difference {Math.min(shown, report.diffs.length - 1) + 1} of {report.diffs.length} sampled
            </span>
            <button type="button" className="small" disabled={shown <= 0} onClick={() => setShown((n) => Math.max(0, n - 1))}>
              Previous
            </button>
            <button type="button" className="small" disabled={shown >= report.diffs.length - 1} onClick={() => setShown((n) => Math.min(report.diffs.length - 1, n + 1))}>
              Next
            </button>
          </div>
          <details>
            <summary>Input event</summary>
            <pre className="recent-error-text">{readable(diff.input)}</pre>
          </details>
          {/* Event JSON, whatever the transformation's language: JavaScript highlighting reads it well. */}
          <LazyDiffView original={readable(diff.live)} modified={readable(diff.candidate)} originalLabel="Live answer" modifiedLabel="Shadow answer" language="javascript" />
        </div>
      ) : null}
      {running ? (
        <div>
          <button type="button" disabled={reason !== null || change.busy} title={reason ?? undefined} onClick={() => void change.run('stop')}>
            Stop shadow
          </button>
        </div>
      ) : publishedVersionId && candidates.length > 0 ? (
        <VersionShareForm
          name="Start a shadow"
          versionLabel="Version to shadow"
          shareLabel="Share of live batches copied (%)"
          maxPercent={100}
          initialPercent={10}
          submitLabel="Start shadow"
          candidates={candidates}
          reason={reason}
          busy={change.busy}
          onSubmit={(versionId, percent) => void change.run({ versionId, percent })}
        />
      ) : null}
    </section>
  );
}
