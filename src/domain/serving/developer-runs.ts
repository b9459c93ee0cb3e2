import type { Kysely } from 'kysely';
import type { LibrarySource, Runtime } from '../../runtime/types.js';
import type { Database } from '../../store/schema.js';
import { DomainError, conflict, invalid, notFound } from '../errors.js';
import { runtimeLanguage } from '../code-checks.js';
import { publishedLibraryVersions, publishedTransformationVersion, type TransformationVersion } from '../versions.js';
import { librariesForRun } from './linking.js';
import { credentialsForRun, runForDeveloper, secretsAllowed, type CredentialSource, type DeveloperRunAnswer, type RequestCredential } from './run-events.js';
import type { VersionResolver } from './version-resolver.js';

// The run endpoints (POST /transformations/{id}/run and .../versions/{versionId}/run): run stored
// code on events a developer sends, with logs, scoped to the caller's workspace.

export interface DeveloperRunDeps {
  db: Kysely<Database>;
  runtime: Runtime;
  resolver: VersionResolver;
  credentials?: CredentialSource | undefined;
}

export interface DeveloperRunRequest {
  workspaceId: string;
  transformationId: string;
  /** The version to run; the transformation's published version when absent. */
  versionId?: string | undefined;
  events: unknown[];
  metadata?: unknown[] | undefined;
  /** Library versions to link instead of the workspace's published ones. */
  libraryVersionIds?: readonly string[] | undefined;
  /** Credentials of this run, over the workspace's own (same key: the request's wins). */
  credentials?: readonly RequestCredential[] | undefined;
  /** Whether the caller may change the workspace (see secretsAllowed). */
  callerMayWrite: boolean;
}

/** Runs a stored version on the request's events and answers every outcome with the logs. */
export async function runStoredVersion(deps: DeveloperRunDeps, request: DeveloperRunRequest): Promise<DeveloperRunAnswer> {
  const { events, metadata } = request;
  const version = await resolveRunVersion(deps, request.workspaceId, request.transformationId, request.versionId);
  const libraries = await librariesForDeveloperRun(deps, version, request.libraryVersionIds);
  if (metadata !== undefined && metadata.length > events.length) {
    throw invalid('invalid_field', 'metadata must not have more entries than events', { field: 'metadata' });
  }
  const ownCredentials = (request.credentials?.length ?? 0) > 0;
  const credentials = await credentialsForRun(deps.credentials, version.workspaceId, request.credentials, secretsAllowed(request.callerMayWrite, false, ownCredentials));
  return runForDeveloper(deps.runtime, {
    workspaceId: version.workspaceId,
    transformation: { versionId: version.versionId, code: version.code, codeVersion: version.codeVersion, name: version.name, ...runtimeLanguage(version.language) },
    libraries,
    events,
    ...(metadata !== undefined ? { metadata } : {}),
    ...(credentials ? { credentials } : {}),
  });
}

/**
 * The version a run executes: the named one (which must belong to `transformationId`), or the
 * transformation's published version.
 */
async function resolveRunVersion(deps: DeveloperRunDeps, workspaceId: string, transformationId: string, versionId: string | undefined): Promise<TransformationVersion> {
  if (versionId !== undefined) {
    const version = await deps.resolver.transformation(versionId);
    if (!version || version.workspaceId !== workspaceId || version.transformationId !== transformationId) throw notFound('transformation version');
    return version;
  }
  const published = await publishedTransformationVersion(deps.db, workspaceId, transformationId);
  if (published) return published;
  const live = await deps.db
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
async function librariesForDeveloperRun(deps: DeveloperRunDeps, version: TransformationVersion, listed: readonly string[] | undefined): Promise<LibrarySource[]> {
  if (listed !== undefined) {
    const found = await deps.resolver.libraryVersions(listed);
    for (const id of listed) {
      const library = found.get(id);
      if (!library || library.workspaceId !== version.workspaceId) throw new DomainError('not_found', 'not_found', `library version ${id} not found`);
    }
    return librariesForRun(version, listed.map((id) => found.get(id)!));
  }
  if (version.imports.length === 0) return [];
  return librariesForRun(version, await publishedLibraryVersions(deps.db, version.workspaceId));
}
