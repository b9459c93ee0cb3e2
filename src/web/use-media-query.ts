import { useEffect, useState } from 'react';

/** Whether a CSS media query matches now, updated when it starts or stops matching. */
export function useMediaQuery(query: string): boolean {
  const [matches, setMatches] = useState(() => window.matchMedia(query).matches);
  useEffect(() => {
    const media = window.matchMedia(query);
    const onChange = () => setMatches(media.matches);
    onChange();
    media.addEventListener('change', onChange);
    return () => media.removeEventListener('change', onChange);
  }, [query]);
  return matches;
}

/** The system's dark setting, which the stylesheet's dark theme follows too. */
export function useDarkScheme(): boolean {
  return useMediaQuery('(prefers-color-scheme: dark)');
}
