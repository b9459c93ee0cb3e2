import { listLibraries, type Library } from '../api.js';
import { LanguageBadge } from '../components/LanguageBadge.js';
import { none, type Column } from '../components/ListPage.js';
import { languageLabel, languageOf } from '../language.js';
import { PublishBadge } from './PublishState.js';
import { ResourceListPage } from './ResourceList.js';

type SortKey = 'name' | 'importName' | 'language' | 'updatedAt';

const columns: Column<SortKey>[] = [{ label: 'Import name', sortKey: 'importName' }, { label: 'Language', sortKey: 'language' }, { label: 'Description' }, { label: 'Published' }];

export function LibrariesPage() {
  return (
    <ResourceListPage<Library, SortKey>
      kind="library"
      fetch={listLibraries}
      intro={
        <>
          Reusable JavaScript or Python modules. A transformation imports a library of its own language by the library's import name, for
          example <code>{'import { formatPrice } from "priceTools";'}</code> or <code>{'from priceTools import format_price'}</code>
        </>
      }
      emptyText="Create a library to share helper functions between transformations."
      createLabel="Create a library"
      columns={columns}
      initialSort={{ key: 'name', direction: 'asc' }}
      sortValue={(item, key) => (key === 'language' ? languageOf(item.language) : item[key])}
      searchedText={(item) => [item.importName, languageLabel(languageOf(item.language))]}
      cells={(item) => (
        <>
          <td data-label="Import name">
            <code>{item.importName}</code>
          </td>
          <td data-label="Language">
            <LanguageBadge language={languageOf(item.language)} />
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
