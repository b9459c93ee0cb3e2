import type { IssuedToken } from '../../api.js';
import { Dialog } from '../../components/Dialog.js';
import { SecretReveal } from '../../components/SecretReveal.js';
import { formatDate } from '../../format.js';

/** Shows a newly issued secret once; the page drops it from its state when this closes. */
export function SecretDialog({ issued, title, onClose }: { issued: IssuedToken | null; title: string; onClose: () => void }) {
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
          <SecretReveal secret={issued.token} label="Access token" origin={window.location.origin} />
        </>
      ) : null}
    </Dialog>
  );
}
