import { useEffect, useState } from 'react';
import { useAction, type Action } from './use-action.js';

/** A form's check: the input to send, or a message per field that is wrong. */
export type Validation<I> = { input: I } | { errors: Record<string, string> };

export interface FormDialog<F, I> {
  fields: F;
  /** Changes some fields, keeping the others. */
  set: (change: Partial<F>) => void;
  /** Messages of the last submit, by field. */
  errors: Record<string, string>;
  action: Action<[I]>;
  /** Checks the fields and, when they pass, runs the action with the checked input. */
  submit: () => void;
}

/**
 * The cycle of a dialog that creates something from a form: empty fields and no errors each time it
 * opens, a check on submit that shows a message per field, and the request through useAction.
 */
export function useFormDialog<F, I>(open: boolean, emptyFields: F, validate: (fields: F) => Validation<I>, perform: (input: I) => Promise<unknown>): FormDialog<F, I> {
  const [fields, setFields] = useState<F>(emptyFields);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const action = useAction(perform);
  const { reset } = action;
  useEffect(() => {
    if (!open) return;
    setFields(emptyFields);
    setErrors({});
    reset();
  }, [open, reset, emptyFields]);
  return {
    fields,
    set: (change) => setFields((current) => ({ ...current, ...change })),
    errors,
    action,
    submit: () => {
      const result = validate(fields);
      setErrors('errors' in result ? result.errors : {});
      if ('input' in result) void action.run(result.input);
    },
  };
}

