import { useCallback, useRef, useState } from 'react';

export interface Action<A extends unknown[]> {
  /** Clears the last error, marks the action busy, runs it and keeps any failure in `error`. */
  run: (...args: A) => Promise<void>;
  busy: boolean;
  /** The last failure, for an <ErrorAlert>; null after a success or `reset()`. */
  error: unknown;
  /** Forgets the last failure (a dialog reopened for another item). */
  reset: () => void;
}

/**
 * The submit/busy/error cycle every dialog and button in the dashboard goes through. `perform`
 * does the request and whatever follows a success (close the dialog, reload); whatever it
 * throws becomes `error`, and `onError` may read more out of it (a compile error's line).
 * `run` keeps its identity across renders and always calls the latest `perform`.
 */
export function useAction<A extends unknown[]>(
  perform: (...args: A) => Promise<unknown>,
  options: { onError?: (error: unknown) => void } = {},
): Action<A> {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const latest = useRef({ perform, onError: options.onError });
  latest.current = { perform, onError: options.onError };

  const run = useCallback(async (...args: A) => {
    setBusy(true);
    setError(null);
    try {
      await latest.current.perform(...args);
    } catch (caught) {
      setError(caught);
      latest.current.onError?.(caught);
    } finally {
      setBusy(false);
    }
  }, []);
  const reset = useCallback(() => setError(null), []);
  return { run, busy, error, reset };
}
