import { useCallback, useEffect, useState } from 'react';

/**
 * Loads a page's data on mount and on `reload()`, keeping the last failure for the page to show.
 * `data` stays null until the first answer, which pages use to show their loading state.
 */
export function useLoaded<T>(fetcher: () => Promise<T>): { data: T | null; error: unknown; reload: () => Promise<void> } {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const reload = useCallback(async () => {
    setError(null);
    try {
      setData(await fetcher());
    } catch (caught) {
      setError(caught);
    }
  }, [fetcher]);
  useEffect(() => {
    void reload();
  }, [reload]);
  return { data, error, reload };
}
