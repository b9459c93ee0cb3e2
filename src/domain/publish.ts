// Test and publish. Every call names transformation versions (each with optional test input or a
// test suite) and library versions. Tests run each transformation version on its cases against the
// listed library versions, else the workspace's published ones; nothing is saved. Publish runs the
// same tests and, only if all pass, moves every pointer in one transaction, or none. Publishing
// an older version id is how a rollback is done.

import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import { recordAudit, type Actor } from './audit.js';
import { checkTransformationCode, type CatalogContext } from './code-checks.js';
import { DomainError, invalid, notFound } from './errors.js';
import { lockImportedLibraries } from './libraries.js';
import { LibraryLinker, describeFailure, jsonEqual, linkFailure, runBatch, sampleEvents, type BatchRun, type EventError, type LinkMode } from './test-runs.js';
import { toLibraryVersion, toTransformationVersion, type LibraryVersion, type TransformationVersion } from './versions.js';

export interface TestCaseInput {
  id?: string | number | undefined;
  name?: string | undefined;
  description?: string | undefined;
  input: unknown[];
  expectedOutput?: unknown[] | undefined;
}

export interface TransformationTestInput {
  versionId: string;
  testInput?: unknown[] | undefined;
  testSuite?: TestCaseInput[] | undefined;
}

export interface TestRequest {
  transformations?: TransformationTestInput[] | undefined;
  libraries?: { versionId: string }[] | undefined;
  commitId?: string | null | undefined;
}

export interface CaseReport {
  id: string | number;
  name: string;
  description?: string | undefined;
  input: unknown[];
  expectedOutput?: unknown[] | undefined;
  pass: boolean;
  /** True when the code ran cleanly but its output differs from expectedOutput. */
  mismatch: boolean;
  run: BatchRun;
}

export interface TransformationReport {
  transformationId: string;
  name: string;
  versionId: string;
  pass: boolean;
  cases: CaseReport[];
  /** Library versions the run linked (empty when linking failed). */
  libraryVersionIds: string[];
}

export interface LibraryReport {
  id: string;
  name: string;
  handleName: string;
  versionId: string;
  pass: boolean;
}

export interface TestReport {
  pass: boolean;
  transformations: TransformationReport[];
  libraries: LibraryReport[];
}

interface LoadedTransformation {
  request: TransformationTestInput;
  version: TransformationVersion;
}

/** At most this many transformations of one call run at once (the runtime queues the rest anyway). */
const PARALLEL_TRANSFORMATIONS = 4;

function unknownVersions(kind: 'transformation' | 'library', ids: string[]): DomainError {
  return new DomainError('not_found', 'not_found', `${kind} version${ids.length === 1 ? '' : 's'} ${ids.map((id) => `"${id}"`).join(', ')} not found`, {
    [kind === 'transformation' ? 'transformationVersionIds' : 'libraryVersionIds']: ids,
  });
}

/**
 * Loads the listed versions of live transformations and libraries in the workspace. An id that is
 * unknown, of another workspace, or of a deleted transformation or library answers 404 naming it.
 */
