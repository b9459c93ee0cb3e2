import { useEffect, useId, useMemo, useState, type FormEvent } from 'react';
import {
  deleteAccessToken,
  deleteAccessTokensByName,
  generateAccessToken,
  listAccessTokens,
  rotateAccessToken,
  type AccessToken,
  type GenerateTokenInput,
  type IssuedToken,
} from '../api.js';
import { Dialog } from '../components/Dialog.js';
import { Empty, ErrorAlert, Loading, useToast } from '../components/Feedback.js';
import { SecretReveal } from '../components/SecretReveal.js';
import { SortHeader, useSorted } from '../components/SortableTable.js';
import { formatDate, formatRelative, plural } from '../format.js';
import { useLoaded } from '../use-loaded.js';

type SortKey = 'name' | 'description' | 'hint' | 'scopes' | 'createdAt' | 'expiresAt' | 'lastUsedAt' | 'status';

function statusBadge(token: AccessToken) {
  const status = token.status ?? 'active';
  const kind = status === 'active' ? 'badge-ok' : status === 'rotating' ? 'badge-warn' : 'badge-danger';
  const title = status === 'rotating' ? 'A newer secret exists; this one still works until its grace period ends.' : undefined;
  return (
    <span className={`badge ${kind}`} title={title}>
      {status}
    </span>
  );
}

function DateCell({ value, never }: { value: string | null | undefined; never: string }) {
  if (!value) return <span className="muted">{never}</span>;
  return (
    <time dateTime={value} title={formatDate(value)}>
      {formatRelative(value)}
    </time>
  );
}

const expiryChoices = [
  { value: 'never', label: 'Never expires' },
  { value: '7', label: '7 days' },
  { value: '30', label: '30 days' },
  { value: '90', label: '90 days' },
  { value: '365', label: '1 year' },
  { value: 'custom', label: 'Custom number of days' },
];

