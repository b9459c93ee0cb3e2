import { useState } from 'react';
import { deleteAccessToken, listAccessTokens, type AccessToken, type IssuedToken } from '../api.js';
import { ConfirmDeleteDialog, useDeleteFlow } from '../components/DeleteFlow.js';
import { useToast } from '../components/Feedback.js';
import { FilterBox, ListStates, PageHead, useFilter } from '../components/ListPage.js';
import { plural } from '../format.js';
import { useLoaded } from '../use-loaded.js';
import { DeleteByNameDialog } from './tokens/DeleteByNameDialog.js';
import { GenerateTokenDialog } from './tokens/GenerateTokenDialog.js';
import { RotateDialog, type Rotation } from './tokens/RotateDialog.js';
import { SecretDialog } from './tokens/SecretDialog.js';
import { TokensTable } from './tokens/TokensTable.js';

function searchedText(token: AccessToken): (string | null | undefined)[] {
  return [token.name, token.description, token.hint, token.status, token.lastUsedIp, ...(token.scopes ?? [])];
}

export function TokensPage() {
  const { data: tokens, error: loadError, reload: load } = useLoaded(listAccessTokens);
  const { filter, setFilter, visible } = useFilter(tokens, searchedText);
  const [generating, setGenerating] = useState(false);
  const [issued, setIssued] = useState<{ token: IssuedToken; title: string; rotation?: Rotation } | null>(null);
  const deletion = useDeleteFlow<AccessToken>();
  const [deletingByName, setDeletingByName] = useState(false);
  const [rotating, setRotating] = useState<AccessToken | null>(null);
  const { notify } = useToast();

  /** A secret was issued: show it once and refresh the list behind the dialog. */
  const reveal = (token: IssuedToken, title: string, rotation?: Rotation) => {
    setIssued({ token, title, rotation });
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
            <FilterBox label="Filter tokens" placeholder="Name, scope, IP…" filter={filter} onChange={setFilter} shown={visible.length} noun="token" />
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
        rotation={issued?.rotation}
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
        onRotated={(token, rotation) => {
          setRotating(null);
          reveal(token, 'New secret issued', rotation);
        }}
      />
    </section>
  );
}