async function loadRequest(db: Kysely<Database>, workspaceId: string, request: TestRequest, options: { publishing: boolean }): Promise<{ transformations: LoadedTransformation[]; libraries: LibraryVersion[] }> {
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

/** The cases a transformation runs: its testInput, then its test suite; the sample event when neither is given. */
function casesOf(request: TransformationTestInput): Omit<CaseReport, 'pass' | 'mismatch' | 'run'>[] {
  const cases: Omit<CaseReport, 'pass' | 'mismatch' | 'run'>[] = [];
  if (request.testInput !== undefined) cases.push({ id: 'testInput', name: 'testInput', input: request.testInput });
  (request.testSuite ?? []).forEach((testCase, index) => {
    cases.push({
      id: testCase.id ?? String(index + 1),
      name: testCase.name ?? `case ${index + 1}`,
      ...(testCase.description !== undefined ? { description: testCase.description } : {}),
      input: testCase.input,
      ...(testCase.expectedOutput !== undefined ? { expectedOutput: testCase.expectedOutput } : {}),
    });
  });
  if (cases.length === 0) cases.push({ id: 'sample', name: 'Sample track event', input: sampleEvents() });
  return cases;
}

async function mapLimit<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

async function testTransformation(ctx: CatalogContext, workspaceId: string, linker: LibraryLinker, loaded: LoadedTransformation): Promise<TransformationReport> {
  const { version, request } = loaded;
  const link = await linker.link(version.imports);
  const cases: CaseReport[] = [];
  for (const testCase of casesOf(request)) {
    const run = link.ok ? await runBatch(ctx, workspaceId, { versionId: version.versionId, code: version.code }, link.libraries, testCase.input) : linkFailure(link);
    const mismatch = run.ok && testCase.expectedOutput !== undefined && !jsonEqual(run.outputs, testCase.expectedOutput);
    cases.push({ ...testCase, run, mismatch, pass: run.ok && !mismatch });
  }
  return {
    transformationId: version.transformationId,
    name: version.name,
    versionId: version.versionId,
    pass: cases.every((c) => c.pass),
    cases,
    libraryVersionIds: link.ok ? link.versionIds : [],
  };
}

async function runTests(ctx: CatalogContext, workspaceId: string, request: TestRequest, mode: LinkMode): Promise<TestReport> {
  const loaded = await loadRequest(ctx.store.db, workspaceId, request, { publishing: mode === 'publish' });
  const linker = new LibraryLinker(ctx.store.db, workspaceId, loaded.libraries, mode);
  const transformations = await mapLimit(loaded.transformations, PARALLEL_TRANSFORMATIONS, (item) => testTransformation(ctx, workspaceId, linker, item));
  // A listed library passes when every tested transformation that linked it passed.
  const libraries = loaded.libraries.map((library) => ({
    id: library.libraryId,
    name: library.name,
    handleName: library.importName,
    versionId: library.versionId,
    pass: transformations.every((t) => t.pass || !t.libraryVersionIds.includes(library.versionId)),
  }));
  return { pass: transformations.every((t) => t.pass) && libraries.every((l) => l.pass), transformations, libraries };
}

function assertSomethingListed(request: TestRequest, verb: string): void {
  if ((request.transformations ?? []).length === 0 && (request.libraries ?? []).length === 0) {
    throw invalid('nothing_to_' + verb, `list at least one transformation or library version to ${verb}`, { field: 'transformations' });
  }
}

/** Runs the tests of `POST /transformations/libraries/test` and `POST /transformations/tests/run`. */
export async function testVersions(ctx: CatalogContext, workspaceId: string, request: TestRequest): Promise<TestReport> {
  assertSomethingListed(request, 'test');
  return runTests(ctx, workspaceId, request, 'test');
}

// ---------- answer shapes ----------

/** Input indexes into the concatenation of all case inputs. */
function concatenatedDropped(report: TransformationReport): number[] {
  const dropped: number[] = [];
  let offset = 0;
  for (const c of report.cases) {
    for (const index of c.run.dropped) dropped.push(offset + index);
    offset += c.input.length;
  }
  return dropped;
}

function failureMessage(report: TransformationReport): string {
  const failed = report.cases.find((c) => !c.pass);
  if (!failed) return 'the test failed';
  const prefix = report.cases.length > 1 ? `${failed.name}: ` : '';
  if (failed.mismatch) return `${prefix}the output does not match expectedOutput`;
  return prefix + describeFailure(failed.run);
}

export interface CompatFailure {
  id: string;
  name: string;
  transformerVersionID: string;
  result: { message: string; errors: (EventError & { caseId: string | number })[]; logs: string[]; output: { transformedEvents: unknown[] } };
}

function compatFailure(report: TransformationReport): CompatFailure {
  return {
    id: report.transformationId,
    name: report.name,
    transformerVersionID: report.versionId,
    result: {
      message: failureMessage(report),
      errors: report.cases.flatMap((c) => [
        ...c.run.errors.map((error) => ({ caseId: c.id, ...error })),
        ...(c.mismatch ? [{ caseId: c.id, code: 'output_mismatch', message: `the output of ${c.name} does not match its expectedOutput` }] : []),
      ]),
      logs: report.cases.flatMap((c) => c.run.logs),
      output: { transformedEvents: report.cases.flatMap((c) => c.run.outputs) },
    },
  };
}

/** The compat answer of `POST /transformations/libraries/test`. */
export function compatTestResult(report: TestReport) {
  return {
    result: {
      successTestResults: report.transformations
        .filter((t) => t.pass)
        .map((t) => ({
          transformerVersionID: t.versionId,
          id: t.transformationId,
          name: t.name,
          result: { output: { transformedEvents: t.cases.flatMap((c) => c.run.outputs), dropped: concatenatedDropped(t) }, logs: t.cases.flatMap((c) => c.run.logs) },
        })),
      failedTestResults: report.transformations.filter((t) => !t.pass).map(compatFailure),
    },
  };
}

/** The answer of `POST /transformations/tests/run`. */
export function testSuiteResult(report: TestReport) {
  return {
    pass: report.pass,
    validationOutput: {
      transformations: report.transformations.map((t) => ({
        id: t.transformationId,
        name: t.name,
        versionId: t.versionId,
        pass: t.pass,
        testResult: {
          status: t.pass ? ('passed' as const) : ('failed' as const),
          results: t.cases.map((c) => ({
            id: c.id,
            name: c.name,
            status: c.pass ? ('passed' as const) : ('failed' as const),
            actualOutput: c.run.outputs,
            ...(c.expectedOutput !== undefined ? { expectedOutput: c.expectedOutput } : {}),
            ...(c.run.errors.length > 0 || c.mismatch
              ? { errors: [...c.run.errors, ...(c.mismatch ? [{ code: 'output_mismatch', message: 'the output does not match expectedOutput' }] : [])] }
              : {}),
            dropped: c.run.dropped,
            logs: c.run.logs,
          })),
        },
      })),
      libraries: report.libraries,
    },
  };
}

// ---------- publish ----------

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
  const imports = [...new Set((request.transformations ?? []).length === 0 ? [] : await importsOf(ctx.store.db, transformations.map((t) => t.versionId)))];

  await ctx.store.db.transaction().execute(async (trx) => {
    for (const library of libraries) {
      const moved = await trx
        .updateTable('libraries')
        .set({ published_version_id: library.versionId })
        .where('id', '=', library.id)
        .where('workspace_id', '=', workspaceId)
        .where('deleted_at', 'is', null)
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) === 0) throw notFound('library');
      await recordAudit(trx, workspaceId, actor, { action: 'library.publish', target: library.id, reason: `version ${library.versionId}${commit}` });
    }
    for (const transformation of transformations) {
      const moved = await trx
        .updateTable('transformations')
        .set({ published_version_id: transformation.versionId })
        .where('id', '=', transformation.transformationId)
        .where('workspace_id', '=', workspaceId)
        .where('deleted_at', 'is', null)
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) === 0) throw notFound('transformation');
      await recordAudit(trx, workspaceId, actor, { action: 'transformation.publish', target: transformation.transformationId, reason: `version ${transformation.versionId}${commit}` });
    }
    // What was tested must still hold at commit: every import is a live library with a published version.
    await lockImportedLibraries(trx, ctx.store.dialect, workspaceId, imports, { requirePublished: true });
  });
}

