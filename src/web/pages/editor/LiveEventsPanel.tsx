import { useCallback, useEffect } from 'react';
import { getLiveEvents, setLiveEvents, type LiveEventSample } from '../../api.js';
import { ErrorAlert, Loading, useToast } from '../../components/Feedback.js';
import { RelativeTime } from '../../components/RelativeTime.js';
import { formatDateSeconds, formatJson, plural } from '../../format.js';
import { READ_ONLY_REASON } from '../../session.js';
import { useAction } from '../../use-action.js';
import { useLoaded } from '../../use-loaded.js';

// A transformation's "Live events" tab: turn rudder-server's transformation samples on for a
// while (the served configuration says config.eventTransform: true until then), and read the
// samples it posted: the event that went in, what came out, dropped, error and status.

/** While live events are on, the samples are read again this often: rudder-server uploads every few seconds. */
const REFRESH_MS = 10_000;

function outcomeOf(sample: LiveEventSample): { label: string; tone: 'ok' | 'warn' | 'danger' } {
  const after = sample.eventsAfter;
  if (after?.error || sample.error === true || (typeof sample.error === 'string' && sample.error !== '')) return { label: 'error', tone: 'danger' };
  if (after?.isDropped) return { label: 'dropped', tone: 'warn' };
  return { label: `${plural(after?.payload?.length ?? 0, 'event')} out`, tone: 'ok' };
}

function SampleRow({ sample }: { sample: LiveEventSample }) {
  const before = sample.eventBefore;
  const after = sample.eventsAfter;
  const outcome = outcomeOf(sample);
  const errorText = after?.error || (typeof sample.error === 'string' ? sample.error : '');
  return (
    <li className="card" style={{ padding: '8px 12px' }} data-testid="live-event">
      <details>
        <summary>
          <strong>{before?.eventName || before?.eventType || 'event'}</strong> {before?.eventType ? <span className="muted">({before.eventType})</span> : null}{' '}
          <span className={`badge badge-${outcome.tone}`}>{outcome.label}</span> {after?.statusCode ? <span className="small">status {after.statusCode}</span> : null}{' '}
          <span className="small muted">
            received <time dateTime={sample.storedAt}>{formatDateSeconds(sample.storedAt)}</time>
            {sample.destinationId ? ` · destination ${sample.destinationId}` : ''}
            {sample.sourceId ? ` · source ${sample.sourceId}` : ''}
          </span>
        </summary>
        {errorText ? (
          <div className="alert alert-error" role="note">
            {errorText}
          </div>
        ) : null}
        <div className="stack">
          <div>
            <h4>Event before</h4>
            <pre className="result-block">{formatJson(before?.payload ?? null)}</pre>
          </div>
          <div>
            <h4>Events after{after?.isDropped ? ' (dropped)' : ''}</h4>
            {after?.payload && after.payload.length > 0 ? (
              after.payload.map((event, i) => (
                <pre key={i} className="result-block">
                  {formatJson(event.payload ?? null)}
                </pre>
              ))
            ) : (
              <p className="muted">{after?.isDropped ? 'The transformation dropped this event.' : 'No event came out.'}</p>
            )}
          </div>
        </div>
      </details>
    </li>
  );
}

export function LiveEventsPanel({ transformationId, published, connected, canWrite }: { transformationId: string; published: boolean; connected: number; canWrite: boolean }) {
  const fetcher = useCallback(() => getLiveEvents(transformationId), [transformationId]);
  const { data, error, reload } = useLoaded(fetcher);
  const { notify } = useToast();
  const enabled = data?.enabled ?? false;

  useEffect(() => {
    if (!enabled) return undefined;
    const timer = setInterval(() => void reload(), REFRESH_MS);
    return () => clearInterval(timer);
  }, [enabled, reload]);

  const toggle = useAction(async (on: boolean) => {
    const state = await setLiveEvents(transformationId, { enabled: on });
    notify(on ? `Live events are on until ${formatDateSeconds(state.until)}: rudder-server sends samples from its next poll.` : 'Live events are off.');
    await reload();
  });

  if (error && !data) return <ErrorAlert error={error} title="Could not load the live events." onRetry={() => void reload()} />;
  if (!data) return <Loading label="Loading live events…" />;

  const reason = !canWrite ? READ_ONLY_REASON : null;
  return (
    <div className="stack">
      <ErrorAlert error={toggle.error} title="Could not change live events." />
      {!published || connected === 0 ? (
        <div className="alert alert-info" role="note">
          rudder-server samples a transformation only where it runs: publish a version and connect it to a destination (Destinations tab) to see live events.
        </div>
      ) : null}
      <div className="row" style={{ display: 'flex', gap: 8, alignItems: 'center', flexWrap: 'wrap' }}>
        {data.enabled ? (
          <>
            <span className="badge badge-ok">on</span>
            <span>
              until <time dateTime={data.until ?? ''}>{formatDateSeconds(data.until)}</time> (<RelativeTime value={data.until} />)
            </span>
            <button type="button" className="small" disabled={reason !== null || toggle.busy} onClick={() => void toggle.run(true)}>
              Extend
            </button>
            <button type="button" className="small" disabled={reason !== null || toggle.busy} onClick={() => void toggle.run(false)}>
              Turn off
            </button>
          </>
        ) : (
          <>
            <span className="badge">off</span>
            {data.until ? (
              <span className="small muted">
                ended <RelativeTime value={data.until} />
              </span>
            ) : null}
            <button type="button" className="small primary" disabled={reason !== null || toggle.busy} title={reason ?? undefined} onClick={() => void toggle.run(true)}>
              {toggle.busy ? 'Turning on…' : 'Turn on live events'}
            </button>
          </>
        )}
        <button type="button" className="small" onClick={() => void reload()}>
          Refresh
        </button>
      </div>
      {error ? <ErrorAlert error={error} title="Could not refresh the live events." /> : null}
      {data.events.length === 0 ? (
        <p className="muted">No samples yet. rudder-server posts them while live events are on and events flow through a connected destination.</p>
      ) : (
        <>
          <p className="small muted">{plural(data.events.length, 'sample')}, newest first (the most recent 100 are kept).</p>
          <ul className="stack" style={{ listStyle: 'none', padding: 0, margin: 0 }} aria-label="Live events">
            {data.events.map((sample) => (
              <SampleRow key={sample.id} sample={sample} />
            ))}
          </ul>
        </>
      )}
    </div>
  );
}
