// Publish: run the tests of every listed version and, only if all pass, move every pointer in one
// transaction, or none. Publishing an older version id is how a rollback is done.

import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../../store/schema.js';
import { recordAudit, versionLabel, type Actor } from '../audit.js';
import { supersedeCanary } from '../release/canary.js';
import type { Store } from '../../store/db.js';
import type { CatalogContext } from '../code-checks.js';
import { invalid, notFound } from '../errors.js';
import { lockImportedLibraries } from '../libraries.js';
import { announceServedConfigChange } from '../served-config.js';
import type { TestRequest } from './listed-versions.js';
import { compatFailure, failureMessage } from './test-answers.js';
import { assertSomethingListed, runTests } from './version-tests.js';

/**
 * Tests every listed transformation version (against the listed library versions, else the
 * published ones) and, when all pass, publishes every listed version in one transaction.
 */
export async function publishVersions(ctx: CatalogContext, workspaceId: string, actor: Actor, request: TestRequest): Promise<void> {
  assertSomethingListed(request, 'publish');
  const report = await runTests(ctx, workspaceId, request, 'publish');
  const failed = report.transformations.filter((t) => !t.pass);
  if (failed.length > 0) {
    const names = failed.map((t) => `"${t.name}"`).join(', ');
    throw invalid('test_failed', `nothing was published: ${failed.length} of ${report.transformations.length} transformation${report.transformations.length === 1 ? '' : 's'} failed ${failed.length === 1 ? 'its' : 'their'} tests (${names}): ${failureMessage(failed[0]!)}`, {
      failedTestResults: failed.map(compatFailure),
    });
  }

  const commit = request.commitId ? `; commit ${request.commitId.slice(0, 100)}` : '';
  // Fixed lock order (libraries, then transformations, each by id) so concurrent publishes cannot deadlock.
  const libraries = [...new Map(report.libraries.map((l) => [l.id, l])).values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  const transformations = [...new Map(report.transformations.map((t) => [t.transformationId, t])).values()].sort((a, b) => (a.transformationId < b.transformationId ? -1 : 1));
  const importsByLanguage = (request.transformations ?? []).length === 0 ? new Map<string, string[]>() : await importsOf(ctx.store.db, transformations.map((t) => t.versionId));

  await ctx.store.db.transaction().execute(async (trx) => {
    // A publish or rollback reaches rudder-server through its next /workspaceConfig poll. First, so
    // that every transaction takes the configuration's row lock before catalog rows (no deadlocks).
    await announceServedConfigChange(trx, ctx.store, workspaceId);
    const move = (kind: 'library' | 'transformation', id: string, versionId: string) => movePublishedPointer(trx, ctx.store, workspaceId, actor, kind, id, versionId, commit);
    for (const library of libraries) await move('library', library.id, library.versionId);
    for (const transformation of transformations) await move('transformation', transformation.transformationId, transformation.versionId);
    // What was tested must still hold at commit: every import is a live library with a published
    // version, in the language of the code that imports it.
    for (const [language, imports] of importsByLanguage) await lockImportedLibraries(trx, ctx.store.dialect, workspaceId, imports, { requirePublished: true, language });
  });
  ctx.onServedConfigChange?.(workspaceId);
}

/** Points a live library or transformation of the workspace at `versionId`, with its audit entry. */
async function movePublishedPointer(trx: Transaction<Database>, store: Store, workspaceId: string, actor: Actor, kind: 'library' | 'transformation', id: string, versionId: string, commit: string): Promise<void> {
  const table = kind === 'library' ? 'libraries' : 'transformations';
  const versions = kind === 'library' ? 'library_versions' : 'transformation_versions';
  const before = await trx.selectFrom(table).select('published_version_id').where('id', '=', id).where('workspace_id', '=', workspaceId).executeTakeFirst();
  const seqs = new Map(
    (await trx.selectFrom(versions).select(['id', 'seq']).where('id', 'in', [versionId, ...(before?.published_version_id ? [before.published_version_id] : [])]).execute()).map((v) => [v.id, v.seq] as const),
  );
  const seq = seqs.get(versionId) ?? 0;
  const publishedSeq = before?.published_version_id ? seqs.get(before.published_version_id) : undefined;
  // Publishing a version older than the published one is how a rollback is done: the log says which.
  const action = publishedSeq !== undefined && seq < publishedSeq ? 'rollback' : 'publish';
  const moved = await trx
    .updateTable(table)
    .set({ published_version_id: versionId })
    .where('id', '=', id)
    .where('workspace_id', '=', workspaceId)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  if (Number(moved.numUpdatedRows) === 0) throw notFound(kind);
  await recordAudit(trx, workspaceId, actor, { action: `${kind}.${action}`, target: id, reason: `${versionLabel(seq, versionId)}${publishedSeq !== undefined && action === 'rollback' ? ` (was version ${publishedSeq})` : ''}${commit}` });
  if (kind === 'transformation') await supersedeCanary(trx, store, workspaceId, actor, id, `version ${seq} (${versionId}) was published`, versionId);
}

/** The distinct imports of the versions, by the language of the code importing them. */
async function importsOf(db: Kysely<Database>, versionIds: string[]): Promise<Map<string, string[]>> {
  const byLanguage = new Map<string, Set<string>>();
  if (versionIds.length === 0) return new Map();
  const rows = await db.selectFrom('transformation_versions').select(['imports', 'language']).where('id', 'in', versionIds).execute();
  for (const row of rows) {
    const names = byLanguage.get(row.language) ?? new Set<string>();
    for (const name of JSON.parse(row.imports) as string[]) names.add(name);
    byLanguage.set(row.language, names);
  }
  return new Map([...byLanguage].map(([language, names]) => [language, [...names]]));
}
