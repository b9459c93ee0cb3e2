// The versions a test, publish or inline-test call lists, loaded in one query per kind and checked:
// every id is a live version of the caller's workspace, at most one version per library, and (for
// publish) at most one per transformation.

import type { Kysely } from 'kysely';
import type { Database } from '../../store/schema.js';
import { DomainError, invalid } from '../errors.js';
import { toLibraryVersion, toTransformationVersion, type LibraryVersion, type TransformationVersion } from '../versions.js';

/** One listed transformation version with the test input the caller gave for it. */
export interface TransformationTestInput {
  versionId: string;
  testInput?: unknown[] | undefined;
  testSuite?: TestCaseInput[] | undefined;
}

export interface TestCaseInput {
  id?: string | number | undefined;
  name?: string | undefined;
  description?: string | undefined;
  input: unknown[];
  expectedOutput?: unknown[] | undefined;
}

/** What a test or publish call lists. */
export interface TestRequest {
  transformations?: TransformationTestInput[] | undefined;
  libraries?: { versionId: string }[] | undefined;
  commitId?: string | null | undefined;
}

export interface LoadedTransformation {
  request: TransformationTestInput;
  version: TransformationVersion;
}

export interface ListedVersions {
  transformations: LoadedTransformation[];
  libraries: LibraryVersion[];
}

function unknownVersions(kind: 'transformation' | 'library', ids: string[]): DomainError {
  return new DomainError('not_found', 'not_found', `${kind} version${ids.length === 1 ? '' : 's'} ${ids.map((id) => `"${id}"`).join(', ')} not found`, {
    [kind === 'transformation' ? 'transformationVersionIds' : 'libraryVersionIds']: ids,
  });
}

/**
 * Loads the listed versions of live transformations and libraries in the workspace. An id that is
 * unknown, of another workspace, or of a deleted transformation or library answers 404 naming it.
 */
export async function loadListedVersions(db: Kysely<Database>, workspaceId: string, request: TestRequest, options: { publishing: boolean }): Promise<ListedVersions> {
  const transformationRequests = request.transformations ?? [];
  const libraryRequests = request.libraries ?? [];

  const transformationIds = [...new Set(transformationRequests.map((t) => t.versionId))];
  const transformationRows =
    transformationIds.length === 0
      ? []
      : await db
          .selectFrom('transformation_versions as v')
          .innerJoin('transformations as t', 't.id', 'v.transformation_id')
          .selectAll('v')
          .where('v.id', 'in', transformationIds)
          .where('v.workspace_id', '=', workspaceId)
          .where('t.deleted_at', 'is', null)
          .execute();
  const versions = new Map(transformationRows.map((row) => [row.id, toTransformationVersion(row)]));
  const missingTransformations = transformationIds.filter((id) => !versions.has(id));
  if (missingTransformations.length > 0) throw unknownVersions('transformation', missingTransformations);

  const libraryIds = [...new Set(libraryRequests.map((l) => l.versionId))];
  const libraryRows =
    libraryIds.length === 0
      ? []
      : await db
          .selectFrom('library_versions as v')
          .innerJoin('libraries as l', 'l.id', 'v.library_id')
          .selectAll('v')
          .where('v.id', 'in', libraryIds)
          .where('v.workspace_id', '=', workspaceId)
          .where('l.deleted_at', 'is', null)
          .execute();
  const libraries = libraryRows.map(toLibraryVersion);
  const foundLibraries = new Set(libraries.map((l) => l.versionId));
  const missingLibraries = libraryIds.filter((id) => !foundLibraries.has(id));
  if (missingLibraries.length > 0) throw unknownVersions('library', missingLibraries);

  // Two versions of one library would make linking ambiguous; two of one transformation make a
  // publish ambiguous (a test may compare them).
  const byLibrary = new Map<string, LibraryVersion>();
  for (const library of libraries) {
    const other = byLibrary.get(library.libraryId);
    if (other) throw invalid('duplicate_library', `libraries lists two versions of library "${library.name}" (${other.versionId} and ${library.versionId}); list one`, { field: 'libraries' });
    byLibrary.set(library.libraryId, library);
  }
  if (options.publishing) {
    const byTransformation = new Map<string, string>();
    for (const id of transformationIds) {
      const version = versions.get(id)!;
      const other = byTransformation.get(version.transformationId);
      if (other) throw invalid('duplicate_transformation', `transformations lists two versions of transformation "${version.name}" (${other} and ${id}); publish one`, { field: 'transformations' });
      byTransformation.set(version.transformationId, id);
    }
  }

  return {
    transformations: transformationRequests.map((requested) => ({ request: requested, version: versions.get(requested.versionId)! })),
    libraries,
  };
}