function GenerateDialog({ open, onClose, onIssued }: { open: boolean; onClose: () => void; onIssued: (token: IssuedToken) => void }) {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [scopes, setScopes] = useState({ read: true, write: true });
  const [expiry, setExpiry] = useState('never');
  const [customDays, setCustomDays] = useState('30');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [apiError, setApiError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const ids = { name: useId(), description: useId(), expiry: useId(), days: useId() };

  useEffect(() => {
    if (!open) return;
    setName('');
    setDescription('');
    setScopes({ read: true, write: true });
    setExpiry('never');
    setCustomDays('30');
    setErrors({});
    setApiError(null);
  }, [open]);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const found: Record<string, string> = {};
    const trimmed = name.trim();
    if (!trimmed) found.name = 'Give the token a name, for example the CI job or person that will use it.';
    else if (trimmed.length > 100) found.name = 'Use at most 100 characters.';
    if (description.length > 1000) found.description = 'Use at most 1000 characters.';
    if (!scopes.read && !scopes.write) found.scopes = 'Choose at least one scope.';
    let days: number | undefined;
    if (expiry === 'custom') {
      days = Number(customDays);
      if (!Number.isInteger(days) || days < 1) found.days = 'Enter a whole number of days, 1 or more.';
    } else if (expiry !== 'never') days = Number(expiry);
    setErrors(found);
    if (Object.keys(found).length > 0) return;
    const input: GenerateTokenInput = {
      name: trimmed,
      scopes: [scopes.read ? 'read' : null, scopes.write ? 'write' : null].filter((scope): scope is string => scope !== null),
    };
    if (description.trim()) input.description = description.trim();
    if (days !== undefined) input.expiresInDays = days;
    setBusy(true);
    setApiError(null);
    try {
      onIssued(await generateAccessToken(input));
    } catch (error) {
      setApiError(error);
    } finally {
      setBusy(false);
    }
  }

  const formId = useId();
  return (
    <Dialog
      title="Generate access token"
      open={open}
      onClose={onClose}
      busy={busy}
      footer={
        <>
          <button type="button" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button type="submit" form={formId} className="primary" disabled={busy}>
            {busy ? 'Generating…' : 'Generate token'}
          </button>
        </>
      }
    >
      <form id={formId} onSubmit={submit} noValidate>
        <ErrorAlert error={apiError} title="The token was not generated." />
        <div className="field">
          <label htmlFor={ids.name}>Name</label>
          <input
            id={ids.name}
            type="text"
            value={name}
            maxLength={100}
            onChange={(event) => setName(event.target.value)}
            aria-invalid={errors.name ? true : undefined}
            aria-describedby={errors.name ? `${ids.name}-error` : undefined}
            data-autofocus
            autoComplete="off"
            required
          />
          {errors.name ? (
            <div className="field-error" id={`${ids.name}-error`}>
              {errors.name}
            </div>
          ) : null}
        </div>
        <div className="field">
          <label htmlFor={ids.description}>Description (optional)</label>
          <textarea
            id={ids.description}
            value={description}
            rows={2}
            onChange={(event) => setDescription(event.target.value)}
            aria-invalid={errors.description ? true : undefined}
            style={{ fontFamily: 'inherit', fontSize: 'inherit' }}
          />
          <div className={errors.description ? 'field-error' : 'hint'}>
            {errors.description ?? `${description.length} / 1000 characters`}
          </div>
        </div>
        <fieldset aria-describedby={errors.scopes ? `${formId}-scopes-error` : undefined}>
          <legend>Scopes</legend>
          <label className="check">
            <input type="checkbox" checked={scopes.read} onChange={(event) => setScopes({ ...scopes, read: event.target.checked })} />
            <span>
              <strong>read</strong>: list and fetch transformations, libraries and versions; run tests
            </span>
          </label>
          <label className="check">
            <input type="checkbox" checked={scopes.write} onChange={(event) => setScopes({ ...scopes, write: event.target.checked })} />
            <span>
              <strong>write</strong>: create, edit, publish and delete
            </span>
          </label>
          {errors.scopes ? (
            <div className="field-error" id={`${formId}-scopes-error`}>
              {errors.scopes}
            </div>
          ) : null}
        </fieldset>
        <div className="inline-fields">
          <div className="field">
            <label htmlFor={ids.expiry}>Expiry</label>
            <select id={ids.expiry} value={expiry} onChange={(event) => setExpiry(event.target.value)}>
              {expiryChoices.map((choice) => (
                <option key={choice.value} value={choice.value}>
                  {choice.label}
                </option>
              ))}
            </select>
          </div>
          {expiry === 'custom' ? (
            <div className="field">
              <label htmlFor={ids.days}>Days until it expires</label>
              <input
                id={ids.days}
                type="number"
                min={1}
                step={1}
                value={customDays}
                onChange={(event) => setCustomDays(event.target.value)}
                aria-invalid={errors.days ? true : undefined}
              />
              {errors.days ? <div className="field-error">{errors.days}</div> : null}
            </div>
          ) : null}
        </div>
      </form>
    </Dialog>
  );
}

function SecretDialog({ issued, title, onClose }: { issued: IssuedToken | null; title: string; onClose: () => void }) {
  return (
    <Dialog
      title={title}
      open={issued !== null}
      onClose={onClose}
      wide
      footer={
        <button type="button" className="primary" onClick={onClose}>
          I have copied it
        </button>
      }
    >
      {issued ? (
        <>
          <p>
            Token <strong>{issued.name ?? ''}</strong>
            {issued.expiresAt ? ` expires ${formatDate(issued.expiresAt)}.` : ' does not expire.'}
          </p>
          <SecretReveal secret={issued.token} label="Access token" origin={window.location.origin} />
        </>
      ) : null}
    </Dialog>
  );
}

