import { useEffect } from 'react';
import { setNavigationGuard } from '../../router.js';

/** While there is unsaved work, leaving the page (reload, close, in-app link) asks first. */
export function useUnsavedChangesGuard(active: boolean, noun: string): void {
  useEffect(() => {
    if (!active) return;
    const warn = (event: BeforeUnloadEvent) => event.preventDefault();
    window.addEventListener('beforeunload', warn);
    setNavigationGuard(() => window.confirm(`This ${noun} has unsaved changes. Leave without saving them?`));
    return () => {
      window.removeEventListener('beforeunload', warn);
      setNavigationGuard(null);
    };
  }, [active, noun]);
}

/** Ctrl+S / ⌘S anywhere on the page saves instead of saving the web page. */
export function useSaveShortcut(save: () => void): void {
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === 's') {
        event.preventDefault();
        save();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [save]);
}
