import { useEffect, useState } from 'react';
import { useAction } from './use-action.js';

/**
 * Loads a page's data on mount and on `reload()`, keeping the last failure for the page to show.
 * `data` stays null until the first answer, which pages use to show their loading state.
 */
export function useLoaded<T>(fetcher: () => Promise<T>): { data: T | null; error: unknown; reload: () => Promise<void> } {
  const [data, setData] = useState<T | null>(null);
  const load = useAction(async () => setData(await fetcher()));
  const reload = load.run;
  useEffect(() => {
    void reload();
  }, [fetcher, reload]);
  return { data, error: load.error, reload };
}
