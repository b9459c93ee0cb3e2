import type { ReactNode } from 'react';
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

/** A responsive data table whose last column holds each row's actions. */
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
  return (
    <div className="table-wrap">
      <table className="data responsive" aria-label={label}>
        <thead>
          <tr>
            {columns.map((column) =>
              column.sortKey ? (
                <SortHeader key={column.label} label={column.label} sortKey={column.sortKey} sort={sort} onSort={onSort} />
              ) : (
                <th key={column.label} scope="col">
                  {column.label}
                </th>
              ),
            )}
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>{rows.map(children)}</tbody>
      </table>
      {after}
    </div>
  );
}

/** The muted dash an empty cell shows. */
export const none = <span className="muted">—</span>;
