import type { ReactNode } from 'react';
import { deleteResource, type Library, type ResourceKind, type Transformation } from '../api.js';
import { ConfirmDeleteDialog, RowActions, useDeleteFlow, type DeleteFlow } from '../components/DeleteFlow.js';
import { useToast } from '../components/Feedback.js';
import { FilterBox, ListStates, ListTable, NoMatch, PageHead, useFilter, type Column } from '../components/ListPage.js';
import { ReadOnlyButton, ReadOnlyNote } from '../components/ReadOnly.js';
import { RelativeTime } from '../components/RelativeTime.js';
import { useSorted, type SortState } from '../components/SortableTable.js';
import { href } from '../router.js';
import { canWrite } from '../session.js';
import { useLoaded } from '../use-loaded.js';

// The transformation and library lists are one page: a head, the list states, a table whose rows
// open the editor, and the delete flow. Each list adds its own columns.

const collections: Record<ResourceKind, { path: string; label: string; plural: string }> = {
  transformation: { path: '/transformations', label: 'Transformations', plural: 'transformations' },
  library: { path: '/libraries', label: 'Libraries', plural: 'libraries' },
};

export function resourcePath(kind: ResourceKind, id: string): string {
  return href(`${collections[kind].path}/${encodeURIComponent(id)}`);
}

type BaseKey = 'name' | 'updatedAt';

/** Name (a link to the editor) first, then `cells`, then when it was updated and the row's actions. */
function ResourceTable<T extends Transformation | Library, K extends string>({
  kind,
  columns,
  sort,
  onSort,
  rows,
  deletion,
  cells,
  readOnlyNote,
  after,
}: {
  kind: ResourceKind;
  /** The columns between Name and Updated. */
  columns: Column<K | BaseKey>[];
  sort: SortState<K | BaseKey>;
  onSort: (key: K | BaseKey) => void;
  rows: T[];
  deletion: DeleteFlow<T>;
  cells: (row: T) => ReactNode;
  /** The id of the page's read-only note, when the token may not delete. */
  readOnlyNote: string | undefined;
  after: ReactNode;
}) {
  const all: Column<K | BaseKey>[] = [{ label: 'Name', sortKey: 'name' }, ...columns, { label: 'Updated', sortKey: 'updatedAt' }];
  return (
    <ListTable label={collections[kind].label} columns={all} sort={sort} onSort={onSort} rows={rows} after={after}>
      {(item) => (
        <tr key={item.id} {...{ [`data-${kind}-id`]: item.id }}>
          <td data-label="Name" className="primary-cell">
            <a href={resourcePath(kind, item.id)}>{item.name}</a>
          </td>
          {cells(item)}
          <td data-label="Updated">
            <RelativeTime value={item.updatedAt} />
          </td>
          <RowActions row={item} flow={deletion} openHref={resourcePath(kind, item.id)} readOnlyNote={readOnlyNote} />
        </tr>
      )}
    </ListTable>
  );
}

const consequences: Record<ResourceKind, string> = {
  transformation: 'Its versions are kept for the audit trail, but it stops running and its id stops resolving.',
  library: 'Tiller refuses while a transformation still imports it.',
};

/** Confirms and deletes a transformation or library, then says so and lets the list reload. */
function DeleteResourceDialog<T extends Transformation | Library>({ kind, flow, onDeleted }: { kind: ResourceKind; flow: DeleteFlow<T> & { close: () => void }; onDeleted: () => void }) {
  const { notify } = useToast();
  return (
    <ConfirmDeleteDialog
      flow={flow}
      noun={kind}
      remove={(item) => deleteResource(kind, item.id)}
      onDeleted={(item) => {
        notify(`Deleted ${kind} “${item.name}”.`);
        onDeleted();
      }}
    >
      {(item) => (
        <p>
          Delete <strong>{item.name}</strong>? {consequences[kind]}
        </p>
      )}
    </ConfirmDeleteDialog>
  );
}

interface ResourceListPageProps<T, K extends string> {
  kind: ResourceKind;
  fetch: () => Promise<T[]>;
  /** What the list holds, under the title. */
  intro: ReactNode;
  /** What to do first when the list is empty. */
  emptyText: string;
  createLabel: string;
  columns: Column<K | BaseKey>[];
  initialSort: SortState<K | BaseKey>;
  sortValue: (row: T, key: K | BaseKey) => unknown;
  cells: (row: T) => ReactNode;
  /** What the filter box searches in a row besides its name, description and id. */
  searchedText?: (row: T) => (string | null | undefined)[];
}

export function ResourceListPage<T extends Transformation | Library, K extends string>(props: ResourceListPageProps<T, K>) {
  const { kind } = props;
  const collection = collections[kind];
  const { data: items, error, reload: load } = useLoaded(props.fetch);
  const deletion = useDeleteFlow<T>();
  const { filter, setFilter, visible } = useFilter(items, (item) => [item.name, item.description, item.id, ...(props.searchedText?.(item) ?? [])]);
  const { sorted, sort, toggle } = useSorted<T, K | BaseKey>(visible, props.initialSort, props.sortValue);
  const titleId = `${collection.plural}-title`;
  const readOnlyNote = canWrite() ? undefined : `${collection.plural}-read-only`;
  const newButton = (label: string) =>
    readOnlyNote ? (
      <ReadOnlyButton className="primary" noteId={readOnlyNote}>
        {label}
      </ReadOnlyButton>
    ) : (
      <a className="button primary" href={href(`${collection.path}/new`)}>
        {label}
      </a>
    );
  return (
    <section aria-labelledby={titleId}>
      <PageHead id={titleId} title={collection.label} actions={newButton(`New ${kind}`)}>
        {props.intro}
      </PageHead>
      {readOnlyNote ? <ReadOnlyNote id={readOnlyNote}>Your access token is read only: you can open and test {collection.plural}, but not create, change or delete them.</ReadOnlyNote> : null}
      <ListStates
        items={items}
        error={error}
        onRetry={() => void load()}
        plural={collection.plural}
        empty={
          <>
            <p>{props.emptyText}</p>
            {newButton(props.createLabel)}
          </>
        }
      >
        {() => (
          <>
            <FilterBox label={`Search ${collection.plural}`} placeholder="Name, description, id…" filter={filter} onChange={setFilter} shown={visible.length} noun={kind} />
            <ResourceTable
              kind={kind}
              columns={props.columns}
              sort={sort}
              onSort={toggle}
              rows={sorted}
              deletion={deletion}
              cells={props.cells}
              readOnlyNote={readOnlyNote}
              after={sorted.length === 0 ? <NoMatch filter={filter} /> : null}
            />
          </>
        )}
      </ListStates>
      <DeleteResourceDialog kind={kind} flow={deletion} onDeleted={() => void load()} />
    </section>
  );
}
