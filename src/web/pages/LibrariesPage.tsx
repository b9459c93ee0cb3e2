import { useState } from 'react';
import { listLibraries, type Library } from '../api.js';
import { Empty, ErrorAlert, Loading, useToast } from '../components/Feedback.js';
import { SortHeader, useSorted } from '../components/SortableTable.js';
import { formatDate, formatRelative } from '../format.js';
import { href } from '../router.js';
import { PublishBadge } from './PublishState.js';
import { DeleteResourceDialog } from './TransformationsPage.js';
import { useLoaded } from '../use-loaded.js';

type SortKey = 'name' | 'importName' | 'updatedAt';

export function LibrariesPage() {
  const { data: items, error, reload: load } = useLoaded(listLibraries);
  const [deleting, setDeleting] = useState<Library | null>(null);
  const { notify } = useToast();


  const { sorted, sort, toggle } = useSorted<Library, SortKey>(items ?? [], { key: 'name', direction: 'asc' }, (item, key) => item[key]);

  return (
    <section aria-labelledby="libraries-title">
      <div className="page-head">
        <div>
          <h1 id="libraries-title">Libraries</h1>
          <p>
            Reusable JavaScript modules. A transformation imports a library by its import name, for example{' '}
            <code>{'import { formatPrice } from "priceTools";'}</code>
          </p>
        </div>
        <a className="button primary" href={href('/libraries/new')}>
          New library
        </a>
      </div>
      <ErrorAlert error={error} title="Could not load libraries." onRetry={() => void load()} />
      {items === null && !error ? <Loading label="Loading libraries…" /> : null}
      {items && items.length === 0 ? (
        <div className="card">
          <Empty title="No libraries yet">
            <p>Create a library to share helper functions between transformations.</p>
            <a className="button primary" href={href('/libraries/new')}>
              Create a library
            </a>
          </Empty>
        </div>
      ) : null}
      {items && items.length > 0 ? (
        <div className="table-wrap">
          <table className="data responsive" aria-label="Libraries">
            <thead>
              <tr>
                <SortHeader label="Name" sortKey="name" sort={sort} onSort={toggle} />
                <SortHeader label="Import name" sortKey="importName" sort={sort} onSort={toggle} />
                <th scope="col">Description</th>
                <th scope="col">Published</th>
                <SortHeader label="Updated" sortKey="updatedAt" sort={sort} onSort={toggle} />
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {sorted.map((item) => (
                <tr key={item.id} data-library-id={item.id}>
                  <td data-label="Name" className="primary-cell">
                    <a href={href(`/libraries/${encodeURIComponent(item.id)}`)}>{item.name}</a>
                  </td>
                  <td data-label="Import name">
                    <code>{item.importName}</code>
                  </td>
                  <td data-label="Description">{item.description || <span className="muted">—</span>}</td>
                  <td data-label="Published">
                    <PublishBadge versionId={item.versionId} publishedVersionId={item.publishedVersionId} />
                  </td>
                  <td data-label="Updated">
                    <time dateTime={item.updatedAt} title={formatDate(item.updatedAt)}>
                      {formatRelative(item.updatedAt)}
                    </time>
                  </td>
                  <td className="actions">
                    <a className="button small" href={href(`/libraries/${encodeURIComponent(item.id)}`)} aria-label={`Open ${item.name}`}>
                      Open
                    </a>
                    <button type="button" className="small danger-outline" onClick={() => setDeleting(item)} aria-label={`Delete ${item.name}`}>
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <DeleteResourceDialog
        target={deleting}
        kind="library"
        onClose={() => setDeleting(null)}
        onDeleted={() => {
          notify(`Deleted library “${deleting?.name ?? ''}”.`);
          setDeleting(null);
          void load();
        }}
      />
    </section>
  );
}
