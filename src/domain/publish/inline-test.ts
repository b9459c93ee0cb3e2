// The inline test (POST /transformations/test): unsaved code, in JavaScript or Python, run on
// events; nothing is stored.

import { createHash } from 'node:crypto';
import type { RuntimeLanguage } from '../../runtime/types.js';
import { assertLanguage, checkLibraryCode, checkTransformationCode, DEFAULT_LANGUAGE, runtimeLanguage, type CatalogContext } from '../code-checks.js';
import { DomainError, invalid } from '../errors.js';
import { importNameOf } from '../import-name.js';
import type { LibraryVersion } from '../versions.js';
import { LibraryLinker } from '../serving/linking.js';
import { credentialsForRun, runForDeveloper, secretsAllowed, type DeveloperRunAnswer, type RequestCredential } from '../serving/run-events.js';
import { loadListedVersions } from './listed-versions.js';
import { sampleEvents } from './test-runs.js';

/** Unsaved library code, linked by its import name (given, else derived from the name). */
export interface InlineLibrary {
  name: string;
  code: string;
  importName?: string | undefined;
}

export interface InlineTestInput {
  code: string;
  /** javascript (default) or pythonfaas (alias python); unsaved libraries are in the same language. */
  language?: string | undefined;
  /**
   * Libraries to link: saved version ids, or unsaved code (which wins over a saved version of the
   * same import name). Other imports use the published (else latest) version.
   */
  libraries?: (string | { versionId: string } | InlineLibrary)[] | undefined;
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
  const language = assertLanguage(input.language);
  const listed = input.libraries ?? [];
  const versionIds = listed.flatMap((entry) => (typeof entry === 'string' ? [entry] : 'versionId' in entry ? [entry.versionId] : []));
  // Every unsaved library is checked, imported or not, so one call can vet a whole project; an
  // error names its place in the request's list.
  const unsaved = await Promise.all(listed.flatMap((entry, i) => (typeof entry !== 'string' && 'code' in entry ? [inlineLibraryVersion(ctx, workspaceId, entry, i, language)] : [])));
  const imports = await checkTransformationCode(ctx, input.code, language);
  const loaded = await loadListedVersions(ctx.store.db, workspaceId, { libraries: versionIds.map((versionId) => ({ versionId })) }, { publishing: false });
  const byImport = new Map(loaded.libraries.map((version) => [version.importName, version]));
  for (const version of unsaved) byImport.set(version.importName, version);
  const link = await new LibraryLinker(ctx.store.db, workspaceId, [...byImport.values()], 'test').link(imports, language);
  if (!link.ok) throw invalid(link.code, link.message, { field: 'code', imports: link.imports });

  // The same code of one workspace reuses its warm sandbox; workspaces never share one.
  // The language is part of the key (JavaScript's keys are as they always were).
  const versionId = 'inline-' + createHash('sha256').update(workspaceId).update('\0').update(input.code).update('\0').update(link.versionIds.join(',')).update(languageKey(language)).digest('hex').slice(0, 40);
  // The caller's own code: the workspace's secrets only for a caller who may change the workspace.
  const credentials = await credentialsForRun(ctx.credentials, workspaceId, input.credentials, secretsAllowed(caller.mayWrite, true, true));
  return runForDeveloper(ctx.runtime, {
    workspaceId,
    transformation: { versionId, code: input.code, inline: true, ...runtimeLanguage(language), ...(input.name !== undefined ? { name: input.name } : {}) },
    libraries: link.libraries,
    events,
    ...(input.metadata !== undefined ? { metadata: input.metadata } : {}),
    ...(credentials ? { credentials } : {}),
  });
}

/** Checks unsaved library code and gives it a version id of its own (its code's digest). */
async function inlineLibraryVersion(ctx: CatalogContext, workspaceId: string, library: InlineLibrary, index: number, language: RuntimeLanguage): Promise<LibraryVersion> {
  const field = `libraries[${index}].code`;
  try {
    await checkLibraryCode(ctx, library.code, language);
  } catch (error) {
    // Name the library, so a caller with many can point at the right file.
    if (error instanceof DomainError && error.kind === 'invalid') throw invalid(error.code, `library "${library.name}": ${error.message}`, { ...error.details, field, library: library.name });
    throw error;
  }
  const importName = library.importName ?? importNameOf(library.name);
  const digest = createHash('sha256').update(workspaceId).update('\0').update(importName).update('\0').update(library.code).update(languageKey(language)).digest('hex').slice(0, 40);
  return { versionId: `inline-lib-${digest}`, libraryId: `inline-lib-${digest}`, workspaceId, seq: 0, name: library.name, importName, description: '', code: library.code, language, createdAt: new Date().toISOString() };
}

/** What a language adds to an inline id's digest: nothing for JavaScript, so its ids stay as they were. */
function languageKey(language: RuntimeLanguage): string {
  return language === DEFAULT_LANGUAGE ? '' : `\0${language}`;
}
