import { useState } from 'react';
import { deleteCredential, listCredentials, type WorkspaceCredential } from '../api.js';
import { ConfirmDeleteDialog, useDeleteFlow } from '../components/DeleteFlow.js';
import { useToast } from '../components/Feedback.js';
import { ListStates, PageHead } from '../components/ListPage.js';
import { ReadOnlyButton, ReadOnlyNote } from '../components/ReadOnly.js';
import { canWrite as sessionCanWrite } from '../session.js';
import { useLoaded } from '../use-loaded.js';
import { CreateCredentialDialog } from './credentials/CreateCredentialDialog.js';
import { CredentialsTable, READ_ONLY_NOTE, type CredentialRow } from './credentials/CredentialsTable.js';
import { ReplaceValueDialog } from './credentials/ReplaceValueDialog.js';

/** The workspace's credentials, named by key for the delete flow. */
async function loadRows(): Promise<CredentialRow[]> {
  return (await listCredentials()).map((credential) => ({ ...credential, name: credential.key }));
}

export function CredentialsPage() {
  const { data: rows, error, reload } = useLoaded(loadRows);
  const [creating, setCreating] = useState(false);
  const [replacing, setReplacing] = useState<CredentialRow | null>(null);
  const deletion = useDeleteFlow<CredentialRow>();
  const { notify } = useToast();
  const canWrite = sessionCanWrite();
  const saved = (credential: WorkspaceCredential, what: string) => {
    notify(`${what} credential “${credential.key}”.${credential.isSecret ? ' Its value is not shown again.' : ''}`);
    void reload();
  };
  const newButton = (label: string) =>
    canWrite ? (
      <button type="button" className="primary" onClick={() => setCreating(true)}>
        {label}
      </button>
    ) : (
      <ReadOnlyButton className="primary" noteId={READ_ONLY_NOTE}>
        {label}
      </ReadOnlyButton>
    );

  return (
    <section aria-labelledby="credentials-title">
      <PageHead id="credentials-title" title="Credentials" actions={newButton('New credential')}>
        Values your transformations read with <code>getCredential(&quot;API_KEY&quot;)</code>, such as API keys for <code>fetch</code>. A secret is
        stored encrypted and never shown again after you save it: you can only replace it.
      </PageHead>
      {!canWrite ? <ReadOnlyNote id={READ_ONLY_NOTE}>Your access token is read only: you can see the credentials, but not add, replace or delete them.</ReadOnlyNote> : null}
      <ListStates
        items={rows}
        error={error}
        onRetry={() => void reload()}
        plural="credentials"
        empty={
          <>
            <p>Add a credential, for example an API key your transformation sends with fetch.</p>
            {newButton('Add a credential')}
          </>
        }
      >
        {(items) => <CredentialsTable rows={items} deletion={deletion} onReplace={setReplacing} canWrite={canWrite} />}
      </ListStates>

      <CreateCredentialDialog
        open={creating}
        onClose={() => setCreating(false)}
        onCreated={(credential) => {
          setCreating(false);
          saved(credential, 'Saved');
        }}
      />
      <ReplaceValueDialog
        credential={replacing}
        onClose={() => setReplacing(null)}
        onReplaced={(credential) => {
          setReplacing(null);
          saved(credential, 'Replaced the value of');
        }}
      />
      <ConfirmDeleteDialog
        flow={deletion}
        noun="credential"
        remove={(row) => deleteCredential(row.id)}
        onDeleted={(row) => {
          notify(`Deleted credential “${row.key}”.`);
          void reload();
        }}
      >
        {(row) => (
          <p>
            Delete <code>{row.key}</code>? From their next batch, transformations get <code>undefined</code> from{' '}
            <code>getCredential(&quot;{row.key}&quot;)</code>. This cannot be undone.
          </p>
        )}
      </ConfirmDeleteDialog>
    </section>
  );
}
