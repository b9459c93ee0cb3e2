import { useEffect, useState } from 'react';
import { deleteResource, listTransformations, type Transformation } from '../api.js';
import { Dialog } from '../components/Dialog.js';
import { Empty, ErrorAlert, Loading, useToast } from '../components/Feedback.js';
import { SortHeader, useSorted } from '../components/SortableTable.js';
import { formatDate, formatRelative } from '../format.js';
import { href } from '../router.js';
import { PublishBadge } from './PublishState.js';
import { useLoaded } from '../use-loaded.js';

type SortKey = 'name' | 'updatedAt' | 'published';

export function DeleteResourceDialog({
  target,
  kind,
  onClose,
  onDeleted,
}: {
  target: { id: string; name: string } | null;
  kind: 'transformation' | 'library';
  onClose: () => void;
  onDeleted: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => setError(null), [target]);
  async function confirm() {
    if (!target) return;
    setBusy(true);
    setError(null);
    try {
      await deleteResource(kind, target.id);
      onDeleted();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }
  return (
    <Dialog
      title={`Delete ${kind}`}
      open={target !== null}
      onClose={onClose}
      busy={busy}
      footer={
        <>
          <button type="button" onClick={onClose} disabled={busy} data-autofocus>
            Cancel
          </button>
          <button type="button" className="danger" onClick={confirm} disabled={busy}>
            {busy ? 'Deleting…' : `Delete ${kind}`}
          </button>
        </>
      }
    >
      {target ? (
        <>
          <ErrorAlert error={error} title={`The ${kind} was not deleted.`} />
          <p>
            Delete <strong>{target.name}</strong>?{' '}
            {kind === 'transformation'
              ? 'Its versions are kept for the audit trail, but it stops running and its id stops resolving.'
              : 'Tiller refuses while a transformation still imports it.'}
          </p>
        </>
      ) : null}
    </Dialog>
  );
}

export function TransformationsPage() {
  const { data: items, error, reload: load } = useLoaded(listTransformations);
  const [deleting, setDeleting] = useState<Transformation | null>(null);
  const { notify } = useToast();


  const { sorted, sort, toggle } = useSorted<Transformation, SortKey>(items ?? [], { key: 'updatedAt', direction: 'desc' }, (item, key) =>
    key === 'published' ? (item.publishedVersionId ? (item.publishedVersionId === item.versionId ? 2 : 1) : 0) : item[key],
  );

  return (
    <section aria-labelledby="transformations-title">
      <div className="page-head">
        <div>
          <h1 id="transformations-title">Transformations</h1>
          <p>JavaScript that reshapes, enriches or drops events on their way to destinations. Every save is a new immutable version.</p>
        </div>
        <a className="button primary" href={href('/transformations/new')}>
          New transformation
        </a>
      </div>
      <ErrorAlert error={error} title="Could not load transformations." onRetry={() => void load()} />
      {items === null && !error ? <Loading label="Loading transformations…" /> : null}
      {items && items.length === 0 ? (
        <div className="card">
          <Empty title="No transformations yet">
            <p>Create one to reshape events in code, test it on sample events, then publish it.</p>
            <a className="button primary" href={href('/transformations/new')}>
              Create a transformation
            </a>
          </Empty>
        </div>
      ) : null}
      {items && items.length > 0 ? (
        <div className="table-wrap">
          <table className="data responsive" aria-label="Transformations">
            <thead>
              <tr>
                <SortHeader label="Name" sortKey="name" sort={sort} onSort={toggle} />
                <th scope="col">Description</th>
                <th scope="col">Imports</th>
                <SortHeader label="Published" sortKey="published" sort={sort} onSort={toggle} />
                <SortHeader label="Updated" sortKey="updatedAt" sort={sort} onSort={toggle} />
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {sorted.map((item) => (
                <tr key={item.id} data-transformation-id={item.id}>
                  <td data-label="Name" className="primary-cell">
                    <a href={href(`/transformations/${encodeURIComponent(item.id)}`)}>{item.name}</a>
                  </td>
                  <td data-label="Description">{item.description || <span className="muted">—</span>}</td>
                  <td data-label="Imports">
                    {item.imports && item.imports.length > 0 ? (
                      <div>
                        {item.imports.map((name) => (
                          <code key={name} style={{ marginRight: 6 }}>
                            {name}
                          </code>
                        ))}
                      </div>
                    ) : (
                      <span className="muted">—</span>
                    )}
                  </td>
                  <td data-label="Published">
                    <PublishBadge versionId={item.versionId} publishedVersionId={item.publishedVersionId} />
                    {item.quarantinedUntil && Date.parse(item.quarantinedUntil) > Date.now() ? (
                      <span
                        className="badge badge-danger"
                        style={{ marginLeft: 6 }}
                        title={`A version crashed its sandbox process; it is not run until ${formatDate(item.quarantinedUntil)}`}
                      >
                        Quarantined
                      </span>
                    ) : null}
                  </td>
                  <td data-label="Updated">
                    <time dateTime={item.updatedAt} title={formatDate(item.updatedAt)}>
                      {formatRelative(item.updatedAt)}
                    </time>
                  </td>
                  <td className="actions">
                    <a className="button small" href={href(`/transformations/${encodeURIComponent(item.id)}`)} aria-label={`Open ${item.name}`}>
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
        kind="transformation"
        onClose={() => setDeleting(null)}
        onDeleted={() => {
          notify(`Deleted transformation “${deleting?.name ?? ''}”.`);
          setDeleting(null);
          void load();
        }}
      />
    </section>
  );
}
