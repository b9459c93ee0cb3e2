import { CopyButton } from './CopyButton.js';

/**
 * The one place a secret is ever shown. Callers drop the secret from their state when the dialog
 * closes, so it is gone from the page afterwards.
 */
export function SecretReveal({ secret, label, origin }: { secret: string; label: string; origin: string }) {
  return (
    <div className="stack">
      <div className="alert alert-warning" role="note">
        <strong>Copy this token now.</strong> Tiller stores only a digest of it and will not show it again. If you lose
        it, rotate or delete it and generate a new one.
      </div>
      <div>
        <label htmlFor="new-secret">{label}</label>
        <div className="secret-box">
          <input
            id="new-secret"
            type="text"
            readOnly
            value={secret}
            spellCheck={false}
            autoComplete="off"
            data-autofocus
            onFocus={(event) => event.currentTarget.select()}
            data-testid="new-secret"
          />
          <CopyButton text={secret} label="Copy token" className="primary" />
        </div>
      </div>
      <div>
        <p className="small muted" style={{ marginBottom: 4 }}>
          Try it (the token authenticates as a Bearer token or as a Basic user name with an empty password):
        </p>
        <pre className="code-sample">{`curl -H "Authorization: Bearer ${secret}" \\\n  ${origin}/transformations`}</pre>
      </div>
    </div>
  );
}
