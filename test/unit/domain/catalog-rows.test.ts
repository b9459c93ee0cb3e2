import { describe, expect, it } from 'vitest';
import { advanceLatestVersion, findLiveRow, markRowDeleted } from '../../../src/domain/catalog-rows.js';
import { newId, nowIso } from '../../../src/domain/ids.js';
import { createLibrary } from '../../../src/domain/libraries.js';
import { createTransformation } from '../../../src/domain/transformations.js';
import { actor, useFixture } from './helpers.js';

// The row rules transformations and libraries share: a row is found only while live and in its
// workspace, every save moves its latest pointer and counts a version, and deleting marks it.

const fixture = useFixture();

const CODE = 'export function transformEvent(event) { return event; }';

describe('catalog rows', () => {
  it('finds a live row of the workspace only, and names the table in the 404', async () => {
    const f = fixture.current;
    const library = await createLibrary(f.ctx, f.workspaceId, actor, { name: 'lib', code: 'export const x = 1;' }, { publish: false });
    expect((await findLiveRow(f.store.db, 'libraries', f.workspaceId, library.id)).import_name).toBe(library.importName);
    await expect(findLiveRow(f.store.db, 'libraries', 'another-workspace', library.id)).rejects.toThrow('library not found');
    await expect(findLiveRow(f.store.db, 'transformations', f.workspaceId, library.id)).rejects.toThrow('transformation not found');
  });

  it('advances the latest version, and the published one only when publishing', async () => {
    const f = fixture.current;
    const created = await createTransformation(f.ctx, f.workspaceId, actor, { name: 't', code: CODE }, { publish: true });
    const draftId = newId();
    const draft = await advanceLatestVersion(f.store.db, 'transformations', f.workspaceId, created.id, { versionId: draftId, now: nowIso(), publish: false }, { name: 'renamed' });
    expect([draft.version_count, draft.latest_version_id, draft.published_version_id, draft.name]).toEqual([2, draftId, created.versionId, 'renamed']);
    const publishedId = newId();
    const published = await advanceLatestVersion(f.store.db, 'transformations', f.workspaceId, created.id, { versionId: publishedId, now: nowIso(), publish: true }, {});
    expect([published.version_count, published.latest_version_id, published.published_version_id]).toEqual([3, publishedId, publishedId]);
  });

  it('marks a row deleted once; after that it is not found', async () => {
    const f = fixture.current;
    const library = await createLibrary(f.ctx, f.workspaceId, actor, { name: 'lib', code: 'export const x = 1;' }, { publish: false });
    const deleted = await markRowDeleted(f.store.db, 'libraries', f.workspaceId, library.id, nowIso());
    expect(deleted.deleted_at).not.toBeNull();
    await expect(markRowDeleted(f.store.db, 'libraries', f.workspaceId, library.id, nowIso())).rejects.toThrow('library not found');
    await expect(findLiveRow(f.store.db, 'libraries', f.workspaceId, library.id)).rejects.toThrow('library not found');
    await expect(advanceLatestVersion(f.store.db, 'libraries', f.workspaceId, library.id, { versionId: newId(), now: nowIso(), publish: false }, {})).rejects.toThrow('library not found');
  });
});
