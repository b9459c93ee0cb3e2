import { useEffect, useId, useMemo, useState } from 'react';
import { deleteAccessTokensByName, type AccessToken } from '../../api.js';
import { ActionDialog } from '../../components/ActionDialog.js';
import { plural } from '../../format.js';
import { useAction } from '../../use-action.js';

export function DeleteByNameDialog({
  open,
  tokens,
  onClose,
  onDeleted,
}: {
  open: boolean;
  tokens: AccessToken[];
  onClose: () => void;
  onDeleted: (name: string, count: number) => void;
}) {
  const [name, setName] = useState('');
  const ids = { input: useId(), list: useId(), count: useId() };
  const names = useMemo(() => Array.from(new Set(tokens.map((token) => token.name))).sort(), [tokens]);
  const matching = tokens.filter((token) => token.name === name).length;
  const action = useAction(async () => {
    const deleted = await deleteAccessTokensByName(name);
    onDeleted(name, deleted ?? matching);
  });
  const { reset } = action;
  useEffect(() => {
    if (!open) return;
    setName('');
    reset();
  }, [open, reset]);

  return (
    <ActionDialog
      title="Delete tokens by name"
      open={open}
      onClose={onClose}
      action={action}
      onConfirm={() => name && matching > 0 && void action.run()}
      confirmLabel={matching > 0 ? `Delete ${plural(matching, 'token')}` : 'Delete'}
      busyLabel="Deleting…"
      tone="danger"
      confirmDisabled={matching === 0}
      failureTitle="Nothing was deleted."
      form
    >
      <p>Names are not unique: this deletes every token with exactly this name, as the compatible API does.</p>
      <div className="field">
        <label htmlFor={ids.input}>Token name</label>
        <input
          id={ids.input}
          type="text"
          list={ids.list}
          value={name}
          onChange={(event) => setName(event.target.value)}
          aria-describedby={ids.count}
          autoComplete="off"
          data-autofocus
        />
        <datalist id={ids.list}>
          {names.map((entry) => (
            <option key={entry} value={entry} />
          ))}
        </datalist>
      </div>
      <p id={ids.count} aria-live="polite" className={matching > 0 ? '' : 'muted'}>
        {!name
          ? 'Type or pick a name.'
          : matching > 0
            ? `${plural(matching, 'token')} named “${name}” will be deleted. Clients using ${matching === 1 ? 'it' : 'them'} get 401 from then on.`
            : `No token is named “${name}”.`}
      </p>
    </ActionDialog>
  );
}
