import { describe, expect, it } from 'vitest';
import { DomainError } from '../../../src/domain/errors.js';
import { createLibrary, updateLibrary } from '../../../src/domain/libraries.js';
import { publishVersions } from '../../../src/domain/publish/publish.js';
import { testVersions } from '../../../src/domain/publish/version-tests.js';
import { createTransformation, updateTransformation } from '../../../src/domain/transformations.js';
import { actor, useFixture } from './helpers.js';

// Publish is all or nothing: every listed version passes its tests and every pointer moves in one
// transaction, or nothing changes.

const fixture = useFixture();

const PASS = 'export function transformEvent(event) { return event; }';
const FAIL = 'export function transformEvent(event) { return FAIL; }';

async function pointers(): Promise<Record<string, string | null>> {
  const f = fixture.current;
  const rows = [
    ...(await f.store.db.selectFrom('transformations').select(['id', 'published_version_id']).execute()),
    ...(await f.store.db.selectFrom('libraries').select(['id', 'published_version_id']).execute()),
  ];
  return Object.fromEntries(rows.map((row) => [row.id, row.published_version_id]));
}

async function publishAudits(): Promise<string[]> {
  const f = fixture.current;
  const rows = await f.store.db.selectFrom('audit_events').select('action').where('workspace_id', '=', f.workspaceId).execute();
  return rows.map((row) => row.action).filter((action) => action.endsWith('.publish'));
}

const rejection = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error as DomainError);

describe('publishVersions', () => {
  it('moves nothing when one listed transformation fails its tests', async () => {
    const f = fixture.current;
    const good = await createTransformation(f.ctx, f.workspaceId, actor, { name: 'good', code: PASS }, { publish: false });
    const bad = await createTransformation(f.ctx, f.workspaceId, actor, { name: 'bad', code: FAIL }, { publish: false });
    const library = await createLibrary(f.ctx, f.workspaceId, actor, { name: 'helpers', code: 'export const x = 1;' }, { publish: false });
    const before = await pointers();

    const error = await rejection(
      publishVersions(f.ctx, f.workspaceId, actor, { transformations: [{ versionId: good.versionId }, { versionId: bad.versionId }], libraries: [{ versionId: library.versionId }] }),
    );
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ kind: 'invalid', code: 'test_failed' });
    expect(error?.message).toMatch(/nothing was published: 1 of 2 transformations failed its tests \("bad"\)/);
    expect((error?.details?.failedTestResults as Array<{ name: string }>).map((r) => r.name)).toEqual(['bad']);
    expect(await pointers()).toEqual(before);
    expect(await publishAudits()).toEqual([]);
  });

  it('moves every listed pointer, libraries and transformations, in one call', async () => {
    const f = fixture.current;
    const library = await createLibrary(f.ctx, f.workspaceId, actor, { name: 'helpers', code: 'export const x = 1;' }, { publish: false });
    const user = await createTransformation(f.ctx, f.workspaceId, actor, { name: 'user', code: `import { x } from "helpers";\n${PASS}` }, { publish: false, draft: true });
    const other = await createTransformation(f.ctx, f.workspaceId, actor, { name: 'other', code: PASS }, { publish: false });

    await publishVersions(f.ctx, f.workspaceId, actor, { transformations: [{ versionId: user.versionId }, { versionId: other.versionId }], libraries: [{ versionId: library.versionId }] });
    expect(await pointers()).toEqual({ [user.id]: user.versionId, [other.id]: other.versionId, [library.id]: library.versionId });
    expect((await publishAudits()).sort()).toEqual(['library.publish', 'transformation.publish', 'transformation.publish']);
  });

  it('refuses an import whose library was never published unless the same call publishes it', async () => {
    const f = fixture.current;
    const library = await createLibrary(f.ctx, f.workspaceId, actor, { name: 'helpers', code: 'export const x = 1;' }, { publish: false });
    const user = await createTransformation(f.ctx, f.workspaceId, actor, { name: 'user', code: `import { x } from "helpers";\n${PASS}` }, { publish: false, draft: true });
    const before = await pointers();

    const error = await rejection(publishVersions(f.ctx, f.workspaceId, actor, { transformations: [{ versionId: user.versionId }] }));
    expect(error).toMatchObject({ code: 'test_failed' });
    expect(JSON.stringify(error?.details)).toContain('unpublished_import');
    expect(await pointers()).toEqual(before);
    // A test of the same version links the library's latest version instead.
    expect((await testVersions(f.ctx, f.workspaceId, { transformations: [{ versionId: user.versionId }] })).pass).toBe(true);
    expect(f.runtime.runs.at(-1)?.libraries.map((l) => l.versionId)).toEqual([library.versionId]);
  });

  it('publishes an older version again (a rollback) and refuses two versions of one transformation', async () => {
    const f = fixture.current;
    const first = await createTransformation(f.ctx, f.workspaceId, actor, { name: 't', code: PASS }, { publish: true });
    const second = await updateTransformation(f.ctx, f.workspaceId, actor, first.id, { code: `${PASS}\n// v2` }, { publish: true });
    expect((await pointers())[first.id]).toBe(second.versionId);

    await publishVersions(f.ctx, f.workspaceId, actor, { transformations: [{ versionId: first.versionId }], commitId: 'abc123' });
    expect((await pointers())[first.id]).toBe(first.versionId);

    const error = await rejection(publishVersions(f.ctx, f.workspaceId, actor, { transformations: [{ versionId: first.versionId }, { versionId: second.versionId }] }));
    expect(error).toMatchObject({ kind: 'invalid', code: 'duplicate_transformation' });
    expect((await pointers())[first.id]).toBe(first.versionId);
  });

  it('refuses an empty call and versions of another workspace, naming them', async () => {
    const f = fixture.current;
    await expect(publishVersions(f.ctx, f.workspaceId, actor, {})).rejects.toMatchObject({ code: 'nothing_to_publish' });
    const library = await createLibrary(f.ctx, f.workspaceId, actor, { name: 'helpers', code: 'export const x = 1;' }, { publish: false });
    const first = await updateLibrary(f.ctx, f.workspaceId, actor, library.id, { code: 'export const x = 2;' }, { publish: false });
    await expect(publishVersions(f.ctx, 'another-workspace', actor, { libraries: [{ versionId: library.versionId }] })).rejects.toMatchObject({
      kind: 'not_found',
      details: { libraryVersionIds: [library.versionId] },
    });
    await expect(publishVersions(f.ctx, f.workspaceId, actor, { libraries: [{ versionId: library.versionId }, { versionId: first.versionId }] })).rejects.toMatchObject({ code: 'duplicate_library' });
  });

  it('fails the request, not the tests, when the runtime is overloaded', async () => {
    const f = fixture.current;
    const t = await createTransformation(f.ctx, f.workspaceId, actor, { name: 't', code: PASS }, { publish: false });
    const { RunError } = await import('../../../src/runtime/types.js');
    f.runtime.failWith = new RunError('overloaded', 'the runtime is saturated', [], 2);
    await expect(publishVersions(f.ctx, f.workspaceId, actor, { transformations: [{ versionId: t.versionId }] })).rejects.toMatchObject({ kind: 'unavailable', code: 'overloaded', retryAfterSeconds: 2 });
    expect((await pointers())[t.id]).toBeNull();
  });
});
