// The inline test (POST /transformations/test): unsaved code run on events; nothing is stored.

import { createHash } from 'node:crypto';
import { checkTransformationCode, type CatalogContext } from '../code-checks.js';
import { invalid } from '../errors.js';
import { LibraryLinker } from '../serving/linking.js';
import { credentialsForRun, runForDeveloper, secretsAllowed, type DeveloperRunAnswer, type RequestCredential } from '../serving/run-events.js';
import { loadListedVersions } from './listed-versions.js';
import { sampleEvents } from './test-runs.js';

export interface InlineTestInput {
  code: string;
  /** Library version ids to link; other imports use the published (else latest) version. */
  libraries?: (string | { versionId: string })[] | undefined;
  events?: unknown[] | undefined;
  metadata?: unknown[] | undefined;
  /** Shown in error frames: `at transformEvent (<name>:3:11)` (default "transformation"). */
  name?: string | undefined;
  /** Credentials of this run, over the workspace's own. */
  credentials?: readonly RequestCredential[] | undefined;
}

/**
 * Runs unsaved code on events (`POST /transformations/test`); nothing is stored. Answers like the
 * run endpoints: per-event outcomes, and a 400 with the error code and logs when the whole batch
 * failed (a limit, a throw in transformBatch, ...).
 */
export async function testInlineCode(ctx: CatalogContext, workspaceId: string, input: InlineTestInput, caller: { mayWrite: boolean }): Promise<DeveloperRunAnswer> {
  const events = input.events ?? sampleEvents();
  if (input.metadata !== undefined && input.metadata.length > events.length) {
    throw invalid('invalid_field', `metadata has ${input.metadata.length} entries but there are only ${events.length} events`, { field: 'metadata' });
  }
  const imports = await checkTransformationCode(ctx, input.code);
  const versionIds = (input.libraries ?? []).map((entry) => (typeof entry === 'string' ? entry : entry.versionId));
  const loaded = await loadListedVersions(ctx.store.db, workspaceId, { libraries: versionIds.map((versionId) => ({ versionId })) }, { publishing: false });
  const link = await new LibraryLinker(ctx.store.db, workspaceId, loaded.libraries, 'test').link(imports);
  if (!link.ok) throw invalid(link.code, link.message, { field: 'code', imports: link.imports });

  // The same code of one workspace reuses its warm sandbox; workspaces never share one.
  const versionId = 'inline-' + createHash('sha256').update(workspaceId).update('\0').update(input.code).update('\0').update(link.versionIds.join(',')).digest('hex').slice(0, 40);
  // The caller's own code: the workspace's secrets only for a caller who may change the workspace.
  const credentials = await credentialsForRun(ctx.credentials, workspaceId, input.credentials, secretsAllowed(caller.mayWrite, true, true));
  return runForDeveloper(ctx.runtime, {
    workspaceId,
    transformation: { versionId, code: input.code, inline: true, ...(input.name !== undefined ? { name: input.name } : {}) },
    libraries: link.libraries,
    events,
    ...(input.metadata !== undefined ? { metadata: input.metadata } : {}),
    ...(credentials ? { credentials } : {}),
  });
}
