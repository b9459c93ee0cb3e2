import { useEffect, useId, useState } from 'react';
import { rotateAccessToken, type AccessToken, type IssuedToken } from '../../api.js';
import { ActionDialog } from '../../components/ActionDialog.js';
import { useAction } from '../../use-action.js';

const graceChoices = [
  { value: 0, duration: '', label: 'None: the old secret stops working now' },
  { value: 3600, duration: '1 hour', label: '1 hour' },
  { value: 86400, duration: '24 hours', label: '24 hours' },
  { value: 604800, duration: '7 days', label: '7 days (the longest allowed)' },
];

/** What a rotation did to the secret it replaced, for the dialog that shows the new one. */
export interface Rotation {
  oldHint: string | undefined;
  /** When the old secret stops working, as the server answered; null when it stopped at once. */
  oldStopsAt: Date | null;
  /** The grace period in words ("24 hours"). */
  grace: string;
}

export function RotateDialog({ token, onClose, onRotated }: { token: AccessToken | null; onClose: () => void; onRotated: (issued: IssuedToken, rotation: Rotation) => void }) {
  const [grace, setGrace] = useState(3600);
  const selectId = useId();
  const action = useAction(async (target: AccessToken) => {
    const issued = await rotateAccessToken(target.id, grace);
    const duration = graceChoices.find((choice) => choice.value === grace)?.duration ?? `${grace} seconds`;
    const stopsAt = issued.replaced ? new Date(issued.replaced.graceUntil) : new Date(Date.now() + grace * 1000);
    onRotated(issued, { oldHint: target.hint, oldStopsAt: grace === 0 ? null : stopsAt, grace: duration });
  });
  const { reset } = action;
  useEffect(() => {
    setGrace(3600);
    reset();
  }, [token, reset]);

  return (
    <ActionDialog
      title="Rotate access token"
      open={token !== null}
      onClose={onClose}
      action={action}
      onConfirm={() => token && void action.run(token)}
      confirmLabel="Rotate token"
      busyLabel="Rotating…"
      failureTitle="The token was not rotated."
      form
    >
      {token ? (
        <>
          <p>
            Issues a new secret for <strong>{token.name}</strong> with the same name, scopes and expiry. Give your clients time to
            switch with a grace period, during which the old secret keeps working.
          </p>
          <div className="field">
            <label htmlFor={selectId}>Grace period for the old secret</label>
            <select id={selectId} value={grace} onChange={(event) => setGrace(Number(event.target.value))} data-autofocus>
              {graceChoices.map((choice) => (
                <option key={choice.value} value={choice.value}>
                  {choice.label}
                </option>
              ))}
            </select>
          </div>
        </>
      ) : null}
    </ActionDialog>
  );
}
