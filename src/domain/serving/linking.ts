import type { Kysely } from 'kysely';
import type { LibrarySource } from '../../runtime/types.js';
import type { Database } from '../../store/schema.js';
import { toLibraryVersion, type LibraryVersion, type TransformationVersion } from '../versions.js';

// Import linking: which library versions a run of transformation code links, by import name.
// Serving (the wire and the run endpoints) links from versions a caller names; tests, publish and
// save link through LibraryLinker, which looks libraries up by import name in the workspace.

/**
 * The library versions a run of `version` links: those of the version's own workspace (a
 * transformation never sees another workspace's code, whatever ids a caller lists) and language
 * whose import name the code imports. The first listed version of an import name wins.
 */
export function librariesForRun(version: TransformationVersion, candidates: Iterable<LibraryVersion>): LibraryVersion[] {
  if (version.imports.length === 0) return [];
  const chosen: LibraryVersion[] = [];
  for (const library of candidates) {
    if (library.workspaceId !== version.workspaceId) continue;
    // Saves refuse a library of another language; an import name freed by a deletion may name one later.
    if (library.language !== version.language) continue;
    if (!version.imports.includes(library.importName)) continue;
    if (chosen.some((c) => c.importName === library.importName)) continue;
    chosen.push(library);
  }
  return chosen;
}

/**
 * How a run picks a library version for each import:
 * - test: a listed version, else the library's published version, else its latest (a library that
 *   was never published can still be tried out);
 * - publish: a listed version, else the published one; an import with neither cannot be published,
 *   because the runtime links published versions only.
 */
export type LinkMode = 'test' | 'publish';

export type LinkResult = { ok: true; libraries: LibrarySource[]; versionIds: string[] } | { ok: false; code: string; message: string; imports: string[] };

interface LiveLibrary {
  importName: string;
  published: LibraryVersion | undefined;
  latest: LibraryVersion;
}

/** Resolves import names to library versions for one request, fetching each library once. */
export class LibraryLinker {
  private readonly live = new Map<string, LiveLibrary | null>();
  private readonly listedByImport: Map<string, LibraryVersion>;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly workspaceId: string,
    listed: LibraryVersion[],
    private readonly mode: LinkMode,
  ) {
    this.listedByImport = new Map(listed.map((version) => [version.importName, version]));
  }

  /** Links the imports of code in `language`: every library linked must be in that language too. */
  async link(imports: string[], language: string): Promise<LinkResult> {
    await this.load(imports.filter((name) => !this.listedByImport.has(name)));
    const libraries: LibrarySource[] = [];
    const missing: string[] = [];
    const unpublished: string[] = [];
    const otherLanguage: { importName: string; language: string }[] = [];
    for (const importName of imports) {
      const listed = this.listedByImport.get(importName);
      const live = this.live.get(importName);
      // A library's language never changes, so its latest version's is the library's.
      const libraryLanguage = listed?.language ?? live?.latest.language;
      if (libraryLanguage !== undefined && libraryLanguage !== language) {
        otherLanguage.push({ importName, language: libraryLanguage });
        continue;
      }
      const version = listed ?? live?.published ?? (this.mode === 'test' ? live?.latest : undefined);
      if (version) libraries.push({ versionId: version.versionId, importName, code: version.code, name: version.name });
      else if (live) unpublished.push(importName);
      else missing.push(importName);
    }
    if (missing.length > 0) return { ok: false, code: 'unknown_import', message: unknownImportsMessage(missing), imports: missing };
    if (otherLanguage.length > 0) {
      return { ok: false, code: 'library_language_mismatch', message: languageMismatchMessage(otherLanguage, language), imports: otherLanguage.map((entry) => entry.importName) };
    }
    if (unpublished.length > 0) {
      const them = unpublished.length === 1 ? 'it' : 'them';
      return { ok: false, code: 'unpublished_import', message: `${unpublishedImportsMessage(unpublished)}; publish ${them} in the same request (list the version under "libraries")`, imports: unpublished };
    }
    return { ok: true, libraries, versionIds: libraries.map((library) => library.versionId) };
  }

  private async load(importNames: string[]): Promise<void> {
    const wanted = [...new Set(importNames)].filter((name) => !this.live.has(name));
    if (wanted.length === 0) return;
    const rows = await this.db
      .selectFrom('libraries')
      .select(['import_name', 'latest_version_id', 'published_version_id'])
      .where('workspace_id', '=', this.workspaceId)
      .where('deleted_at', 'is', null)
      .where('import_name', 'in', wanted)
      .execute();
    const versionIds = rows.flatMap((row) => (row.published_version_id ? [row.latest_version_id, row.published_version_id] : [row.latest_version_id]));
    const versions = new Map(
      versionIds.length === 0
        ? []
        : (await this.db.selectFrom('library_versions').selectAll().where('id', 'in', [...new Set(versionIds)]).execute()).map((row) => [row.id, toLibraryVersion(row)] as const),
    );
    for (const name of wanted) this.live.set(name, null);
    for (const row of rows) {
      const latest = versions.get(row.latest_version_id);
      if (!latest) continue;
      this.live.set(row.import_name, { importName: row.import_name, latest, published: row.published_version_id ? versions.get(row.published_version_id) : undefined });
    }
  }
}

/** Why imports of no live library cannot link. */
export function unknownImportsMessage(names: string[]): string {
  return `the code imports ${quoteList(names)}, which ${names.length === 1 ? 'is not a library' : 'are not libraries'} of this workspace`;
}

/** Why imports of libraries in another language than the code cannot link. */
export function languageMismatchMessage(libraries: { importName: string; language: string }[], language: string): string {
  const described = libraries.map((library) => `"${library.importName}" (${library.language})`);
  const list = described.length <= 1 ? (described[0] ?? '') : `${described.slice(0, -1).join(', ')} and ${described[described.length - 1]}`;
  return `the code is ${language} but imports ${list}: a transformation can import only libraries in its own language`;
}

/** Why imports of never-published libraries cannot be published. */
export function unpublishedImportsMessage(names: string[]): string {
  return `the code imports ${quoteList(names)}, which ${names.length === 1 ? 'has' : 'have'} no published version`;
}

export function quoteList(names: string[]): string {
  const quoted = names.map((name) => `"${name}"`);
  return quoted.length <= 1 ? (quoted[0] ?? '') : `${quoted.slice(0, -1).join(', ')} and ${quoted[quoted.length - 1]}`;
}