async function importsOf(db: Kysely<Database>, versionIds: string[]): Promise<string[]> {
  if (versionIds.length === 0) return [];
  const rows = await db.selectFrom('transformation_versions').select('imports').where('id', 'in', versionIds).execute();
  return rows.flatMap((row) => JSON.parse(row.imports) as string[]);
}

// ---------- inline test ----------

export interface InlineTestInput {
  code: string;
  /** Library version ids to link; other imports use the published (else latest) version. */
  libraries?: (string | { versionId: string })[] | undefined;
  events?: unknown[] | undefined;
  metadata?: unknown[] | undefined;
}

export type InlineOutcome = { index: number; statusCode: 200; output: unknown } | { index: number; statusCode: 400; error: string };

export interface InlineTestResult {
  results: InlineOutcome[];
  dropped: number[];
  logs: string[];
}

/**
 * Runs unsaved code on events (`POST /transformations/test`); nothing is stored. Answers like the
 * run endpoints: per-event outcomes, and a 400 with the error code and logs when the whole batch
 * failed (a limit, a throw in transformBatch, ...).
 */
export async function testInlineCode(ctx: CatalogContext, workspaceId: string, input: InlineTestInput): Promise<InlineTestResult> {
  const events = input.events ?? sampleEvents();
  if (input.metadata !== undefined && input.metadata.length > events.length) {
    throw invalid('invalid_field', `metadata has ${input.metadata.length} entries but there are only ${events.length} events`, { field: 'metadata' });
  }
  const imports = await checkTransformationCode(ctx, input.code);
  const versionIds = (input.libraries ?? []).map((entry) => (typeof entry === 'string' ? entry : entry.versionId));
  const loaded = await loadRequest(ctx.store.db, workspaceId, { libraries: versionIds.map((versionId) => ({ versionId })) }, { publishing: false });
  const link = await new LibraryLinker(ctx.store.db, workspaceId, loaded.libraries, 'test').link(imports);
  if (!link.ok) throw invalid(link.code, link.message, { field: 'code', imports: link.imports });

  // The same code of one workspace reuses its warm sandbox; workspaces never share one.
  const versionId = 'inline-' + createHash('sha256').update(workspaceId).update('\0').update(input.code).update('\0').update(link.versionIds.join(',')).digest('hex').slice(0, 40);
  const run = await runBatch(ctx, workspaceId, { versionId, code: input.code, inline: true }, link.libraries, events, input.metadata);
  const batchError = run.errors.find((e) => e.index === undefined);
  if (batchError) throw invalid(batchError.code ?? 'batch_error', batchError.message, { logs: run.logs });
  return {
    results: run.results.map((outcome) => (outcome.statusCode === 200 ? { index: outcome.index, statusCode: 200 as const, output: outcome.output } : { index: outcome.index, statusCode: 400 as const, error: outcome.error })),
    dropped: run.dropped,
    logs: run.logs,
  };
}
