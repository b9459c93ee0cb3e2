// Signed-in tokens live in sessionStorage only: they vanish with the tab and are never written
// to localStorage, cookies or the URL.

export interface AccessTokenInfo {
  id?: string;
  name?: string;
  hint?: string;
  scopes?: string[];
  expiresAt?: string | null;
}

export interface Session {
  workspaceToken?: string;
  accessToken?: string;
  accessTokenInfo?: AccessTokenInfo;
}

const storageKey = 'tiller.session';
const noticeKey = 'tiller.signin-notice';

type Listener = (session: Session) => void;
const listeners = new Set<Listener>();

function readStorage(key: string): string | null {
  try {
    return window.sessionStorage.getItem(key);
  } catch {
    return null;
  }
}

function writeStorage(key: string, value: string | null): void {
  try {
    if (value === null) window.sessionStorage.removeItem(key);
    else window.sessionStorage.setItem(key, value);
  } catch {
    // Storage can be disabled (private modes); the session then lasts until reload.
  }
}

let current: Session = load();

function load(): Session {
  const raw = readStorage(storageKey);
  if (!raw) return {};
  try {
    const parsed = JSON.parse(raw) as Session;
    return typeof parsed === 'object' && parsed !== null ? parsed : {};
  } catch {
    return {};
  }
}

export function getSession(): Session {
  return current;
}

export function setSession(next: Session): void {
  current = next;
  const empty = !next.workspaceToken && !next.accessToken;
  if (!empty) writeStorage(noticeKey, null);
  writeStorage(storageKey, empty ? null : JSON.stringify(next));
  for (const listener of listeners) listener(current);
}

export function clearSession(notice?: string): void {
  writeStorage(noticeKey, notice ?? null);
  setSession({});
}

/** Why the user was signed out, shown on the sign-in screen until the next sign-in. */
export function readSignInNotice(): string | null {
  return readStorage(noticeKey);
}

export function subscribeSession(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/**
 * Whether the signed-in access token may change things (the write scope). A session from before
 * scopes were recorded counts as writable: the API still refuses with 403 if it is not.
 */
export function canWrite(session: Session = getSession()): boolean {
  const scopes = session.accessTokenInfo?.scopes;
  return Boolean(session.accessToken) && (!scopes || scopes.includes('write'));
}

/** Why a change is not offered to a read-only access token. */
export const READ_ONLY_REASON = 'Your access token is read only: this needs a token with the write scope.';
