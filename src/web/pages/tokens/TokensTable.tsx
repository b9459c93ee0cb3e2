import type { AccessToken } from '../../api.js';
import { RowActions, type DeleteFlow } from '../../components/DeleteFlow.js';
import { RelativeTime } from '../../components/RelativeTime.js';
import { useSorted } from '../../components/SortableTable.js';
import { ListTable, none, type Column } from '../../components/ListPage.js';

type SortKey = 'name' | 'description' | 'hint' | 'scopes' | 'createdAt' | 'expiresAt' | 'lastUsedAt' | 'status';

const columns: Column<SortKey>[] = [
  { label: 'Name', sortKey: 'name' },
  { label: 'Description', sortKey: 'description' },
  { label: 'Hint', sortKey: 'hint' },
  { label: 'Scopes', sortKey: 'scopes' },
  { label: 'Created', sortKey: 'createdAt' },
  { label: 'Expires', sortKey: 'expiresAt' },
  { label: 'Last used', sortKey: 'lastUsedAt' },
  { label: 'Status', sortKey: 'status' },
];

function statusBadge(token: AccessToken) {
  const status = token.status ?? 'active';
  const kind = status === 'active' ? 'badge-ok' : status === 'rotating' ? 'badge-warn' : 'badge-danger';
  const title = status === 'rotating' ? 'A newer secret exists; this one still works until its grace period ends.' : undefined;
  return (
    <span className={`badge ${kind}`} title={title}>
      {status}
    </span>
  );
}

/** The sortable token list with each row's Rotate and Delete; `emptyText` stands in for no rows. */
export function TokensTable({
  tokens,
  deletion,
  onRotate,
  emptyText,
}: {
  tokens: AccessToken[];
  deletion: DeleteFlow<AccessToken>;
  onRotate: (token: AccessToken) => void;
  emptyText: string;
}) {
  const { sorted, sort, toggle } = useSorted<AccessToken, SortKey>(tokens, { key: 'createdAt', direction: 'desc' }, (token, key) =>
    key === 'scopes' ? (token.scopes ?? []).join(',') : token[key],
  );
  return (
    <ListTable
      label="Access tokens"
      columns={columns}
      sort={sort}
      onSort={toggle}
      rows={sorted}
      after={sorted.length === 0 ? <p className="empty">{emptyText}</p> : null}
    >
      {(token) => (
        <tr key={token.id} data-token-id={token.id}>
          <td data-label="Name" className="primary-cell">
            {token.name}
          </td>
          <td data-label="Description">{token.description || none}</td>
          <td data-label="Hint">{token.hint ? <code>{token.hint}</code> : none}</td>
          <td data-label="Scopes">
            <div>
              {(token.scopes ?? []).map((scope) => (
                <span key={scope} className="badge" style={{ marginRight: 4 }}>
                  {scope}
                </span>
              ))}
            </div>
          </td>
          <td data-label="Created">
            <RelativeTime value={token.createdAt} />
          </td>
          <td data-label="Expires">
            {token.status === 'rotating' ? (
              // Its own expiry no longer applies: it stops when the grace period chosen at rotation ends.
              token.graceUntil ? (
                <span title="A newer secret replaced this one; it stops working when its grace period ends.">
                  <RelativeTime value={token.graceUntil} /> (grace period)
                </span>
              ) : (
                <span title="A newer secret replaced this one; it stops working when the grace period chosen at rotation ends.">At the end of its grace period</span>
              )
            ) : (
              <RelativeTime value={token.expiresAt} never="Never" />
            )}
          </td>
          <td data-label="Last used">
            <div>
              <RelativeTime value={token.lastUsedAt} never="Never used" />
              {token.lastUsedIp ? <div className="small muted">from {token.lastUsedIp}</div> : null}
            </div>
          </td>
          <td data-label="Status">{statusBadge(token)}</td>
          <RowActions row={token} flow={deletion}>
            {token.status === 'rotating' ? (
              <span title="Already rotated: rotate its replacement instead.">
                <button type="button" className="small" disabled aria-label={`Rotate ${token.name}`}>
                  Rotate
                </button>
              </span>
            ) : (
              <button type="button" className="small" onClick={() => onRotate(token)} aria-label={`Rotate ${token.name}`}>
                Rotate
              </button>
            )}
          </RowActions>
        </tr>
      )}
    </ListTable>
  );
}
