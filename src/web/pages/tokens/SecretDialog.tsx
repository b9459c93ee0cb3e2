import type { IssuedToken } from '../../api.js';
import { Dialog } from '../../components/Dialog.js';
import { SecretReveal } from '../../components/SecretReveal.js';
import { formatDate } from '../../format.js';
import type { Rotation } from './RotateDialog.js';

/** After a rotation: when the secret it replaced stops working (its own expiry no longer matters). */
function OldSecretNote({ rotation }: { rotation: Rotation }) {
  const old = rotation.oldHint ? (
    <>
      The old secret <code>{rotation.oldHint}</code>
    </>
  ) : (
    'The old secret'
  );
  return (
    <p className="alert alert-warning" data-testid="old-secret-note">
      {rotation.oldStopsAt ? (
        <>
          {old} keeps working for its grace period of {rotation.grace}, until <time dateTime={rotation.oldStopsAt.toISOString()}>{formatDate(rotation.oldStopsAt.toISOString())}</time>
          , then stops. Switch your clients to this one before then.
        </>
      ) : (
        <>{old} has stopped working: only this one works now.</>
      )}
    </p>
  );
}

/** Shows a newly issued secret once; the page drops it from its state when this closes. */
export function SecretDialog({ issued, title, rotation, onClose }: { issued: IssuedToken | null; title: string; rotation?: Rotation; onClose: () => void }) {
  return (
    <Dialog
      title={title}
      open={issued !== null}
      onClose={onClose}
      wide
      footer={
        <button type="button" className="primary" onClick={onClose}>
          I have copied it
        </button>
      }
    >
      {issued ? (
        <>
          <p>
            Token <strong>{issued.name ?? ''}</strong>
            {issued.expiresAt ? ` expires ${formatDate(issued.expiresAt)}.` : ' does not expire.'}
          </p>
          {rotation ? <OldSecretNote rotation={rotation} /> : null}
          <SecretReveal secret={issued.token} label="Access token" origin={window.location.origin} />
        </>
      ) : null}
    </Dialog>
  );
}
