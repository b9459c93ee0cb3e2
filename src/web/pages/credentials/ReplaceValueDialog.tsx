import { useEffect, useId, useState } from 'react';
import { updateCredential, type WorkspaceCredential } from '../../api.js';
import { ActionDialog } from '../../components/ActionDialog.js';
import { useAction } from '../../use-action.js';
import { SecretCheck, ValueField, valueProblem } from './ValueField.js';

/** What the value field starts with: a non-secret's current value; a secret's is never known here. */
function startingValue(credential: WorkspaceCredential | null): string {
  return credential && !credential.isSecret ? (credential.value ?? '') : '';
}

/**
 * Replaces a credential's value, and may change whether it is secret on the way: a secret's value
 * is never read back, so this dialog always sends a new value, which every change then allows.
 */
export function ReplaceValueDialog({ credential, onClose, onReplaced }: { credential: WorkspaceCredential | null; onClose: () => void; onReplaced: (credential: WorkspaceCredential) => void }) {
  const [value, setValue] = useState(() => startingValue(credential));
  const [isSecret, setIsSecret] = useState(credential?.isSecret ?? true);
  const [error, setError] = useState<string | undefined>(undefined);
  const valueId = useId();
  const action = useAction(async (target: WorkspaceCredential) => {
    const updated = await updateCredential(target.id, { value, isSecret });
    setValue('');
    onReplaced(updated);
  });
  // The fields start from the credential being replaced in the same render that opens the dialog
  // (React's "adjust state when a prop changes"), not an effect later: the field never shows a
  // stale or empty value first. A non-secret's value is known; a secret's never reaches the dashboard.
  const [shownFor, setShownFor] = useState(credential);
  if (credential !== shownFor) {
    setShownFor(credential);
    setValue(startingValue(credential));
    setIsSecret(credential?.isSecret ?? true);
    setError(undefined);
  }
  const { reset } = action;
  useEffect(() => reset(), [credential, reset]);

  function submit() {
    if (!credential) return;
    const problem = valueProblem(value) ?? undefined;
    setError(problem);
    if (!problem) void action.run(credential);
  }

  return (
    <ActionDialog
      title="Replace value"
      open={credential !== null}
      onClose={onClose}
      action={action}
      onConfirm={submit}
      confirmLabel="Replace value"
      busyLabel="Saving…"
      failureTitle="The value was not replaced."
      form
    >
      {credential ? (
        <>
          <p>
            New value for <code>{credential.key}</code>. Transformations read it from their next batch.
            {credential.isSecret ? ' The current value is secret, so it is not shown.' : ''}
          </p>
          <ValueField id={valueId} label="New value" value={value} onChange={setValue} secret={isSecret} error={error} hint="At most 64 KiB." />
          <SecretCheck
            checked={isSecret}
            onChange={setIsSecret}
            note={credential.isSecret ? 'untick to make the new value visible in lists' : 'stored encrypted, and never shown again after you save it'}
          />
        </>
      ) : null}
    </ActionDialog>
  );
}
