import { useEffect, useId, useMemo, useState } from 'react';
import { listAuditEvents, type AuditEvent } from '../api.js';
import { Empty, ErrorAlert, Loading } from '../components/Feedback.js';
import { DataTable, PageHead, RefreshToolbar } from '../components/ListPage.js';
import { formatDateSeconds, formatRelative, plural } from '../format.js';
import { useAction } from '../use-action.js';

const pageSize = 100;

function outcomeBadge(outcome: string | null | undefined) {
  if (!outcome) return <span className="muted">—</span>;
  const value = outcome.toLowerCase();
  const kind = ['success', 'ok', 'allowed', 'succeeded'].includes(value)
    ? 'badge-ok'
    : ['failure', 'failed', 'denied', 'error', 'refused', 'rejected'].includes(value)
      ? 'badge-danger'
      : 'badge-warn';
  return <span className={`badge ${kind}`}>{outcome}</span>;
}

/** Who acted, by name: an access token's name, the workspace token, or Tiller itself. */
function actorText(event: AuditEvent): string {
  const actor = event.actor;
  if (!actor) return '—';
  if (actor.type === 'access_token') return actor.name ? `token “${actor.name}”` : `token ${actor.id ?? ''}`.trim();
  if (actor.type === 'workspace') return 'workspace token';
  if (actor.type === 'system') return 'Tiller';
  return [actor.type, actor.id].filter(Boolean).join(' ') || '—';
}

/** One filter of the audit log: every value seen in the loaded events, or all of them. */
function ChoiceFilter({ id, label, all, choices, value, onChange }: { id: string; label: string; all: string; choices: string[]; value: string; onChange: (value: string) => void }) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(event) => onChange(event.target.value)}>
        <option value="">{all}</option>
        {choices.map((entry) => (
          <option key={entry} value={entry}>
            {entry}
          </option>
        ))}
      </select>
    </div>
  );
}

export function AuditLogPage() {
  const [events, setEvents] = useState<AuditEvent[] | null>(null);
  const [requested, setRequested] = useState<string | undefined>(undefined);
  const [cursor, setCursor] = useState<string | undefined>(undefined);
  const [hasMore, setHasMore] = useState(false);
  const [action, setAction] = useState('');
  const [outcome, setOutcome] = useState('');
  const [text, setText] = useState('');
  const ids = { action: useId(), outcome: useId(), text: useId() };
  const loading = useAction(async (before?: string) => {
    setRequested(before);
    const page = await listAuditEvents(pageSize, before);
    setEvents((current) => (before && current ? [...current, ...page.events] : page.events));
    const last = page.events[page.events.length - 1];
    // The server may hand back a cursor; otherwise the oldest event's id continues the walk.
    setCursor(page.nextBefore ?? last?.id);
    setHasMore(page.events.length >= pageSize);
  });
  const { run: load, error } = loading;
  const loadingMore = loading.busy && requested !== undefined;

  useEffect(() => {
    void load();
  }, [load]);

  const actions = useMemo(() => Array.from(new Set((events ?? []).map((event) => event.action))).sort(), [events]);
  const outcomes = useMemo(
    () => Array.from(new Set((events ?? []).map((event) => event.outcome).filter((value): value is string => Boolean(value)))).sort(),
    [events],
  );

  const filtered = useMemo(() => {
    const needle = text.trim().toLowerCase();
    return (events ?? []).filter((event) => {
      if (action && event.action !== action) return false;
      if (outcome && event.outcome !== outcome) return false;
      if (!needle) return true;
      return [event.action, event.target, event.targetName, event.ip, event.userAgent, event.outcome, event.reason, actorText(event), event.actor?.id]
        .filter(Boolean)
        .some((value) => String(value).toLowerCase().includes(needle));
    });
  }, [events, action, outcome, text]);

  const filtering = Boolean(action || outcome || text.trim());

  return (
    <section aria-labelledby="audit-title">
      <PageHead
        id="audit-title"
        title="Audit log"
        actions={<RefreshToolbar onRefresh={() => void load()} />}
      >
        Every token issued, rotated or deleted and every refused credential in this workspace, newest first. Secrets never appear here.
      </PageHead>

      <ErrorAlert error={error} title="Could not load the audit log." onRetry={() => void load()} />
      {events === null && !error ? <Loading label="Loading audit events…" /> : null}

      {events && events.length === 0 ? (
        <div className="card">
          <Empty title="No audit events yet">
            <p>Events appear here as soon as access tokens are generated, rotated or deleted, or a credential is refused.</p>
          </Empty>
        </div>
      ) : null}

      {events && events.length > 0 ? (
        <>
          <div className="inline-fields" role="search" aria-label="Filter audit events">
            <ChoiceFilter id={ids.action} label="Action" all="All actions" choices={actions} value={action} onChange={setAction} />
            <ChoiceFilter id={ids.outcome} label="Outcome" all="All outcomes" choices={outcomes} value={outcome} onChange={setOutcome} />
            <div className="field">
              <label htmlFor={ids.text}>Search</label>
              <input id={ids.text} type="search" value={text} onChange={(event) => setText(event.target.value)} placeholder="Name, token, IP, reason…" />
            </div>
          </div>
          <p className="small muted" aria-live="polite">
            {filtering ? `${plural(filtered.length, 'event')} of ${events.length} loaded match.` : `${plural(events.length, 'event')} loaded.`}
          </p>
          <DataTable
            label="Audit events"
            columns={['Time', 'Action', 'Outcome', 'Actor', 'Target', 'IP', 'Reason']}
            after={filtered.length === 0 ? <p className="empty">No loaded event matches these filters.</p> : null}
          >
              {filtered.map((event) => (
                <tr key={event.id}>
                  <td data-label="Time" className="nowrap">
                    <time dateTime={event.at} title={formatRelative(event.at)}>
                      {formatDateSeconds(event.at)}
                    </time>
                  </td>
                  <td data-label="Action">
                    <code>{event.action}</code>
                    {event.action.endsWith('.rollback') ? (
                      <span className="badge badge-warn" style={{ marginLeft: 6 }}>
                        rollback
                      </span>
                    ) : null}
                  </td>
                  <td data-label="Outcome">{outcomeBadge(event.outcome)}</td>
                  <td data-label="Actor">{actorText(event)}</td>
                  <td data-label="Target">
                    {event.target ? (
                      event.targetName ? (
                        <div>
                          {event.targetName}
                          <div className="small muted">{event.target}</div>
                        </div>
                      ) : (
                        <span style={{ wordBreak: 'break-all' }}>{event.target}</span>
                      )
                    ) : (
                      <span className="muted">—</span>
                    )}
                  </td>
                  <td data-label="IP">
                    <div>
                      {event.ip || <span className="muted">—</span>}
                      {event.userAgent ? (
                        <div className="small muted" title={event.userAgent}>
                          {event.userAgent.length > 40 ? `${event.userAgent.slice(0, 40)}…` : event.userAgent}
                        </div>
                      ) : null}
                    </div>
                  </td>
                  <td data-label="Reason">{event.reason || <span className="muted">—</span>}</td>
                </tr>
              ))}
          </DataTable>
          {hasMore ? (
            <div style={{ marginTop: 12 }}>
              <button type="button" onClick={() => void load(cursor)} disabled={loadingMore}>
                {loadingMore ? 'Loading…' : 'Load older events'}
              </button>
            </div>
          ) : null}
        </>
      ) : null}
    </section>
  );
}
