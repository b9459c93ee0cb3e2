import { useId } from 'react';
import { generateAccessToken, type GenerateTokenInput, type IssuedToken } from '../../api.js';
import { ActionDialog } from '../../components/ActionDialog.js';
import { TextField } from '../../components/TextField.js';
import { useFormDialog, type Validation } from '../../use-form-dialog.js';

const expiryChoices = [
  { value: 'never', label: 'Never expires' },
  { value: '7', label: '7 days' },
  { value: '30', label: '30 days' },
  { value: '90', label: '90 days' },
  { value: '365', label: '1 year' },
  { value: 'custom', label: 'Custom number of days' },
];

interface Fields {
  name: string;
  description: string;
  scopes: { read: boolean; write: boolean };
  expiry: string;
  customDays: string;
}

const emptyFields: Fields = { name: '', description: '', scopes: { read: true, write: true }, expiry: 'never', customDays: '30' };

/** The request for valid fields, or what to fix field by field. */
function validate(fields: Fields): Validation<GenerateTokenInput> {
  const found: Record<string, string> = {};
  const trimmed = fields.name.trim();
  if (!trimmed) found.name = 'Give the token a name, for example the CI job or person that will use it.';
  else if (trimmed.length > 100) found.name = 'Use at most 100 characters.';
  if (fields.description.length > 1000) found.description = 'Use at most 1000 characters.';
  if (!fields.scopes.read && !fields.scopes.write) found.scopes = 'Choose at least one scope.';
  let days: number | undefined;
  if (fields.expiry === 'custom') {
    days = Number(fields.customDays);
    if (!Number.isInteger(days) || days < 1) found.days = 'Enter a whole number of days, 1 or more.';
  } else if (fields.expiry !== 'never') days = Number(fields.expiry);
  if (Object.keys(found).length > 0) return { errors: found };
  const input: GenerateTokenInput = {
    name: trimmed,
    scopes: [fields.scopes.read ? 'read' : null, fields.scopes.write ? 'write' : null].filter((scope): scope is string => scope !== null),
  };
  if (fields.description.trim()) input.description = fields.description.trim();
  if (days !== undefined) input.expiresInDays = days;
  return { input };
}

export function GenerateTokenDialog({ open, onClose, onIssued }: { open: boolean; onClose: () => void; onIssued: (token: IssuedToken) => void }) {
  const { fields, set, errors, action, submit } = useFormDialog(open, emptyFields, validate, async (input: GenerateTokenInput) => onIssued(await generateAccessToken(input)));
  const ids = { name: useId(), description: useId(), expiry: useId(), days: useId(), scopesError: useId() };
  const { name, description, scopes, expiry, customDays } = fields;

  return (
    <ActionDialog
      title="Generate access token"
      open={open}
      onClose={onClose}
      action={action}
      onConfirm={submit}
      confirmLabel="Generate token"
      busyLabel="Generating…"
      failureTitle="The token was not generated."
      form
    >
      <TextField id={ids.name} label="Name" value={name} maxLength={100} onChange={(next) => set({ name: next })} error={errors.name} data-autofocus required />
      <div className="field">
        <label htmlFor={ids.description}>Description (optional)</label>
        <textarea
          id={ids.description}
          value={description}
          rows={2}
          onChange={(event) => set({ description: event.target.value })}
          aria-invalid={errors.description ? true : undefined}
          style={{ fontFamily: 'inherit', fontSize: 'inherit' }}
        />
        <div className={errors.description ? 'field-error' : 'hint'}>{errors.description ?? `${description.length} / 1000 characters`}</div>
      </div>
      <fieldset aria-describedby={errors.scopes ? ids.scopesError : undefined}>
        <legend>Scopes</legend>
        <label className="check">
          <input type="checkbox" checked={scopes.read} onChange={(event) => set({ scopes: { ...scopes, read: event.target.checked } })} />
          <span>
            <strong>read</strong>: list and fetch transformations, libraries and versions; run tests
          </span>
        </label>
        <label className="check">
          <input type="checkbox" checked={scopes.write} onChange={(event) => set({ scopes: { ...scopes, write: event.target.checked } })} />
          <span>
            <strong>write</strong>: create, edit, publish and delete
          </span>
        </label>
        {errors.scopes ? (
          <div className="field-error" id={ids.scopesError}>
            {errors.scopes}
          </div>
        ) : null}
      </fieldset>
      <div className="inline-fields">
        <div className="field">
          <label htmlFor={ids.expiry}>Expiry</label>
          <select id={ids.expiry} value={expiry} onChange={(event) => set({ expiry: event.target.value })}>
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
              onChange={(event) => set({ customDays: event.target.value })}
              aria-invalid={errors.days ? true : undefined}
            />
            {errors.days ? <div className="field-error">{errors.days}</div> : null}
          </div>
        ) : null}
      </div>
    </ActionDialog>
  );
}