function ConfirmDeleteDialog({ token, onClose, onDeleted }: { token: AccessToken | null; onClose: () => void; onDeleted: (token: AccessToken) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => setError(null), [token]);
  async function confirm() {
    if (!token) return;
    setBusy(true);
    setError(null);
    try {
      await deleteAccessToken(token.id);
      onDeleted(token);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }
  return (
    <Dialog
      title="Delete access token"
      open={token !== null}
      onClose={onClose}
      busy={busy}
      footer={
        <>
          <button type="button" onClick={onClose} disabled={busy} data-autofocus>
            Cancel
          </button>
          <button type="button" className="danger" onClick={confirm} disabled={busy}>
            {busy ? 'Deleting…' : 'Delete token'}
          </button>
        </>
      }
    >
      {token ? (
        <>
          <ErrorAlert error={error} title="The token was not deleted." />
          <p>
            Delete <strong>{token.name}</strong>
            {token.hint ? (
              <>
                {' '}
                (<code>{token.hint}</code>)
              </>
            ) : null}
            ? Every client that uses it gets 401 from its next call. This cannot be undone.
          </p>
        </>
      ) : null}
    </Dialog>
  );
}

function DeleteByNameDialog({ open, tokens, onClose, onDeleted }: { open: boolean; tokens: AccessToken[]; onClose: () => void; onDeleted: (name: string, count: number) => void }) {
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const inputId = useId();
  const listId = useId();
  const countId = useId();
  useEffect(() => {
    if (open) {
      setName('');
      setError(null);
    }
  }, [open]);
  const names = useMemo(() => Array.from(new Set(tokens.map((token) => token.name))).sort(), [tokens]);
  const matching = tokens.filter((token) => token.name === name).length;
  async function confirm(event: FormEvent) {
    event.preventDefault();
    if (!name || matching === 0) return;
    setBusy(true);
    setError(null);
    try {
      const deleted = await deleteAccessTokensByName(name);
      onDeleted(name, deleted ?? matching);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }
  const formId = useId();
  return (
    <Dialog
      title="Delete tokens by name"
      open={open}
      onClose={onClose}
      busy={busy}
      footer={
        <>
          <button type="button" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button type="submit" form={formId} className="danger" disabled={busy || matching === 0}>
            {busy ? 'Deleting…' : matching > 0 ? `Delete ${plural(matching, 'token')}` : 'Delete'}
          </button>
        </>
      }
    >
      <form id={formId} onSubmit={confirm}>
        <ErrorAlert error={error} title="Nothing was deleted." />
        <p>Names are not unique: this deletes every token with exactly this name, as the compatible API does.</p>
        <div className="field">
          <label htmlFor={inputId}>Token name</label>
          <input
            id={inputId}
            type="text"
            list={listId}
            value={name}
            onChange={(event) => setName(event.target.value)}
            aria-describedby={countId}
            autoComplete="off"
            data-autofocus
          />
          <datalist id={listId}>
            {names.map((entry) => (
              <option key={entry} value={entry} />
            ))}
          </datalist>
        </div>
        <p id={countId} aria-live="polite" className={matching > 0 ? '' : 'muted'}>
          {!name
            ? 'Type or pick a name.'
            : matching > 0
              ? `${plural(matching, 'token')} named “${name}” will be deleted. Clients using ${matching === 1 ? 'it' : 'them'} get 401 from then on.`
              : `No token is named “${name}”.`}
        </p>
      </form>
    </Dialog>
  );
}

const graceChoices = [
  { value: 0, label: 'None: the old secret stops working now' },
  { value: 3600, label: '1 hour' },
  { value: 86400, label: '24 hours' },
  { value: 604800, label: '7 days (the longest allowed)' },
];

function RotateDialog({ token, onClose, onRotated }: { token: AccessToken | null; onClose: () => void; onRotated: (issued: IssuedToken) => void }) {
  const [grace, setGrace] = useState(3600);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const selectId = useId();
  useEffect(() => {
    setGrace(3600);
    setError(null);
  }, [token]);
  async function confirm(event: FormEvent) {
    event.preventDefault();
    if (!token) return;
    setBusy(true);
    setError(null);
    try {
      onRotated(await rotateAccessToken(token.id, grace));
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }
  const formId = useId();
  return (
    <Dialog
      title="Rotate access token"
      open={token !== null}
      onClose={onClose}
      busy={busy}
      footer={
        <>
          <button type="button" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button type="submit" form={formId} className="primary" disabled={busy}>
            {busy ? 'Rotating…' : 'Rotate token'}
          </button>
        </>
      }
    >
      {token ? (
        <form id={formId} onSubmit={confirm}>
          <ErrorAlert error={error} title="The token was not rotated." />
          <p>
            Issues a new secret for <strong>{token.name}</strong> with the same name, scopes and expiry. Give your clients time to
            switch with a grace period, during which the old secret keeps working.
          </p>
          <div className="field">
            <label htmlFor={selectId}>Grace period for the old secret</label>
            <select id={selectId} value={grace} onChange={(event) => setGrace(Number(event.target.value))} data-autofocus>
              {graceChoices.map((choice) => (
                <option key={choice.value} value={choice.value}>
                  {choice.label}
                </option>
              ))}
            </select>
          </div>
        </form>
      ) : null}
    </Dialog>
  );
}

export function TokensPage() {
  const { data: tokens, error: loadError, reload: load } = useLoaded(listAccessTokens);
  const [filter, setFilter] = useState('');
  const [generating, setGenerating] = useState(false);
  const [issued, setIssued] = useState<{ token: IssuedToken; title: string } | null>(null);
  const [deleting, setDeleting] = useState<AccessToken | null>(null);
  const [deletingByName, setDeletingByName] = useState(false);
  const [rotating, setRotating] = useState<AccessToken | null>(null);
  const { notify } = useToast();
  const filterId = useId();

  const visible = useMemo(() => {
    const needle = filter.trim().toLowerCase();
    if (!tokens || !needle) return tokens ?? [];
    return tokens.filter((token) =>
      [token.name, token.description, token.hint, token.status, token.lastUsedIp, ...(token.scopes ?? [])]
        .filter(Boolean)
        .some((value) => String(value).toLowerCase().includes(needle)),
    );
  }, [tokens, filter]);

  const { sorted, sort, toggle } = useSorted<AccessToken, SortKey>(visible, { key: 'createdAt', direction: 'desc' }, (token, key) =>
    key === 'scopes' ? (token.scopes ?? []).join(',') : token[key],
  );

  return (
    <section aria-labelledby="tokens-title">
      <div className="page-head">
        <div>
          <h1 id="tokens-title">Access tokens</h1>
          <p>Access tokens authenticate CI jobs, CLIs and people against the Transformations API. Secrets are shown once, when issued.</p>
        </div>
        <div className="toolbar">
          {tokens && tokens.length > 0 ? (
            <button type="button" className="danger-outline" onClick={() => setDeletingByName(true)}>
              Delete by name…
            </button>
          ) : null}
          <button type="button" className="primary" onClick={() => setGenerating(true)}>
            Generate token
          </button>
        </div>
      </div>

      <ErrorAlert error={loadError} title="Could not load access tokens." onRetry={() => void load()} />

      {tokens === null && !loadError ? <Loading label="Loading access tokens…" /> : null}

      {tokens && tokens.length === 0 ? (
        <div className="card">
          <Empty title="No access tokens yet">
            <p>No access tokens yet. Generate one to use the Transformations API.</p>
            <button type="button" className="primary" onClick={() => setGenerating(true)}>
              Generate your first token
            </button>
          </Empty>
        </div>
      ) : null}

      {tokens && tokens.length > 0 ? (
        <>
          <div className="field" style={{ maxWidth: 360 }}>
            <label htmlFor={filterId}>Filter tokens</label>
            <input id={filterId} type="search" value={filter} onChange={(event) => setFilter(event.target.value)} placeholder="Name, scope, IP…" />
          </div>
          <p className="visually-hidden" aria-live="polite">
            {filter ? `${plural(sorted.length, 'token')} shown` : ''}
          </p>
          <div className="table-wrap">
            <table className="data responsive" aria-label="Access tokens">
              <thead>
                <tr>
                  <SortHeader label="Name" sortKey="name" sort={sort} onSort={toggle} />
                  <SortHeader label="Description" sortKey="description" sort={sort} onSort={toggle} />
                  <SortHeader label="Hint" sortKey="hint" sort={sort} onSort={toggle} />
                  <SortHeader label="Scopes" sortKey="scopes" sort={sort} onSort={toggle} />
                  <SortHeader label="Created" sortKey="createdAt" sort={sort} onSort={toggle} />
                  <SortHeader label="Expires" sortKey="expiresAt" sort={sort} onSort={toggle} />
                  <SortHeader label="Last used" sortKey="lastUsedAt" sort={sort} onSort={toggle} />
                  <SortHeader label="Status" sortKey="status" sort={sort} onSort={toggle} />
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {sorted.map((token) => (
                  <tr key={token.id} data-token-id={token.id}>
                    <td data-label="Name" className="primary-cell">
                      {token.name}
                    </td>
                    <td data-label="Description">{token.description || <span className="muted">—</span>}</td>
                    <td data-label="Hint">{token.hint ? <code>{token.hint}</code> : <span className="muted">—</span>}</td>
                    <td data-label="Scopes">
                      <div>
                        {(token.scopes ?? []).map((scope) => (
                          <span key={scope} className="badge" style={{ marginRight: 4 }}>
                            {scope}
                          </span>
                        ))}
                      </div>
                    </td>
                    <td data-label="Created">
                      <DateCell value={token.createdAt} never="—" />
                    </td>
                    <td data-label="Expires">
                      <DateCell value={token.expiresAt} never="Never" />
                    </td>
                    <td data-label="Last used">
                      <div>
                        <DateCell value={token.lastUsedAt} never="Never used" />
                        {token.lastUsedIp ? <div className="small muted">from {token.lastUsedIp}</div> : null}
                      </div>
                    </td>
                    <td data-label="Status">{statusBadge(token)}</td>
                    <td className="actions">
                      <button type="button" className="small" onClick={() => setRotating(token)} aria-label={`Rotate ${token.name}`}>
                        Rotate
                      </button>
                      <button type="button" className="small danger-outline" onClick={() => setDeleting(token)} aria-label={`Delete ${token.name}`}>
                        Delete
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            {sorted.length === 0 ? <p className="empty">No token matches “{filter}”.</p> : null}
          </div>
        </>
      ) : null}

      <GenerateDialog
        open={generating}
        onClose={() => setGenerating(false)}
        onIssued={(token) => {
          setGenerating(false);
          setIssued({ token, title: 'Access token generated' });
          void load();
        }}
      />
      <SecretDialog
        issued={issued?.token ?? null}
        title={issued?.title ?? ''}
        onClose={() => {
          const name = issued?.token.name;
          setIssued(null);
          if (name) notify(`Token “${name}” is ready. Its secret is no longer shown.`);
        }}
      />
      <ConfirmDeleteDialog
        token={deleting}
        onClose={() => setDeleting(null)}
        onDeleted={(token) => {
          setDeleting(null);
          notify(`Deleted token “${token.name}”.`);
          void load();
        }}
      />
      <DeleteByNameDialog
        open={deletingByName}
        tokens={tokens ?? []}
        onClose={() => setDeletingByName(false)}
        onDeleted={(name, count) => {
          setDeletingByName(false);
          notify(`Deleted ${plural(count, 'token')} named “${name}”.`);
          void load();
        }}
      />
      <RotateDialog
        token={rotating}
        onClose={() => setRotating(null)}
        onRotated={(token) => {
          setRotating(null);
          setIssued({ token, title: 'New secret issued' });
          void load();
        }}
      />
    </section>
  );
}
