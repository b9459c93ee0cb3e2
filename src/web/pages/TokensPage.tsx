import { useId, useMemo, useState } from 'react';
import { deleteAccessToken, listAccessTokens, type AccessToken, type IssuedToken } from '../api.js';
import { ConfirmDeleteDialog, useDeleteFlow } from '../components/DeleteFlow.js';
import { useToast } from '../components/Feedback.js';
import { ListStates, PageHead } from '../components/ListPage.js';
import { plural } from '../format.js';
import { useLoaded } from '../use-loaded.js';
import { DeleteByNameDialog } from './tokens/DeleteByNameDialog.js';
import { GenerateTokenDialog } from './tokens/GenerateTokenDialog.js';
import { RotateDialog } from './tokens/RotateDialog.js';
import { SecretDialog } from './tokens/SecretDialog.js';
import { TokensTable } from './tokens/TokensTable.js';

function matches(token: AccessToken, needle: string): boolean {
  return [token.name, token.description, token.hint, token.status, token.lastUsedIp, ...(token.scopes ?? [])]
    .filter(Boolean)
    .some((value) => String(value).toLowerCase().includes(needle));
}

export function TokensPage() {
  const { data: tokens, error: loadError, reload: load } = useLoaded(listAccessTokens);
  const [filter, setFilter] = useState('');
  const [generating, setGenerating] = useState(false);
  const [issued, setIssued] = useState<{ token: IssuedToken; title: string } | null>(null);
  const deletion = useDeleteFlow<AccessToken>();
  const [deletingByName, setDeletingByName] = useState(false);
  const [rotating, setRotating] = useState<AccessToken | null>(null);
  const { notify } = useToast();
  const filterId = useId();

  const visible = useMemo(() => {
    const needle = filter.trim().toLowerCase();
    if (!tokens || !needle) return tokens ?? [];
    return tokens.filter((token) => matches(token, needle));
  }, [tokens, filter]);

  /** A secret was issued: show it once and refresh the list behind the dialog. */
  const reveal = (token: IssuedToken, title: string) => {
    setIssued({ token, title });
    void load();
  };

  return (
    <section aria-labelledby="tokens-title">
      <PageHead
        id="tokens-title"
        title="Access tokens"
        actions={
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
        }
      >
        Access tokens authenticate CI jobs, CLIs and people against the Transformations API. Secrets are shown once, when issued.
      </PageHead>

      <ListStates
        items={tokens}
        error={loadError}
        onRetry={() => void load()}
        plural="access tokens"
        empty={
          <>
            <p>No access tokens yet. Generate one to use the Transformations API.</p>
            <button type="button" className="primary" onClick={() => setGenerating(true)}>
              Generate your first token
            </button>
          </>
        }
      >
        {() => (
          <>
            <div className="field" style={{ maxWidth: 360 }}>
              <label htmlFor={filterId}>Filter tokens</label>
              <input id={filterId} type="search" value={filter} onChange={(event) => setFilter(event.target.value)} placeholder="Name, scope, IP…" />
            </div>
            <p className="visually-hidden" aria-live="polite">
              {filter ? `${plural(visible.length, 'token')} shown` : ''}
            </p>
            <TokensTable tokens={visible} deletion={deletion} onRotate={setRotating} emptyText={`No token matches “${filter}”.`} />
          </>
        )}
      </ListStates>

      <GenerateTokenDialog
        open={generating}
        onClose={() => setGenerating(false)}
        onIssued={(token) => {
          setGenerating(false);
          reveal(token, 'Access token generated');
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
        flow={deletion}
        noun="access token"
        buttonNoun="token"
        remove={(token) => deleteAccessToken(token.id)}
        onDeleted={(token) => {
          notify(`Deleted token “${token.name}”.`);
          void load();
        }}
      >
        {(token) => (
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
        )}
      </ConfirmDeleteDialog>
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
          reveal(token, 'New secret issued');
        }}
      />
    </section>
  );
}
