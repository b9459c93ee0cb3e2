import { describe, expect, it } from 'vitest';
import { createLibrary, updateLibrary } from '../../../src/domain/libraries.js';
import { LibraryLinker, librariesForRun } from '../../../src/domain/serving/linking.js';
import type { LibraryVersion, TransformationVersion } from '../../../src/domain/versions.js';
import { actor, useFixture } from './helpers.js';

// Import linking: which library version each import of transformation code gets.

const library = (versionId: string, importName: string, workspaceId = 'w1', language = 'javascript'): LibraryVersion =>
  ({ versionId, libraryId: `lib-${importName}`, workspaceId, importName, name: importName, code: `export const v = "${versionId}";`, language }) as LibraryVersion;
const transformation = (imports: string[], workspaceId = 'w1', language = 'javascript'): TransformationVersion =>
  ({ versionId: 'tv', transformationId: 't', workspaceId, imports, code: '', language }) as unknown as TransformationVersion;

describe('librariesForRun (serving: versions the caller names)', () => {
  it('links only what the code imports, from its own workspace, the first listed version of each import name winning', () => {
    const chosen = librariesForRun(transformation(['a', 'b']), [library('a1', 'a'), library('x1', 'x'), library('b-other', 'b', 'w2'), library('a2', 'a'), library('b1', 'b')]);
    expect(chosen.map((l) => l.versionId)).toEqual(['a1', 'b1']);
  });

  it('links nothing for code without imports', () => {
    expect(librariesForRun(transformation([]), [library('a1', 'a')])).toEqual([]);
  });
});

describe('LibraryLinker (test, publish and save: libraries by import name)', () => {
  const fixture = useFixture();

  it('links a listed version first, else the published one, else (tests only) the latest', async () => {
    const f = fixture.current;
    const published = await createLibrary(f.ctx, f.workspaceId, actor, { name: 'pub', code: 'export const p = 1;' }, { publish: true });
    const pubLatest = await updateLibrary(f.ctx, f.workspaceId, actor, published.id, { code: 'export const p = 2;' }, { publish: false });
    const draft = await createLibrary(f.ctx, f.workspaceId, actor, { name: 'draft', code: 'export const d = 1;' }, { publish: false });
    const db = f.store.db;

    const test = await new LibraryLinker(db, f.workspaceId, [], 'test').link(['pub', 'draft'], 'javascript');
    expect(test).toMatchObject({ ok: true, versionIds: [published.versionId, draft.versionId] });

    const listed = (await db.selectFrom('library_versions').selectAll().where('id', '=', pubLatest.versionId).execute()).map((row) => ({ versionId: row.id, importName: row.import_name, code: row.code, language: row.language }) as LibraryVersion);
    expect(await new LibraryLinker(db, f.workspaceId, listed, 'publish').link(['pub'], 'javascript')).toMatchObject({ ok: true, versionIds: [pubLatest.versionId] });

    expect(await new LibraryLinker(db, f.workspaceId, [], 'publish').link(['pub', 'draft'], 'javascript')).toEqual({
      ok: false,
      code: 'unpublished_import',
      message: 'the code imports "draft", which has no published version; publish it in the same request (list the version under "libraries")',
      imports: ['draft'],
    });
  });

  it('refuses imports that name no live library of the workspace', async () => {
    const f = fixture.current;
    await createLibrary(f.ctx, f.workspaceId, actor, { name: 'mine', code: 'export const m = 1;' }, { publish: true });
    const result = await new LibraryLinker(f.store.db, 'another-workspace', [], 'test').link(['mine', 'nope'], 'javascript');
    expect(result).toEqual({ ok: false, code: 'unknown_import', message: 'the code imports "mine" and "nope", which are not libraries of this workspace', imports: ['mine', 'nope'] });
  });
});
