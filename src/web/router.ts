import { useEffect, useState } from 'react';

// Hash routing keeps every dashboard location out of the API's path space: the server only ever
// sees `/` and `/ui/assets/*` from the dashboard.

export type Route =
  | { name: 'home' }
  | { name: 'signin' }
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

// One page at a time may veto leaving it (the editor, while it holds unsaved code).
type NavigationGuard = () => boolean;
let guard: NavigationGuard | null = null;
let bypassGuardOnce = false;
let acceptedHash = typeof window === 'undefined' ? '' : window.location.hash;

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
      if (!bypassGuardOnce && guard && !guard()) {
        // Put the address back without a new history entry; replaceState fires no hashchange.
        window.history.replaceState(null, '', acceptedHash || '#/');
        return;
      }
      bypassGuardOnce = false;
      acceptedHash = next;
      setRoute(parseHash(next));
    };
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
