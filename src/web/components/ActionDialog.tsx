import { useId, type ReactNode } from 'react';
import type { Action } from '../use-action.js';
import { Dialog } from './Dialog.js';
import { ErrorAlert } from './Feedback.js';

interface ActionDialogProps {
  title: string;
  open: boolean;
  onClose: () => void;
  /** The dialog's one action (from useAction): its busy state locks the dialog, its error shows on top. */
  action: Pick<Action<never>, 'busy' | 'error'>;
  onConfirm: () => void;
  confirmLabel: string;
  /** The confirm button's label while the action runs ("Deleting…"). */
  busyLabel: string;
  tone?: 'primary' | 'danger';
  confirmDisabled?: boolean;
  /** Shown above the body when the action failed; omit to render the error yourself. */
  failureTitle?: string;
  /** Wrap the body in a <form> whose submit (Enter in a field) confirms. */
  form?: boolean;
  /** Which footer button takes focus when the dialog opens (else the body's first field). */
  autofocus?: 'cancel' | 'confirm';
  wide?: boolean;
  children: ReactNode;
}

/** A dialog with Cancel and one confirm button: the shape of every dashboard dialog that does something. */
export function ActionDialog({
  title,
  open,
  onClose,
  action,
  onConfirm,
  confirmLabel,
  busyLabel,
  tone = 'primary',
  confirmDisabled = false,
  failureTitle,
  form = false,
  autofocus,
  wide,
  children,
}: ActionDialogProps) {
  const formId = useId();
  const { busy, error } = action;
  const alert = failureTitle ? <ErrorAlert error={error} title={failureTitle} /> : null;
  return (
    <Dialog
      title={title}
      open={open}
      onClose={onClose}
      busy={busy}
      wide={wide}
      footer={
        <>
          <button type="button" onClick={onClose} disabled={busy} data-autofocus={autofocus === 'cancel' ? true : undefined}>
            Cancel
          </button>
          <button
            type={form ? 'submit' : 'button'}
            form={form ? formId : undefined}
            className={tone}
            onClick={form ? undefined : onConfirm}
            disabled={busy || confirmDisabled}
            data-autofocus={autofocus === 'confirm' ? true : undefined}
          >
            {busy ? busyLabel : confirmLabel}
          </button>
        </>
      }
    >
      {form ? (
        <form
          id={formId}
          noValidate
          onSubmit={(event) => {
            event.preventDefault();
            onConfirm();
          }}
        >
          {alert}
          {children}
        </form>
      ) : (
        <>
          {alert}
          {children}
        </>
      )}
    </Dialog>
  );
}
