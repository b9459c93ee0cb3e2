import { useState } from 'react';
import { FieldNote, noteId } from '../../components/TextField.js';

/** The API's limits, checked here first so the dialog can say which field to fix. */
export const KEY_PATTERN = /^[A-Za-z0-9_.-]{1,100}$/;
export const KEY_RULE = '1 to 100 characters of letters A-Z and a-z, digits 0-9, "_", "." and "-"';
export const MAX_VALUE_BYTES = 64 * 1024;

/** What is wrong with a value, or null. */
export function valueProblem(value: string): string | null {
  if (value === '') return 'Enter a value.';
  const bytes = new TextEncoder().encode(value).length;
  return bytes > MAX_VALUE_BYTES ? `Use at most 64 KiB (${MAX_VALUE_BYTES} bytes); this is ${bytes} bytes.` : null;
}

/**
 * The value being typed. A secret's is masked as it is typed unless the user asks to see it; a
 * textarea rather than a password input, because a password input drops the line breaks of a
 * pasted certificate or key.
 */
export function ValueField({
  id,
  label,
  value,
  onChange,
  secret,
  error,
  hint,
}: {
  id: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  secret: boolean;
  error: string | undefined;
  hint: string;
}) {
  const [shown, setShown] = useState(false);
  const masked = secret && !shown;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <textarea
        id={id}
        className={masked ? 'masked' : undefined}
        value={value}
        rows={3}
        onChange={(event) => onChange(event.target.value)}
        aria-invalid={error ? true : undefined}
        aria-describedby={noteId(id, error, hint)}
        spellCheck={false}
        autoComplete="off"
        autoCapitalize="off"
        autoCorrect="off"
        data-testid="credential-value"
      />
      <FieldNote fieldId={id} error={error} hint={hint} />
      {secret ? (
        <label className="check">
          <input type="checkbox" checked={shown} onChange={(event) => setShown(event.target.checked)} />
          <span>Show what I type</span>
        </label>
      ) : null}
    </div>
  );
}

/** The secret checkbox of both dialogs. */
export function SecretCheck({ checked, onChange, note }: { checked: boolean; onChange: (checked: boolean) => void; note: string }) {
  return (
    <div className="field">
      <label className="check">
        <input type="checkbox" checked={checked} onChange={(event) => onChange(event.target.checked)} />
        <span>
          <strong>Secret</strong>: {note}
        </span>
      </label>
    </div>
  );
}
