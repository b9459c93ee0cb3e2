import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLibrary, createTransformation, startCatalog, tagging, type Catalog, type Client } from './transformations.helpers.js';

// Concurrent writes over HTTP, on SQLite and PostgreSQL: no update is lost, every version gets its
// own seq, pointers always name a version of their own transformation, and races between a
// library delete and a save that imports it never leave a dangling import.

const N = 20;

let catalog: Catalog;
let api: Client;

beforeAll(async () => {
  catalog = await startCatalog();
  api = catalog.api;
});

afterAll(async () => {
  await catalog?.server.close();
});

const db = () => catalog.server.server.services.store.db;

async function transformationState(id: string) {
  const parent = await db().selectFrom('transformations').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const versions = await db().selectFrom('transformation_versions').select(['id', 'seq', 'code']).where('transformation_id', '=', id).orderBy('seq', 'asc').execute();
  return { parent, versions };
}

describe('concurrent updates', () => {
  it(`gives each of ${N} concurrent transformation updates its own version`, async () => {
    const created = await createTransformation(api, { name: 'Hot transformation', code: tagging('start') });
    const answers = await Promise.all(Array.from({ length: N }, (_, i) => api.post(`/transformations/${created.id}?publish=false`, { code: tagging(`update-${i}`) })));
    expect(answers.map((a) => a.status)).toEqual(Array.from({ length: N }, () => 200));
    const versionIds = answers.map((a) => a.body.versionId as string);
    expect(new Set(versionIds).size).toBe(N);

    const { parent, versions } = await transformationState(created.id);
    expect(versions).toHaveLength(N + 1);
    expect(versions.map((v) => v.seq)).toEqual(Array.from({ length: N + 1 }, (_, i) => i + 1));
    expect(parent.version_count).toBe(N + 1);
    // The latest pointer names the version with the highest seq.
    expect(parent.latest_version_id).toBe(versions[N]!.id);

    // The API lists them all, and each update's code is in exactly one version.
    const listed = (await api.get(`/transformations/${created.id}/versions?count=1000`)).body.TransformationVersions as { versionId: string; code: string }[];
    expect(listed.map((v) => v.versionId).sort()).toEqual([created.versionId, ...versionIds].sort());
    for (let i = 0; i < N; i++) expect(listed.filter((v) => v.code === tagging(`update-${i}`))).toHaveLength(1);
  });

  it(`gives each of ${N} concurrent library updates its own version`, async () => {
    const lib = await createLibrary(api, { name: 'Hot Library', code: 'export const v = -1;' });
    const answers = await Promise.all(Array.from({ length: N }, (_, i) => api.post(`/libraries/${lib.id}`, { code: `export const v = ${i};` })));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const versions = await db().selectFrom('library_versions').select(['id', 'seq']).where('library_id', '=', lib.id).orderBy('seq', 'asc').execute();
    expect(versions.map((v) => v.seq)).toEqual(Array.from({ length: N + 1 }, (_, i) => i + 1));
    const listed = (await api.get(`/libraries/${lib.id}/versions?count=1000&orderBy=desc`)).body.libraryVersions as { versionId: string }[];
    expect(listed).toHaveLength(N + 1);
    expect((await api.get(`/libraries/${lib.id}`)).body.versionId).toBe(versions[N]!.id);
  });
});

