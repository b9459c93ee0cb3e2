import { listTransformationsWithStats, type TransformationWithStats } from '../api.js';
import { LanguageBadge } from '../components/LanguageBadge.js';
import { none, type Column } from '../components/ListPage.js';
import { formatRate } from '../components/StatsSummary.js';
import { formatDate } from '../format.js';
import { languageLabel, languageOf } from '../language.js';
import { PublishBadge } from './PublishState.js';
import { ResourceListPage } from './ResourceList.js';

type SortKey = 'name' | 'updatedAt' | 'language' | 'published' | 'events' | 'errorRate';

const columns: Column<SortKey>[] = [
  { label: 'Language', sortKey: 'language' },
  { label: 'Description' },
  { label: 'Imports' },
  { label: 'Published', sortKey: 'published' },
  { label: 'Events (24 h)', sortKey: 'events' },
  { label: 'Error rate (24 h)', sortKey: 'errorRate' },
];

/** Live traffic of the last 24 hours, summed over every instance. */
function TrafficCells({ item }: { item: TransformationWithStats }) {
  const stats = item.stats24h;
  const rate = stats && stats.eventsIn > 0 ? stats.errorRate : null;
  return (
    <>
      <td data-label="Events (24 h)">{stats && stats.eventsIn > 0 ? stats.eventsIn.toLocaleString('en') : none}</td>
      <td data-label="Error rate (24 h)">
        {rate === null || !stats ? (
          none
        ) : (
          <span className={rate > 0 ? 'badge badge-danger' : 'badge badge-ok'} title={`${stats.failed.toLocaleString('en')} of ${stats.eventsIn.toLocaleString('en')} events failed`}>
            {formatRate(rate)}
          </span>
        )}
      </td>
    </>
  );
}

function QuarantineBadge({ until }: { until: string | null | undefined }) {
  if (!until || Date.parse(until) <= Date.now()) return null;
  return (
    <span className="badge badge-danger" style={{ marginLeft: 6 }} title={`A version crashed its sandbox process; it is not run until ${formatDate(until)}`}>
      Quarantined
    </span>
  );
}

function Cells({ item }: { item: TransformationWithStats }) {
  return (
    <>
      <td data-label="Language">
        <LanguageBadge language={languageOf(item.language)} />
      </td>
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
      <TrafficCells item={item} />
    </>
  );
}

export function TransformationsPage() {
  return (
    <ResourceListPage<TransformationWithStats, SortKey>
      kind="transformation"
      fetch={listTransformationsWithStats}
      intro="JavaScript or Python code that reshapes, enriches or drops events on their way to destinations. Every save is a new immutable version."
      emptyText="Create one to reshape events in code, test it on sample events, then publish it."
      createLabel="Create a transformation"
      columns={columns}
      initialSort={{ key: 'updatedAt', direction: 'desc' }}
      sortValue={(item, key) =>
        key === 'language'
          ? languageOf(item.language)
          : key === 'published'
          ? item.publishedVersionId
            ? item.publishedVersionId === item.versionId
              ? 2
              : 1
            : 0
          : key === 'events'
            ? (item.stats24h?.eventsIn ?? 0)
            : key === 'errorRate'
              ? (item.stats24h?.errorRate ?? 0)
              : item[key]
      }
      searchedText={(item) => [languageLabel(languageOf(item.language)), ...(item.imports ?? [])]}
      cells={(item) => <Cells item={item} />}
    />
  );
}
