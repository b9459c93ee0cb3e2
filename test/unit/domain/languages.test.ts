import { describe, expect, it } from 'vitest';
import { assertLanguage, languageChanges, normalizeLanguage, runtimeLanguage } from '../../../src/domain/code-checks.js';
import { DomainError } from '../../../src/domain/errors.js';
import { createLibrary, deleteLibrary, updateLibrary } from '../../../src/domain/libraries.js';
import { testInlineCode } from '../../../src/domain/publish/inline-test.js';
import { publishVersions } from '../../../src/domain/publish/publish.js';
import { testVersions } from '../../../src/domain/publish/version-tests.js';
import { LibraryLinker, librariesForRun } from '../../../src/domain/serving/linking.js';
import { createTransformation, updateTransformation } from '../../../src/domain/transformations.js';
import type { LibraryVersion, TransformationVersion } from '../../../src/domain/versions.js';
import { actor, useFixture } from './helpers.js';

// Languages in the domain: javascript (the default) and pythonfaas (alias python) are stored by
// their own names, the language reaches the runtime's analyze and run calls, and a transformation
// links only libraries in its own language. The scripted runtime accepts any code, so the code
// here only has to carry the imports it names.

const rejection = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error as DomainError);

const PY = 'def transformEvent(event, metadata):\n    return event\n';
/** The scripted runtime reads imports from `from "name"`; the code is never compiled as Python here. */
const pyImporting = (importName: string) => `# from "${importName}"\nimport ${importName}\n${PY}`;

describe('language values', () => {
  it('accepts javascript (the default), pythonfaas and its alias python; refuses others naming the supported ones', () => {
    expect(assertLanguage(undefined)).toBe('javascript');
    expect(assertLanguage('javascript')).toBe('javascript');
    expect(assertLanguage('pythonfaas')).toBe('pythonfaas');
    expect(assertLanguage('python')).toBe('pythonfaas');
    for (const value of ['ruby', 'Python', 'JavaScript', '', 'toString', '__proto__']) {
      let error: unknown;
      try {
        assertLanguage(value);
      } catch (caught) {
        error = caught;
      }
      expect(error, value).toBeInstanceOf(DomainError);
      expect(error).toMatchObject({ kind: 'invalid', code: 'unsupported_language', details: { field: 'language' } });
      expect((error as Error).message).toContain('javascript');
      expect((error as Error).message).toContain('pythonfaas');
    }
    expect(normalizeLanguage('constructor')).toBeUndefined();
  });

  it('treats an alias of the stored language as no change, and anything else as one', () => {
    expect(languageChanges(undefined, 'pythonfaas')).toBe(false);
    expect(languageChanges('python', 'pythonfaas')).toBe(false);
    expect(languageChanges('pythonfaas', 'pythonfaas')).toBe(false);
    expect(languageChanges('javascript', 'pythonfaas')).toBe(true);
    expect(languageChanges('python', 'javascript')).toBe(true);
    expect(languageChanges('ruby', 'javascript')).toBe(true);
  });

  it('gives the runtime no language for JavaScript and pythonfaas for Python', () => {
    expect(runtimeLanguage('javascript')).toEqual({});
    expect(runtimeLanguage('pythonfaas')).toEqual({ language: 'pythonfaas' });
  });
});

describe('librariesForRun and languages', () => {
  const library = (versionId: string, importName: string, language: string): LibraryVersion =>
    ({ versionId, libraryId: `lib-${versionId}`, workspaceId: 'w1', importName, name: importName, code: '', language }) as LibraryVersion;
  const version = (language: string): TransformationVersion => ({ versionId: 'tv', transformationId: 't', workspaceId: 'w1', imports: ['a'], code: '', language }) as unknown as TransformationVersion;

  it('links only libraries in the transformation language', () => {
    const candidates = [library('js-a', 'a', 'javascript'), library('py-a', 'a', 'pythonfaas')];
    expect(librariesForRun(version('pythonfaas'), candidates).map((l) => l.versionId)).toEqual(['py-a']);
    expect(librariesForRun(version('javascript'), candidates).map((l) => l.versionId)).toEqual(['js-a']);
  });
});

