import { useEffect, useMemo, useState, useSyncExternalStore } from 'react';

// Hash routing keeps every dashboard location out of the API's path space: the server only ever
// sees `/` and `/ui/assets/*` from the dashboard.

export type Route =
  | { name: 'home' }
  | { name: 'signin' }
  | { name: 'overview' }
  | { name: 'tokens' }
  | { name: 'audit' }
  | { name: 'transformations' }
  | { name: 'transformation'; id: string | null }
  | { name: 'libraries' }
  | { name: 'library'; id: string | null }
  | { name: 'credentials' }
  | { name: 'configuration' }
  | { name: 'notFound'; path: string };

export function parseHash(hash: string): Route {
  const path = hash.replace(/^#/, '').replace(/\?.*$/, '').replace(/\/+$/, '') || '/';
  const parts = path.split('/').filter(Boolean).map((part) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  });
  const [first, second] = parts;
  if (parts.length === 0) return { name: 'home' };
  if (parts.length === 1) {
    switch (first) {
      case 'signin':
        return { name: 'signin' };
      case 'overview':
        return { name: 'overview' };
      case 'tokens':
        return { name: 'tokens' };
      case 'audit':
        return { name: 'audit' };
      case 'transformations':
        return { name: 'transformations' };
      case 'libraries':
        return { name: 'libraries' };
      case 'credentials':
        return { name: 'credentials' };
      case 'configuration':
        return { name: 'configuration' };
    }
  }
  if (parts.length === 2 && second) {
    const id = second === 'new' ? null : second;
    if (first === 'transformations') return { name: 'transformation', id };
    if (first === 'libraries') return { name: 'library', id };
  }
  return { name: 'notFound', path };
}

export function href(path: string): string {
  return `#${path}`;
}

/** The path part of a hash, without `#` and without the `?query` a page keeps its state in. */
function pathOf(hash: string): string {
  return hash.replace(/^#/, '').replace(/\?.*$/, '');
}

function queryOf(hash: string): string {
  const at = hash.indexOf('?');
  return at < 0 ? '' : hash.slice(at + 1);
}

// One page at a time may veto leaving it (the editor, while it holds unsaved code).
type NavigationGuard = () => boolean;
let guard: NavigationGuard | null = null;
let bypassGuardOnce = false;
let acceptedHash = typeof window === 'undefined' ? '' : window.location.hash;
// Pages reading the query (useHashQuery) hear of an address only once useRoute accepted it.
const queryListeners = new Set<() => void>();

/** The guard returns true to let the navigation happen. Pass null to remove it. */
export function setNavigationGuard(next: NavigationGuard | null): void {
  guard = next;
}

export function navigate(path: string, options: { replace?: boolean; force?: boolean } = {}): void {
  const target = `#${path}`;
  // Navigations the app makes itself (after a save, on sign-out) never ask.
  if (options.force && window.location.hash !== target) bypassGuardOnce = true;
  if (options.replace) {
    window.history.replaceState(null, '', target);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  } else if (window.location.hash !== target) {
    window.location.hash = target;
  }
}

export function useRoute(): Route {
  const [route, setRoute] = useState<Route>(() => parseHash(window.location.hash));
  useEffect(() => {
    const onChange = () => {
      const next = window.location.hash;
      if (next === acceptedHash && !bypassGuardOnce) return;
      // A new query on the same page (another tab, other versions compared) leaves the page as it is.
      const samePage = pathOf(next) === pathOf(acceptedHash);
      if (!bypassGuardOnce && !samePage && guard && !guard()) {
        // Put the address back without a new history entry; replaceState fires no hashchange.
        window.history.replaceState(null, '', acceptedHash || '#/');
        return;
      }
      bypassGuardOnce = false;
      acceptedHash = next;
      setRoute((current) => (samePage ? current : parseHash(next)));
      for (const listener of queryListeners) listener();
    };
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

function subscribeQuery(listener: () => void): () => void {
  queryListeners.add(listener);
  return () => queryListeners.delete(listener);
}

/**
 * The current page's state kept in the address (`#/transformations/ID?tab=versions`), so that a
 * reload or a shared link shows the same thing and Back steps through it. `update` sets or (with
 * null) removes parameters: a new history entry, or with `replace` none.
 */
export function useHashQuery(): [URLSearchParams, (changes: Record<string, string | null>, options?: { replace?: boolean }) => void] {
  const query = useSyncExternalStore(subscribeQuery, () => queryOf(acceptedHash));
  const params = useMemo(() => new URLSearchParams(query), [query]);
  const update = (changes: Record<string, string | null>, options: { replace?: boolean } = {}) => {
    const next = new URLSearchParams(queryOf(acceptedHash));
    for (const [key, value] of Object.entries(changes)) {
      if (value === null) next.delete(key);
      else next.set(key, value);
    }
    const text = next.toString();
    navigate(`${pathOf(acceptedHash) || '/'}${text ? `?${text}` : ''}`, options);
  };
  return [params, update];
}