describe('publish racing updates', () => {
  it('leaves the published pointer on a version the publishes named, with no update lost', async () => {
    const created = await createTransformation(api, { name: 'Raced', code: tagging('v0') }, true);
    const seed = await Promise.all([1, 2, 3].map((i) => api.post(`/transformations/${created.id}`, { code: tagging(`seed-${i}`) })));
    const publishable = [created.versionId, ...seed.map((a) => a.body.versionId as string)];

    const updates = Array.from({ length: 10 }, (_, i) => api.post(`/transformations/${created.id}`, { code: tagging(`race-${i}`) }));
    const publishes = publishable.map((versionId) => api.post('/transformations/publish', { transformations: [{ versionId, testInput: [{}] }] }));
    const [updateAnswers, publishAnswers] = await Promise.all([Promise.all(updates), Promise.all(publishes)]);
    expect(updateAnswers.every((a) => a.status === 200)).toBe(true);
    expect(publishAnswers.every((a) => a.status === 200)).toBe(true);

    const { parent, versions } = await transformationState(created.id);
    expect(versions).toHaveLength(1 + 3 + 10);
    expect(versions.map((v) => v.seq)).toEqual(Array.from({ length: 14 }, (_, i) => i + 1));
    expect(publishable).toContain(parent.published_version_id);
    expect(parent.latest_version_id).toBe(versions[13]!.id);
    const read = await api.get(`/transformations/${created.id}`);
    expect(read.body.publishedVersionId).toBe(parent.published_version_id);
    const listed = (await api.get(`/transformations/${created.id}/versions?count=100`)).body.TransformationVersions as { isPublished: boolean }[];
    expect(listed.filter((v) => v.isPublished)).toHaveLength(1);
  });

  it('moves the pointers of a multi-item publish together while updates race', async () => {
    const lib = await createLibrary(api, { name: 'Race Pair Lib', code: 'export const v = 0;' }, true);
    const t = await createTransformation(api, { code: 'import { v } from "racePairLib";\nexport function transformEvent(e) { e.v = v; return e; }' }, true);
    const pairs: { lib: string; t: string }[] = [];
    for (let i = 1; i <= 3; i++) {
      const libVersion = await api.post(`/libraries/${lib.id}`, { code: `export const v = ${i};` });
      const tVersion = await api.post(`/transformations/${t.id}`, { code: `import { v } from "racePairLib";\nexport function transformEvent(e) { e.v = v; e.pair = ${i}; return e; }` });
      pairs.push({ lib: libVersion.body.versionId, t: tVersion.body.versionId });
    }
    const answers = await Promise.all([
      ...pairs.map((pair) => api.post('/transformations/libraries/publish', { transformations: [{ versionId: pair.t }], libraries: [{ versionId: pair.lib }] })),
      ...Array.from({ length: 5 }, (_, i) => api.post(`/libraries/${lib.id}`, { code: `export const v = ${100 + i};` })),
    ]);
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const tPublished = (await api.get(`/transformations/${t.id}`)).body.publishedVersionId;
    const libPublished = (await api.get(`/libraries/${lib.id}`)).body.publishedVersionId;
    expect(pairs.map((p) => p.t)).toContain(tPublished);
    expect(pairs.map((p) => p.lib)).toContain(libPublished);
  });
});

describe('conflicting creates and deletes', () => {
  it('lets exactly one of several concurrent creates claim an import name', async () => {
    const names = ['Race Name', 'race-name', 'RACE_NAME', 'race name', 'Race  Name', 'raceName'];
    const answers = await Promise.all(names.map((name) => api.post('/libraries', { name, code: 'export const v = 1;' })));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 409).every((a) => a.body.error.code === 'import_name_taken')).toBe(true);
    expect(answers.filter((a) => a.status === 409)).toHaveLength(names.length - 1);
    const live = (await api.get('/libraries')).body.libraries.filter((l: { importName: string }) => l.importName === 'raceName');
    expect(live).toHaveLength(1);
  });

  it('never lets a library delete and a save importing it both succeed', async () => {
    for (let round = 0; round < 6; round++) {
      const importName = `raceDelete${round}`;
      const lib = await createLibrary(api, { name: `race delete ${round}`, code: 'export const v = 1;' });
      const code = `import { v } from "${importName}";\nexport function transformEvent(e) { e.v = v; return e; }`;
      const [saved, deleted] = await Promise.all([api.post('/transformations', { name: `importer ${round}`, code }), api.del(`/libraries/${lib.id}`)]);
      const outcome = `${saved.status}/${deleted.status}`;
      expect(['200/409', '400/200'], `${outcome} ${JSON.stringify([saved.body, deleted.body])}`).toContain(outcome);
      if (saved.status === 400) expect(saved.body.error.code).toBe('unknown_import');
      // Whatever won, every live transformation's imports name a live library.
      if (saved.status === 200) expect((await api.get(`/libraries/${lib.id}`)).status).toBe(200);
    }
  });

  it('answers 404 to a publish of a transformation deleted at the same time, or publishes before it goes', async () => {
    const t = await createTransformation(api, { code: tagging('doomed') });
    const [publish, deleted] = await Promise.all([api.post('/transformations/publish', { transformations: [{ versionId: t.versionId }] }), api.del(`/transformations/${t.id}`)]);
    expect(deleted.status).toBe(200);
    expect([200, 404]).toContain(publish.status);
    expect((await api.get(`/transformations/${t.id}`)).status).toBe(404);
  });
});
