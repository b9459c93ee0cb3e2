// Testing listed versions: each transformation version runs its cases (its testInput, its test
// suite, else the sample event) against the listed library versions, else the published ones, and
// is judged against expectedOutput. Nothing is saved; publish runs the same tests first.

import { runtimeLanguage, type CatalogContext } from '../code-checks.js';
import { invalid } from '../errors.js';
import { LibraryLinker, type LinkMode } from '../serving/linking.js';
import { loadListedVersions, type LoadedTransformation, type TestRequest, type TransformationTestInput } from './listed-versions.js';
import { jsonEqual, linkFailure, runBatch, sampleEvents, type BatchRun } from './test-runs.js';

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

/** At most this many transformations of one call run at once (the runtime queues the rest anyway). */
const PARALLEL_TRANSFORMATIONS = 4;

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
  const link = await linker.link(version.imports, version.language);
  const cases: CaseReport[] = [];
  const source = { versionId: version.versionId, code: version.code, name: version.name, ...runtimeLanguage(version.language) };
  for (const testCase of casesOf(request)) {
    const run = link.ok ? await runBatch(ctx, workspaceId, source, link.libraries, testCase.input) : linkFailure(link);
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

export async function runTests(ctx: CatalogContext, workspaceId: string, request: TestRequest, mode: LinkMode): Promise<TestReport> {
  const loaded = await loadListedVersions(ctx.store.db, workspaceId, request, { publishing: mode === 'publish' });
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

export function assertSomethingListed(request: TestRequest, verb: string): void {
  if ((request.transformations ?? []).length === 0 && (request.libraries ?? []).length === 0) {
    throw invalid('nothing_to_' + verb, `list at least one transformation or library version to ${verb}`, { field: 'transformations' });
  }
}

/** Runs the tests of `POST /transformations/libraries/test` and `POST /transformations/tests/run`. */
export async function testVersions(ctx: CatalogContext, workspaceId: string, request: TestRequest): Promise<TestReport> {
  assertSomethingListed(request, 'test');
  return runTests(ctx, workspaceId, request, 'test');
}
