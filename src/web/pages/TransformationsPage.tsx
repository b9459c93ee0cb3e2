import { listTransformations, type Transformation } from '../api.js';
import { none, type Column } from '../components/ListPage.js';
import { formatDate } from '../format.js';
import { PublishBadge } from './PublishState.js';
import { ResourceListPage } from './ResourceList.js';

type SortKey = 'name' | 'updatedAt' | 'published';

const columns: Column<SortKey>[] = [{ label: 'Description' }, { label: 'Imports' }, { label: 'Published', sortKey: 'published' }];

function QuarantineBadge({ until }: { until: string | null | undefined }) {
  if (!until || Date.parse(until) <= Date.now()) return null;
  return (
    <span className="badge badge-danger" style={{ marginLeft: 6 }} title={`A version crashed its sandbox process; it is not run until ${formatDate(until)}`}>
      Quarantined
    </span>
  );
}

function Cells({ item }: { item: Transformation }) {
  return (
    <>
      <td data-label="Description">{item.description || none}</td>
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
          none
        )}
      </td>
      <td data-label="Published">
        <PublishBadge versionId={item.versionId} publishedVersionId={item.publishedVersionId} />
        <QuarantineBadge until={item.quarantinedUntil} />
      </td>
    </>
  );
}

export function TransformationsPage() {
  return (
    <ResourceListPage<Transformation, SortKey>
      kind="transformation"
      fetch={listTransformations}
      intro="JavaScript that reshapes, enriches or drops events on their way to destinations. Every save is a new immutable version."
      emptyText="Create one to reshape events in code, test it on sample events, then publish it."
      createLabel="Create a transformation"
      columns={columns}
      initialSort={{ key: 'updatedAt', direction: 'desc' }}
      sortValue={(item, key) => (key === 'published' ? (item.publishedVersionId ? (item.publishedVersionId === item.versionId ? 2 : 1) : 0) : item[key])}
      cells={(item) => <Cells item={item} />}
    />
  );
}
