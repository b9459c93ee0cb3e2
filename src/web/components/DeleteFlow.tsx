import { useEffect, useState, type ReactNode } from 'react';
import { useAction } from '../use-action.js';
import { ActionDialog } from './ActionDialog.js';
import { ReadOnlyButton } from './ReadOnly.js';

interface Named {
  name: string;
}

export interface DeleteFlow<T extends Named> {
  /** The row being asked about, or null while no confirmation is open. */
  target: T | null;
  ask: (target: T) => void;
}

/** Which row of a list is being deleted: its Delete button asks, the dialog confirms. */
export function useDeleteFlow<T extends Named>(): DeleteFlow<T> & { close: () => void } {
  const [target, setTarget] = useState<T | null>(null);
  return { target, ask: setTarget, close: () => setTarget(null) };
}

/**
 * The actions cell of a list row: an optional Open link, the row's own buttons, then Delete,
 * each labelled with the row's name for screen readers. With `readOnlyNote` (the id of the page's
 * read-only note) Delete is shown disabled.
 */
export function RowActions<T extends Named>({ row, flow, openHref, readOnlyNote, children }: { row: T; flow: DeleteFlow<T>; openHref?: string; readOnlyNote?: string; children?: ReactNode }) {
  return (
    <td className="actions">
      {openHref ? (
        <a className="button small" href={openHref} aria-label={`Open ${row.name}`}>
          Open
        </a>
      ) : null}
      {children}
      {readOnlyNote ? (
        <ReadOnlyButton className="small danger-outline" ariaLabel={`Delete ${row.name}`} noteId={readOnlyNote}>
          Delete
        </ReadOnlyButton>
      ) : (
        <button type="button" className="small danger-outline" onClick={() => flow.ask(row)} aria-label={`Delete ${row.name}`}>
          Delete
        </button>
      )}
    </td>
  );
}

interface ConfirmDeleteProps<T extends Named> {
  flow: DeleteFlow<T> & { close: () => void };
  /** What is deleted, in the title ("access token") and on the button ("token"). */
  noun: string;
  buttonNoun?: string;
  remove: (target: T) => Promise<unknown>;
  onDeleted: (target: T) => void;
  /** What deleting it means, after "Delete <name>". */
  children: (target: T) => ReactNode;
}

/** Confirm, delete (busy while the request runs), show a failure in the dialog, or close and report. */
export function ConfirmDeleteDialog<T extends Named>({ flow, noun, buttonNoun = noun, remove, onDeleted, children }: ConfirmDeleteProps<T>) {
  const { target } = flow;
  const action = useAction(async (row: T) => {
    await remove(row);
    flow.close();
    onDeleted(row);
  });
  const { reset } = action;
  // A new row asked about starts without the previous row's failure.
  useEffect(() => reset(), [target, reset]);
  return (
    <ActionDialog
      title={`Delete ${noun}`}
      open={target !== null}
      onClose={flow.close}
      action={action}
      onConfirm={() => target && void action.run(target)}
      confirmLabel={`Delete ${buttonNoun}`}
      busyLabel="Deleting…"
      tone="danger"
      failureTitle={`The ${buttonNoun} was not deleted.`}
      autofocus="cancel"
    >
      {target ? children(target) : null}
    </ActionDialog>
  );
}
