import type { WorkspaceCredential } from '../../api.js';
import { RowActions, type DeleteFlow } from '../../components/DeleteFlow.js';
import { ListTable, none, type Column } from '../../components/ListPage.js';
import { ReadOnlyButton } from '../../components/ReadOnly.js';
import { RelativeTime } from '../../components/RelativeTime.js';
import { useSorted } from '../../components/SortableTable.js';

/** A credential as a list row: the delete flow names rows by `name`, which for a credential is its key. */
export type CredentialRow = WorkspaceCredential & { name: string };

type SortKey = 'key' | 'kind' | 'updatedAt';

const columns: Column<SortKey>[] = [{ label: 'Key', sortKey: 'key' }, { label: 'Kind', sortKey: 'kind' }, { label: 'Value' }, { label: 'Updated', sortKey: 'updatedAt' }];

/** The id of the page's read-only note, which the disabled buttons point to. */
export const READ_ONLY_NOTE = 'credentials-read-only';

function ValueCell({ credential }: { credential: WorkspaceCredential }) {
  if (credential.isSecret) return <span className="muted">Hidden: secret values are never shown</span>;
  if (!credential.value) return none;
  return (
    <code className="credential-value" title={credential.value}>
      {credential.value}
    </code>
  );
}

/** The sortable list; each row's Replace value and Delete, disabled with the reason for a read-only token. */
export function CredentialsTable({
  rows,
  deletion,
  onReplace,
  canWrite,
}: {
  rows: CredentialRow[];
  deletion: DeleteFlow<CredentialRow>;
  onReplace: (credential: CredentialRow) => void;
  canWrite: boolean;
}) {
  const { sorted, sort, toggle } = useSorted<CredentialRow, SortKey>(rows, { key: 'key', direction: 'asc' }, (row, key) => (key === 'kind' ? (row.isSecret ? 'secret' : 'plain') : row[key]));
  return (
    <ListTable label="Credentials" columns={columns} sort={sort} onSort={toggle} rows={sorted}>
      {(row) => (
        <tr key={row.id} data-credential-id={row.id}>
          <td data-label="Key" className="primary-cell">
            <code>{row.key}</code>
          </td>
          <td data-label="Kind">{row.isSecret ? <span className="badge badge-brand">secret</span> : <span className="badge">plain</span>}</td>
          <td data-label="Value">
            <ValueCell credential={row} />
          </td>
          <td data-label="Updated">
            <RelativeTime value={row.updatedAt} />
          </td>
          <RowActions row={row} flow={deletion} readOnlyNote={canWrite ? undefined : READ_ONLY_NOTE}>
            {canWrite ? (
              <button type="button" className="small" onClick={() => onReplace(row)} aria-label={`Replace value of ${row.key}`}>
                Replace value
              </button>
            ) : (
              <ReadOnlyButton className="small" ariaLabel={`Replace value of ${row.key}`} noteId={READ_ONLY_NOTE}>
                Replace value
              </ReadOnlyButton>
            )}
          </RowActions>
        </tr>
      )}
    </ListTable>
  );
}
