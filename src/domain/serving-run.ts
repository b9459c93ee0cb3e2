import type { Kysely } from 'kysely';
import { RunError, type LibrarySource, type RunOutput, type Runtime } from '../runtime/types.js';
import type { Database } from '../store/schema.js';
import { DomainError, conflict, invalid, notFound, runFailureOf } from './errors.js';
import { librariesForRun, type VersionResolver } from './serving.js';
import { publishedLibraryVersions, publishedTransformationVersion, type TransformationVersion } from './versions.js';

// The run endpoints (POST /transformations/{id}/run and .../versions/{versionId}/run): run stored
// code on events a developer sends, with logs, scoped to the caller's workspace.

/**
 * The version a run executes: the named one (which must belong to `transformationId`), or the
 * transformation's published version.
 */
export async function resolveRunVersion(
  db: Kysely<Database>,
  resolver: VersionResolver,
  workspaceId: string,
  transformationId: string,
  versionId?: string,
): Promise<TransformationVersion> {
  if (versionId !== undefined) {
    const version = await resolver.transformation(versionId);
    if (!version || version.workspaceId !== workspaceId || version.transformationId !== transformationId) throw notFound('transformation version');
    return version;
  }
  const published = await publishedTransformationVersion(db, workspaceId, transformationId);
  if (published) return published;
  const live = await db
    .selectFrom('transformations')
    .select('id')
    .where('id', '=', transformationId)
    .where('workspace_id', '=', workspaceId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  if (!live) throw notFound('transformation');
  throw conflict('not_published', 'the transformation has no published version; publish one, or run a version by id at /transformations/{id}/versions/{versionId}/run');
}

/**
 * Libraries for a developer run: the listed versions when given (each must exist in the workspace),
 * else the workspace's published ones. Only those the code imports are linked.
 */
export async function librariesForManualRun(
  db: Kysely<Database>,
  resolver: VersionResolver,
  version: TransformationVersion,
  listed: readonly string[] | undefined,
): Promise<LibrarySource[]> {
  if (listed !== undefined) {
    const found = await resolver.libraryVersions(listed);
    for (const id of listed) {
      const library = found.get(id);
      if (!library || library.workspaceId !== version.workspaceId) throw new DomainError('not_found', 'not_found', `library version ${id} not found`);
    }
    return librariesForRun(version, listed.map((id) => found.get(id)!));
  }
  if (version.imports.length === 0) return [];
  return librariesForRun(version, await publishedLibraryVersions(db, version.workspaceId));
}

export async function runVersion(
  runtime: Runtime,
  version: TransformationVersion,
  libraries: LibrarySource[],
  events: unknown[],
  metadata: unknown[] | undefined,
): Promise<RunOutput> {
  if (metadata !== undefined && metadata.length > events.length) {
    throw invalid('invalid_field', 'metadata must not have more entries than events', { field: 'metadata' });
  }
  try {
    return await runtime.run({
      workspaceId: version.workspaceId,
      transformation: { versionId: version.versionId, code: version.code, codeVersion: version.codeVersion },
      libraries,
      events,
      ...(metadata !== undefined ? { metadata } : {}),
      captureLogs: true,
    });
  } catch (error) {
    if (error instanceof RunError) throw runFailureOf(error);
    throw error;
  }
}
