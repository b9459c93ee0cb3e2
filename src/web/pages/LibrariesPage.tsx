import { listLibraries, type Library } from '../api.js';
import { none, type Column } from '../components/ListPage.js';
import { PublishBadge } from './PublishState.js';
import { ResourceListPage } from './ResourceList.js';

type SortKey = 'name' | 'importName' | 'updatedAt';

const columns: Column<SortKey>[] = [{ label: 'Import name', sortKey: 'importName' }, { label: 'Description' }, { label: 'Published' }];

export function LibrariesPage() {
  return (
    <ResourceListPage<Library, SortKey>
      kind="library"
      fetch={listLibraries}
      intro={
        <>
          Reusable JavaScript modules. A transformation imports a library by its import name, for example{' '}
          <code>{'import { formatPrice } from "priceTools";'}</code>
        </>
      }
      emptyText="Create a library to share helper functions between transformations."
      createLabel="Create a library"
      columns={columns}
      initialSort={{ key: 'name', direction: 'asc' }}
      sortValue={(item, key) => item[key]}
      searchedText={(item) => [item.importName]}
      cells={(item) => (
        <>
          <td data-label="Import name">
            <code>{item.importName}</code>
          </td>
          <td data-label="Description">{item.description || none}</td>
          <td data-label="Published">
            <PublishBadge versionId={item.versionId} publishedVersionId={item.publishedVersionId} />
          </td>
        </>
      )}
    />
  );
}
