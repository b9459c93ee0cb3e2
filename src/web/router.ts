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

export function navigate(path: string, options: { replace?: boolean } = {}): void {
  const target = `#${path}`;
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
    const onChange = () => setRoute(parseHash(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
