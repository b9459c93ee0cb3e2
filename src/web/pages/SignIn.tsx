import { useId, useState, type FormEvent, type InputHTMLAttributes } from 'react';
import { ApiError, getSelfToken, listAccessTokens } from '../api.js';
import { ErrorAlert } from '../components/Feedback.js';
import { useAction } from '../use-action.js';
import { getSession, setSession, readSignInNotice, type AccessTokenInfo, type Session } from '../session.js';

type Identified = { kind: 'workspace' } | { kind: 'access'; info: AccessTokenInfo };

/** Accepts what people actually paste: surrounding spaces, quotes, or a whole "Bearer ..." value. */
function cleanToken(raw: string): string {
  return raw
    .trim()
    .replace(/^authori[sz]ation:\s*/i, '')
    .replace(/^(bearer|basic)\s+/i, '')
    .replace(/^["']|["']$/g, '')
    .trim();
}

function isTransient(error: unknown): boolean {
  return error instanceof ApiError && (error.status === 0 || error.status === 429 || error.status >= 500);
}

// Tiller's secrets carry a prefix per kind; it only decides which probe goes first, so a pasted
// access token does not count as a failed workspace-token attempt (those feed the lockout).
const accessTokenPrefix = 'tlr_at_';

async function probeWorkspace(token: string): Promise<Identified | null> {
  try {
    await listAccessTokens({ token, ignoreUnauthorized: true });
    return { kind: 'workspace' };
  } catch (error) {
    if (isTransient(error)) throw error;
    return null;
  }
}

async function probeAccess(token: string): Promise<Identified | null> {
  try {
    const self = await getSelfToken({ token, ignoreUnauthorized: true });
    return {
      kind: 'access',
      info: { id: self.id, name: self.name, hint: self.hint, scopes: self.scopes, expiresAt: self.expiresAt ?? null },
    };
  } catch (error) {
    if (isTransient(error)) throw error;
    return null;
  }
}

/**
 * Tiller tells the kinds apart for us: only a workspace token may list access tokens, and only an
 * access token may read /accessTokens/self.
 */
async function identifyToken(token: string): Promise<Identified | null> {
  const probes = token.startsWith(accessTokenPrefix) ? [probeAccess, probeWorkspace] : [probeWorkspace, probeAccess];
  for (const probe of probes) {
    const result = await probe(token);
    if (result) return result;
  }
  return null;
}

/** A pasted token: hidden unless `reveal`, never autocompleted or spell-checked. */
function TokenInput({ reveal, onChange, ...rest }: { reveal: boolean; onChange: (value: string) => void } & Omit<InputHTMLAttributes<HTMLInputElement>, 'type' | 'onChange'>) {
  return <input {...rest} type={reveal ? 'text' : 'password'} onChange={(event) => onChange(event.target.value)} autoComplete="off" spellCheck={false} />;
}

export function SignIn({ onSignedIn }: { onSignedIn: (session: Session) => void }) {
  const existing = getSession();
  const signedIn = Boolean(existing.workspaceToken || existing.accessToken);
  const [notice] = useState(() => readSignInNotice());
  const [first, setFirst] = useState('');
  const [second, setSecond] = useState('');
  const [showSecond, setShowSecond] = useState(false);
  const [reveal, setReveal] = useState(false);
  const [fieldError, setFieldError] = useState<string | null>(null);
  const firstId = useId();
  const secondId = useId();
  const hintId = useId();
  const fieldErrorId = useId();

  const signingIn = useAction(async (tokens: string[]) => {
    const next: Session = { ...getSession() };
    const kinds: string[] = [];
    for (const [index, token] of tokens.entries()) {
      const result = await identifyToken(token);
      const which = tokens.length === 2 ? (index === 0 ? 'The first token' : 'The second token') : 'This token';
      if (!result) {
        setFieldError(`${which} was not accepted by Tiller. Check that you copied all of it and that it has not been deleted, rotated or expired.`);
        return;
      }
      if (kinds.includes(result.kind)) {
        setFieldError(`Both tokens are ${result.kind} tokens. Paste at most one of each kind.`);
        return;
      }
      kinds.push(result.kind);
      if (result.kind === 'workspace') next.workspaceToken = token;
      else {
        next.accessToken = token;
        next.accessTokenInfo = result.info;
      }
    }
    setSession(next);
    onSignedIn(next);
  });
  const { busy, error } = signingIn;

  function submit(event: FormEvent) {
    event.preventDefault();
    signingIn.reset();
    setFieldError(null);
    const tokens = [first, second].map(cleanToken).filter(Boolean);
    if (tokens.length === 0) {
      setFieldError('Paste a workspace token or an access token.');
      return;
    }
    if (tokens.length === 2 && tokens[0] === tokens[1]) {
      setFieldError('Both fields hold the same token. Paste one workspace token and one access token, or just one token.');
      return;
    }
    void signingIn.run(tokens);
  }

  return (
    <div className="signin">
      <div className="signin-brand">
        <span className="brand-mark" aria-hidden="true">
          T
        </span>
        <div>
          <h1 style={{ margin: 0 }}>{signedIn ? 'Add a token' : 'Sign in to Tiller'}</h1>
          <p className="muted" style={{ margin: 0 }}>
            Self-hosted Transformations
          </p>
        </div>
      </div>
      {notice ? (
        <div className="alert alert-warning" role="alert">
          {notice}
        </div>
      ) : null}
      <div className="card">
        <form onSubmit={submit} noValidate aria-busy={busy}>
          <div className="field">
            <label htmlFor={firstId}>Token</label>
            <TokenInput
              id={firstId}
              reveal={reveal}
              value={first}
              onChange={setFirst}
              aria-describedby={`${hintId}${fieldError ? ` ${fieldErrorId}` : ''}`}
              aria-invalid={fieldError ? true : undefined}
              autoFocus
              name="token"
            />
            <div className="hint" id={hintId}>
              Paste a workspace token or an access token. Tiller works out which kind it is.
            </div>
          </div>
          {showSecond ? (
            <div className="field">
              <label htmlFor={secondId}>Second token (optional)</label>
              <TokenInput id={secondId} reveal={reveal} value={second} onChange={setSecond} name="second-token" />
              <div className="hint">The other kind: sign in with both to use every screen without switching.</div>
            </div>
          ) : (
            <p>
              <button type="button" className="link" onClick={() => setShowSecond(true)}>
                I have both a workspace token and an access token
              </button>
            </p>
          )}
          <label className="check">
            <input type="checkbox" checked={reveal} onChange={(event) => setReveal(event.target.checked)} />
            Show tokens while typing
          </label>
          {fieldError ? (
            <div className="field-error alert alert-error" id={fieldErrorId} role="alert">
              {fieldError}
            </div>
          ) : null}
          <ErrorAlert error={error} title="Could not sign in." />
          <div className="toolbar" style={{ marginTop: 16 }}>
            <button type="submit" className="primary" disabled={busy}>
              {busy ? 'Checking token…' : signedIn ? 'Add token' : 'Sign in'}
            </button>
            {signedIn ? (
              <a className="button" href="#/">
                Cancel
              </a>
            ) : null}
          </div>
        </form>
      </div>
      <div className="card">
        <dl>
          <dt>Workspace token</dt>
          <dd>Manages the workspace's access tokens and shows its audit log. It was shown once when the workspace was created.</dd>
          <dt>Access token</dt>
          <dd>Works with transformations and libraries: edit, test, publish and roll back.</dd>
        </dl>
        <p className="small muted" style={{ margin: 0 }}>
          Tokens stay in this browser tab only (session storage) and are sent only to this Tiller server.
        </p>
      </div>
    </div>
  );
}
