import type { CSSProperties, InputHTMLAttributes, ReactNode } from 'react';

/**
 * The line under a field: what is wrong with it, else a hint, else nothing. It carries the id
 * `${fieldId}-note`, so the control can name it as its description.
 */
export function FieldNote({ fieldId, error, hint }: { fieldId: string; error?: string | null; hint?: ReactNode }) {
  if (!error && !hint) return null;
  return (
    <div className={error ? 'field-error' : 'hint'} id={`${fieldId}-note`}>
      {error || hint}
    </div>
  );
}

/** The id a control gives aria-describedby: its note's, while the note shows. */
export function noteId(fieldId: string, error?: string | null, hint?: ReactNode): string | undefined {
  return error || hint ? `${fieldId}-note` : undefined;
}

interface TextFieldProps extends Omit<InputHTMLAttributes<HTMLInputElement>, 'id' | 'value' | 'onChange' | 'type' | 'style'> {
  id: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
  /** Shown under the input, in place of the hint, after a submit found it wrong. */
  error?: string | null;
  hint?: ReactNode;
  /** The style of the field's box (not of the input). */
  style?: CSSProperties;
  'data-autofocus'?: boolean;
}

/** A labelled one-line text input with its note: the dashboard's form field for names and keys. */
export function TextField({ id, label, value, onChange, error, hint, style, autoComplete = 'off', ...input }: TextFieldProps) {
  return (
    <div className="field" style={style}>
      <label htmlFor={id}>{label}</label>
      <input
        {...input}
        id={id}
        type="text"
        value={value}
        onChange={(event) => onChange(event.target.value)}
        aria-invalid={error ? true : undefined}
        aria-describedby={noteId(id, error, hint)}
        autoComplete={autoComplete}
      />
      <FieldNote fieldId={id} error={error} hint={hint} />
    </div>
  );
}
