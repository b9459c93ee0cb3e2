import { describe, expect, it } from 'vitest';
import { createLibrary, updateLibrary } from '../../../src/domain/libraries.js';
import { createTransformation, updateTransformation } from '../../../src/domain/transformations.js';
import { actor, useFixture } from './helpers.js';

// Version numbering: every save adds a new immutable version numbered 1, 2, 3, ... per
// transformation or library, whatever runs concurrently; versions are never rewritten.

const fixture = useFixture();

const CODE = 'export function transformEvent(event) { return event; }';

describe('version numbering', () => {
  it('numbers transformation versions 1, 2, 3 and keeps each version as it was saved', async () => {
    const f = fixture.current;
    const created = await createTransformation(f.ctx, f.workspaceId, actor, { name: 't', code: CODE }, { publish: false });
    const second = await updateTransformation(f.ctx, f.workspaceId, actor, created.id, { code: `${CODE}\n// 2` }, { publish: false });
    const third = await updateTransformation(f.ctx, f.workspaceId, actor, created.id, { name: 'renamed' }, { publish: false });
    const rows = await f.store.db.selectFrom('transformation_versions').select(['id', 'seq', 'code', 'name']).where('transformation_id', '=', created.id).orderBy('seq').execute();
    expect(rows.map((row) => [row.id, row.seq])).toEqual([
      [created.versionId, 1],
      [second.versionId, 2],
      [third.versionId, 3],
    ]);
    // Omitted fields carry over from the latest version.
    expect(rows.map((row) => [row.code, row.name])).toEqual([
      [CODE, 't'],
      [`${CODE}\n// 2`, 't'],
      [`${CODE}\n// 2`, 'renamed'],
    ]);
    const t = await f.store.db.selectFrom('transformations').selectAll().where('id', '=', created.id).executeTakeFirstOrThrow();
    expect([t.version_count, t.latest_version_id, t.published_version_id]).toEqual([3, third.versionId, null]);
  });

  it('gives concurrent updates distinct, gapless numbers', async () => {
    const f = fixture.current;
    const created = await createTransformation(f.ctx, f.workspaceId, actor, { name: 't', code: CODE }, { publish: false });
    await Promise.all(Array.from({ length: 6 }, (_, i) => updateTransformation(f.ctx, f.workspaceId, actor, created.id, { code: `${CODE}\n// ${i}` }, { publish: false })));
    const seqs = (await f.store.db.selectFrom('transformation_versions').select('seq').where('transformation_id', '=', created.id).execute()).map((row) => row.seq).sort((a, b) => a - b);
    expect(seqs).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('numbers library versions per library, and publishing a save moves the pointer to it', async () => {
    const f = fixture.current;
    const a = await createLibrary(f.ctx, f.workspaceId, actor, { name: 'alpha', code: 'export const a = 1;' }, { publish: true });
    const b = await createLibrary(f.ctx, f.workspaceId, actor, { name: 'beta', code: 'export const b = 1;' }, { publish: false });
    const a2 = await updateLibrary(f.ctx, f.workspaceId, actor, a.id, { code: 'export const a = 2;' }, { publish: false });
    const a3 = await updateLibrary(f.ctx, f.workspaceId, actor, a.id, { code: 'export const a = 3;' }, { publish: true });
    const rows = await f.store.db.selectFrom('library_versions').select(['id', 'library_id', 'seq']).orderBy('library_id').orderBy('seq').execute();
    expect(rows.filter((row) => row.library_id === a.id).map((row) => [row.id, row.seq])).toEqual([
      [a.versionId, 1],
      [a2.versionId, 2],
      [a3.versionId, 3],
    ]);
    expect(rows.filter((row) => row.library_id === b.id).map((row) => row.seq)).toEqual([1]);
    expect(a2.publishedVersionId).toBe(a.versionId);
    expect(a3.publishedVersionId).toBe(a3.versionId);
  });
});
