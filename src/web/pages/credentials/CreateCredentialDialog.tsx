import { useId } from 'react';
import { createCredential, type CreateCredentialInput, type WorkspaceCredential } from '../../api.js';
import { ActionDialog } from '../../components/ActionDialog.js';
import { TextField } from '../../components/TextField.js';
import { useFormDialog, type Validation } from '../../use-form-dialog.js';
import { KEY_PATTERN, KEY_RULE, SecretCheck, ValueField, valueProblem } from './ValueField.js';

interface Fields {
  key: string;
  value: string;
  isSecret: boolean;
}

// Secret by default: a value shown by mistake cannot be taken back, one hidden by mistake can.
const emptyFields: Fields = { key: '', value: '', isSecret: true };

function validate(fields: Fields): Validation<CreateCredentialInput> {
  const found: Record<string, string> = {};
  if (!fields.key) found.key = 'Give the credential a key: transformations read it with getCredential(key).';
  else if (!KEY_PATTERN.test(fields.key)) found.key = `Use ${KEY_RULE}.`;
  const problem = valueProblem(fields.value);
  if (problem) found.value = problem;
  if (Object.keys(found).length > 0) return { errors: found };
  return { input: { key: fields.key, value: fields.value, isSecret: fields.isSecret } };
}

export function CreateCredentialDialog({ open, onClose, onCreated }: { open: boolean; onClose: () => void; onCreated: (credential: WorkspaceCredential) => void }) {
  const { fields, set, errors, action, submit } = useFormDialog(open, emptyFields, validate, async (input: CreateCredentialInput) => {
    const created = await createCredential(input);
    // The value leaves this dialog's state as soon as the server has it.
    set(emptyFields);
    onCreated(created);
  });
  const ids = { key: useId(), value: useId() };

  return (
    <ActionDialog
      title="New credential"
      open={open}
      onClose={onClose}
      action={action}
      onConfirm={submit}
      confirmLabel="Save credential"
      busyLabel="Saving…"
      failureTitle="The credential was not saved."
      form
    >
      <TextField
        id={ids.key}
        label="Key"
        value={fields.key}
        maxLength={100}
        onChange={(key) => set({ key })}
        error={errors.key}
        hint={`For example API_KEY. ${KEY_RULE.charAt(0).toUpperCase()}${KEY_RULE.slice(1)}; it cannot change later.`}
        spellCheck={false}
        data-autofocus
        required
      />
      <SecretCheck checked={fields.isSecret} onChange={(isSecret) => set({ isSecret })} note="stored encrypted, and never shown again after you save it" />
      <ValueField
        id={ids.value}
        label="Value"
        value={fields.value}
        onChange={(value) => set({ value })}
        secret={fields.isSecret}
        error={errors.value}
        hint="At most 64 KiB."
      />
    </ActionDialog>
  );
}
