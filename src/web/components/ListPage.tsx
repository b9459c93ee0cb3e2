import { useId, useMemo, useState, type ReactElement, type ReactNode } from 'react';
import { plural } from '../format.js';
import { Empty, ErrorAlert, Loading } from './Feedback.js';
import { SortHeader, type SortState } from './SortableTable.js';

/** A page's title, what the page is for, and its main buttons. */
export function PageHead({ id, title, children, actions }: { id: string; title: string; children: ReactNode; actions: ReactNode }) {
  return (
    <div className="page-head">
      <div>
        <h1 id={id}>{title}</h1>
        <p>{children}</p>
      </div>
      {actions}
    </div>
  );
}

/**
 * The states of a loaded list, in words for `plural` ("access tokens"): the load failure, loading,
 * the empty state with `empty` (what to do first), then `children` with the rows.
 */
export function ListStates<T>({
  items,
  error,
  onRetry,
  plural,
  empty,
  children,
}: {
  items: T[] | null;
  error: unknown;
  onRetry: () => void;
  plural: string;
  empty: ReactNode;
  children: (items: T[]) => ReactNode;
}) {
  return (
    <>
      <ErrorAlert error={error} title={`Could not load ${plural}.`} onRetry={onRetry} />
      {items === null && !error ? <Loading label={`Loading ${plural}…`} /> : null}
      {items && items.length === 0 ? (
        <div className="card">
          <Empty title={`No ${plural} yet`}>{empty}</Empty>
        </div>
      ) : null}
      {items && items.length > 0 ? children(items) : null}
    </>
  );
}

export interface Column<K extends string> {
  label: string;
  /** Sorts by this key when the header is pressed; columns without one do not sort. */
  sortKey?: K;
}

/**
 * A responsive data table (on narrow screens each row becomes a card labelled by its cells'
 * data-label). `columns` are the header cells: a string is a plain column header.
 */
export function DataTable({ label, columns, children, after }: { label: string; columns: (string | ReactElement)[]; children: ReactNode; after?: ReactNode }) {
  return (
    <div className="table-wrap">
      <table className="data responsive" aria-label={label}>
        <thead>
          <tr>
            {columns.map((column) =>
              typeof column === 'string' ? (
                <th key={column} scope="col">
                  {column}
                </th>
              ) : (
                column
              ),
            )}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
      {after}
    </div>
  );
}

/** A sortable data table whose last column holds each row's actions. */
export function ListTable<T, K extends string>({
  label,
  columns,
  sort,
  onSort,
  rows,
  children,
  after,
}: {
  label: string;
  columns: Column<K>[];
  sort: SortState<K>;
  onSort: (key: K) => void;
  rows: T[];
  children: (row: T) => ReactNode;
  /** Shown under the table inside its scroll box (a "no match" line). */
  after?: ReactNode;
}) {
  const headers = columns.map((column) =>
    column.sortKey ? <SortHeader key={column.label} label={column.label} sortKey={column.sortKey} sort={sort} onSort={onSort} /> : column.label,
  );
  const actions = (
    <th key="actions" scope="col">
      <span className="visually-hidden">Actions</span>
    </th>
  );
  return (
    <DataTable label={label} columns={[...headers, actions]} after={after}>
      {rows.map(children)}
    </DataTable>
  );
}

/** A page head's Refresh button, which loads the page's data again. */
export function RefreshToolbar({ onRefresh }: { onRefresh: () => void }) {
  return (
    <div className="toolbar">
      <button type="button" onClick={onRefresh}>
        Refresh
      </button>
    </div>
  );
}

/** The muted dash an empty cell shows. */
export const none = <span className="muted">—</span>;

/** The rows whose texts (what `texts` picks from a row) contain what was typed, ignoring case. */
export function useFilter<T>(rows: T[] | null, texts: (row: T) => (string | null | undefined)[]) {
  const [filter, setFilter] = useState('');
  const needle = filter.trim().toLowerCase();
  const visible = useMemo(() => {
    if (!rows || !needle) return rows ?? [];
    return rows.filter((row) => texts(row).some((value) => value && value.toLowerCase().includes(needle)));
    // `texts` is a pure accessor defined inline by callers; the rows and the needle drive the memo.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [rows, needle]);
  return { filter, setFilter, visible };
}

/** The search box above a list, and (for screen readers) how many rows it leaves. */
export function FilterBox({ label, placeholder, filter, onChange, shown, noun }: { label: string; placeholder: string; filter: string; onChange: (next: string) => void; shown: number; noun: string }) {
  const id = useId();
  return (
    <>
      <div className="field filter-box">
        <label htmlFor={id}>{label}</label>
        <input id={id} type="search" value={filter} onChange={(event) => onChange(event.target.value)} placeholder={placeholder} autoComplete="off" />
      </div>
      <p className="visually-hidden" aria-live="polite">
        {filter ? `${plural(shown, noun)} shown` : ''}
      </p>
    </>
  );
}

/** The line a filtered list shows when nothing matches. */
export function NoMatch({ filter }: { filter: string }) {
  return <p className="empty">Nothing matches “{filter.trim()}”.</p>;
}