describe('transformations and libraries in Python', () => {
  const fixture = useFixture();

  it('stores python as pythonfaas, analyzes and test-runs the code as pythonfaas, and keeps the language on update', async () => {
    const f = fixture.current;
    const created = await createTransformation(f.ctx, f.workspaceId, actor, { name: 'py', code: PY, language: 'python' }, { publish: true });
    expect(created.language).toBe('pythonfaas');
    expect(f.runtime.analyses.at(-1)).toMatchObject({ kind: 'transformation', language: 'pythonfaas' });
    // publish=true runs the sample event first.
    expect(f.runtime.runs.at(-1)?.transformation).toMatchObject({ language: 'pythonfaas', inline: true });

    const updated = await updateTransformation(f.ctx, f.workspaceId, actor, created.id, { code: PY + '\n', language: 'python' }, { publish: false });
    expect(updated.language).toBe('pythonfaas');
    const version = await f.store.db.selectFrom('transformation_versions').select('language').where('id', '=', updated.versionId).executeTakeFirstOrThrow();
    expect(version.language).toBe('pythonfaas');
    expect(f.runtime.analyses.at(-1)?.language).toBe('pythonfaas');

    expect(await rejection(updateTransformation(f.ctx, f.workspaceId, actor, created.id, { language: 'javascript' }, { publish: false }))).toMatchObject({ code: 'language_immutable' });
  });

  it('passes javascript to analyze and no language to runs of JavaScript code', async () => {
    const f = fixture.current;
    const created = await createTransformation(f.ctx, f.workspaceId, actor, { name: 'js', code: 'export function transformEvent(e) { return e; }' }, { publish: true });
    expect(created.language).toBe('javascript');
    expect(f.runtime.analyses.at(-1)?.language).toBe('javascript');
    expect(f.runtime.runs.at(-1)?.transformation).not.toHaveProperty('language');
  });

  it('creates pythonfaas libraries (alias python) and keeps their language on update', async () => {
    const f = fixture.current;
    const library = await createLibrary(f.ctx, f.workspaceId, actor, { name: 'Finance Lib', code: 'RATE = 2\n', language: 'python' }, { publish: false });
    expect(library).toMatchObject({ language: 'pythonfaas', importName: 'financeLib' });
    expect(f.runtime.analyses.at(-1)).toMatchObject({ kind: 'library', language: 'pythonfaas' });
    const updated = await updateLibrary(f.ctx, f.workspaceId, actor, library.id, { code: 'RATE = 3\n', language: 'python' }, { publish: false });
    expect(updated.language).toBe('pythonfaas');
    expect(f.runtime.analyses.at(-1)?.language).toBe('pythonfaas');
    expect(await rejection(updateLibrary(f.ctx, f.workspaceId, actor, library.id, { language: 'javascript' }, { publish: false }))).toMatchObject({ code: 'language_immutable' });
  });

  it('refuses a transformation importing a library in another language, naming it', async () => {
    const f = fixture.current;
    await createLibrary(f.ctx, f.workspaceId, actor, { name: 'jsLib', code: 'export const x = 1;' }, { publish: true });
    await createLibrary(f.ctx, f.workspaceId, actor, { name: 'pyLib', code: 'x = 1\n', language: 'pythonfaas' }, { publish: true });

    const py = await rejection(createTransformation(f.ctx, f.workspaceId, actor, { name: 'py', code: pyImporting('jsLib'), language: 'pythonfaas' }, { publish: false }));
    expect(py).toMatchObject({ kind: 'invalid', code: 'library_language_mismatch', details: { field: 'code', imports: ['jsLib'] } });
    expect(py?.message).toContain('"jsLib" (javascript)');
    // A draft does not let it through either: the library exists, in the wrong language.
    expect(await rejection(createTransformation(f.ctx, f.workspaceId, actor, { name: 'py', code: pyImporting('jsLib'), language: 'pythonfaas' }, { publish: false, draft: true }))).toMatchObject({
      code: 'library_language_mismatch',
    });
    const js = await rejection(createTransformation(f.ctx, f.workspaceId, actor, { name: 'js', code: 'import { x } from "pyLib";\nexport function transformEvent(e) { return e; }' }, { publish: false }));
    expect(js).toMatchObject({ code: 'library_language_mismatch', details: { imports: ['pyLib'] } });

    const ok = await createTransformation(f.ctx, f.workspaceId, actor, { name: 'py ok', code: pyImporting('pyLib'), language: 'pythonfaas' }, { publish: true });
    expect(ok.imports).toEqual(['pyLib']);
    expect(f.runtime.runs.at(-1)?.libraries.map((l) => l.importName)).toEqual(['pyLib']);
  });

  it('tests and publishes Python versions with Python libraries only', async () => {
    const f = fixture.current;
    const pyLib = await createLibrary(f.ctx, f.workspaceId, actor, { name: 'pyLib', code: 'x = 1\n', language: 'pythonfaas' }, { publish: false });
    const transformation = await createTransformation(f.ctx, f.workspaceId, actor, { name: 'py', code: pyImporting('pyLib'), language: 'pythonfaas' }, { publish: false });

    const report = await testVersions(f.ctx, f.workspaceId, { transformations: [{ versionId: transformation.versionId }] });
    expect(report.pass).toBe(true);
    expect(f.runtime.runs.at(-1)?.transformation).toMatchObject({ versionId: transformation.versionId, language: 'pythonfaas' });

    await publishVersions(f.ctx, f.workspaceId, actor, { transformations: [{ versionId: transformation.versionId }], libraries: [{ versionId: pyLib.versionId }] });
    const row = await f.store.db.selectFrom('transformations').select('published_version_id').where('id', '=', transformation.id).executeTakeFirstOrThrow();
    expect(row.published_version_id).toBe(transformation.versionId);
  });

  it('does not count code in another language as a user of a library on delete', async () => {
    const f = fixture.current;
    // A JavaScript draft that names "sharedName" before any library has it...
    await createTransformation(f.ctx, f.workspaceId, actor, { name: 'js draft', code: 'import { x } from "sharedName";\nexport function transformEvent(e) { return e; }' }, { publish: false, draft: true });
    // ...then a Python library takes that import name: the draft can never link it.
    const pyLib = await createLibrary(f.ctx, f.workspaceId, actor, { name: 'sharedName', code: 'x = 1\n', language: 'pythonfaas' }, { publish: false });
    await deleteLibrary(f.ctx, f.workspaceId, actor, pyLib.id);
  });

  it('runs inline Python code with inline libraries in Python and refuses stored libraries in JavaScript', async () => {
    const f = fixture.current;
    const answer = await testInlineCode(
      f.ctx,
      f.workspaceId,
      { code: pyImporting('helpers'), language: 'python', libraries: [{ name: 'helpers', code: 'x = 1\n' }], events: [{ a: 1 }] },
      { mayWrite: true },
    );
    expect(answer).toBeDefined();
    expect(f.runtime.analyses.map((a) => [a.kind, a.language])).toEqual([
      ['library', 'pythonfaas'],
      ['transformation', 'pythonfaas'],
    ]);
    const run = f.runtime.runs.at(-1)!;
    expect(run.transformation).toMatchObject({ inline: true, language: 'pythonfaas' });
    expect(run.libraries.map((l) => l.importName)).toEqual(['helpers']);

    // The same code in JavaScript gets another inline version id (another sandbox).
    await testInlineCode(f.ctx, f.workspaceId, { code: pyImporting('helpers'), libraries: [{ name: 'helpers', code: 'x = 1\n' }], events: [{ a: 1 }] }, { mayWrite: true });
    expect(f.runtime.runs.at(-1)?.transformation.versionId).not.toBe(run.transformation.versionId);
    expect(f.runtime.runs.at(-1)?.transformation).not.toHaveProperty('language');

    const jsLib = await createLibrary(f.ctx, f.workspaceId, actor, { name: 'jsLib', code: 'export const x = 1;' }, { publish: true });
    const listed = await rejection(testInlineCode(f.ctx, f.workspaceId, { code: pyImporting('jsLib'), language: 'pythonfaas', libraries: [jsLib.versionId] }, { mayWrite: true }));
    expect(listed).toMatchObject({ code: 'library_language_mismatch', details: { imports: ['jsLib'] } });
    const published = await rejection(testInlineCode(f.ctx, f.workspaceId, { code: pyImporting('jsLib'), language: 'pythonfaas' }, { mayWrite: true }));
    expect(published).toMatchObject({ code: 'library_language_mismatch' });
    expect(await rejection(testInlineCode(f.ctx, f.workspaceId, { code: PY, language: 'ruby' }, { mayWrite: true }))).toMatchObject({ code: 'unsupported_language' });
  });

  it('reports a library in another language from the linker, before unpublished ones', async () => {
    const f = fixture.current;
    await createLibrary(f.ctx, f.workspaceId, actor, { name: 'jsDraft', code: 'export const x = 1;' }, { publish: false });
    const result = await new LibraryLinker(f.store.db, f.workspaceId, [], 'publish').link(['jsDraft'], 'pythonfaas');
    expect(result).toEqual({
      ok: false,
      code: 'library_language_mismatch',
      message: 'the code is pythonfaas but imports "jsDraft" (javascript): a transformation can import only libraries in its own language',
      imports: ['jsDraft'],
    });
  });
});
