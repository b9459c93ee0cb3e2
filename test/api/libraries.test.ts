import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, createLibrary, createTransformation, expectEnvelope, passThrough, startCatalog, type Catalog, type Client } from './transformations.helpers.js';

// Libraries (spec section 5) over real HTTP: importName, immutable versions, the name and
// language that never change, conflicts, deletion while imported, and every import style.

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

let catalog: Catalog;
let api: Client;

beforeAll(async () => {
  catalog = await startCatalog();
  api = catalog.api;
});

afterAll(async () => {
  await catalog?.server.close();
});

const financeCode = 'export function getPrice(finance) {\n  return Number(finance.price || 0);\n}\nexport default function profit(f) {\n  return Number(f.price || 0) - Number(f.cost || 0);\n}\n';

describe('POST /libraries', () => {
  it('creates a library whose importName is the camelCase of its name', async () => {
    const answer = await api.post('/libraries?publish=false', { name: 'User Defined Library', description: 'helpers', code: financeCode, language: 'javascript' });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      id: expect.any(String),
      versionId: expect.any(String),
      name: 'User Defined Library',
      description: 'helpers',
      code: financeCode,
      language: 'javascript',
      importName: 'userDefinedLibrary',
      createdAt: expect.stringMatching(ISO_MS),
      updatedAt: expect.stringMatching(ISO_MS),
      publishedVersionId: null,
    });
    const second = await createLibrary(api, { name: 'Sample Transformation Library JS 2', code: 'export const x = 1;' });
    expect(second.importName).toBe('sampleTransformationLibraryJs2');
  });

  it('publishes the first version with publish=true', async () => {
    const answer = await api.post('/libraries?publish=true', { name: 'Published Lib', code: 'export const y = 2;' });
    expect(answer.status).toBe(200);
    expect(answer.body.publishedVersionId).toBe(answer.body.versionId);
  });

  it('answers 409 when another live library has the same importName', async () => {
    const first = await createLibrary(api, { name: 'Finance Lib', code: financeCode });
    const clash = await api.post('/libraries', { name: 'finance-lib', code: financeCode });
    expectEnvelope(clash, 409, 'import_name_taken');
    expect(clash.body.error.importName).toBe('financeLib');
    expectEnvelope(await api.post('/libraries', { name: 'Finance Lib', code: financeCode }), 409, 'import_name_taken');

    // A deleted library frees its name.
    expect((await api.del(`/libraries/${first.id}`)).status).toBe(200);
    const again = await api.post('/libraries', { name: 'FINANCE_LIB', code: financeCode });
    expect(again.status).toBe(200);
    expect(again.body.importName).toBe('financeLib');
  });

  it('refuses a name that gives no importName', async () => {
    expectEnvelope(await api.post('/libraries', { name: '!!! ---', code: 'export const z = 1;' }), 400, 'invalid_field');
    expectEnvelope(await api.post('/libraries', { name: '   ', code: 'export const z = 1;' }), 400, 'invalid_field');
  });

  it('checks that the code compiles as a module that imports nothing', async () => {
    const broken = await api.post('/libraries', { name: 'Broken Lib', code: 'export function f( {\n}' });
    expectEnvelope(broken, 400, 'compile_error');
    expect(broken.body.error.line).toEqual(expect.any(Number));
    expectEnvelope(await api.post('/libraries', { name: 'Importing Lib', code: 'import { x } from "other";\nexport const y = x;' }), 400, 'library_imports_not_allowed');
    expect((await api.get('/libraries')).body.libraries.some((l: { name: string }) => l.name === 'Broken Lib' || l.name === 'Importing Lib')).toBe(false);
  });

  it('answers 400 for missing fields, non-string code and unsupported languages', async () => {
    expectEnvelope(await api.post('/libraries', { code: 'export const a = 1;' }), 400, 'missing_field');
    expectEnvelope(await api.post('/libraries', { name: 'No code' }), 400, 'missing_field');
    expectEnvelope(await api.post('/libraries', { name: 'Numeric', code: 7 }), 400, 'invalid_field');
    expectEnvelope(await api.post('/libraries', { name: 'Ruby lib', code: 'def f; end', language: 'ruby' }), 400, 'unsupported_language');
    expectEnvelope(await api.post('/libraries?publish=perhaps', { name: 'Q', code: 'export const a = 1;' }), 400, 'invalid_field');
  });

  it('round-trips Unicode names and code; importName follows lodash', async () => {
    const answer = await api.post('/libraries', { name: 'Café Déjà Vu 🚀', code: 'export const greet = () => "¡hola! 👋";' });
    expect(answer.status).toBe(200);
    expect(answer.body.importName).toBe('cafeDejaVu🚀');
    const read = await api.get(`/libraries/${answer.body.id}`);
    expect(read.body).toMatchObject({ name: 'Café Déjà Vu 🚀', code: 'export const greet = () => "¡hola! 👋";' });
  });
});

describe('GET /libraries, /libraries/{id} and versions', () => {
  it('lists libraries at their latest version and gets one unwrapped', async () => {
    const created = await createLibrary(api, { name: 'Listed Lib', code: 'export const v = 1;' });
    const updated = await api.post(`/libraries/${created.id}`, { code: 'export const v = 2;' });
    const list = await api.get('/libraries');
    expect(list.status).toBe(200);
    const entry = list.body.libraries.find((l: { id: string }) => l.id === created.id);
    expect(entry).toMatchObject({ versionId: updated.body.versionId, code: 'export const v = 2;', importName: 'listedLib' });
    expect((await api.get(`/libraries/${created.id}`)).body).toEqual(entry);
    expectEnvelope(await api.get('/libraries/no-such-library'), 404, 'not_found');
  });

  it('lists versions with isPublished, count and orderBy', async () => {
    const created = await createLibrary(api, { name: 'Versioned Lib', code: 'export const v = 0;' });
    const versionIds = [created.versionId];
    for (let i = 1; i < 7; i++) versionIds.push((await api.post(`/libraries/${created.id}${i === 2 ? '?publish=true' : ''}`, { code: `export const v = ${i};` })).body.versionId);

    const defaults = await api.get(`/libraries/${created.id}/versions`);
    expect(defaults.status).toBe(200);
    expect(defaults.body.libraryVersions.map((v: { versionId: string }) => v.versionId)).toEqual(versionIds.slice(0, 5));
    expect(defaults.body.libraryVersions.map((v: { isPublished: boolean }) => v.isPublished)).toEqual([false, false, true, false, false]);
    expect(defaults.body.libraryVersions[2]).toMatchObject({ id: created.id, importName: 'versionedLib', code: 'export const v = 2;', publishedVersionId: versionIds[2] });

    const desc = await api.get(`/libraries/${created.id}/versions?count=2&orderBy=DESC`);
    expect(desc.body.libraryVersions.map((v: { versionId: string }) => v.versionId)).toEqual([versionIds[6], versionIds[5]]);
    expectEnvelope(await api.get(`/libraries/${created.id}/versions?count=5000`), 400, 'invalid_field');
    expectEnvelope(await api.get(`/libraries/${created.id}/versions?orderBy=newest`), 400, 'invalid_field');

    const one = await api.get(`/libraries/${created.id}/versions/${versionIds[1]}`);
    expect(one.body).toMatchObject({ versionId: versionIds[1], code: 'export const v = 1;', isPublished: false });
    expectEnvelope(await api.get(`/libraries/${created.id}/versions/unknown`), 404, 'not_found');
  });
});

describe('POST /libraries/{id}', () => {
  it('appends a version and keeps the old one unchanged', async () => {
    const created = await createLibrary(api, { name: 'Updated Lib', description: 'one', code: 'export const v = 1;' });
    const answer = await api.post(`/libraries/${created.id}?publish=false`, { description: 'two', code: 'export const v = 2;', language: 'javascript' });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ id: created.id, name: 'Updated Lib', description: 'two', code: 'export const v = 2;', importName: 'updatedLib' });
    expect(answer.body.versionId).not.toBe(created.versionId);
    expect((await api.get(`/libraries/${created.id}/versions/${created.versionId}`)).body).toMatchObject({ description: 'one', code: 'export const v = 1;' });
  });

  it('accepts the same name but refuses a new name or language (400)', async () => {
    const created = await createLibrary(api, { name: 'Fixed Lib', code: 'export const v = 1;' });
    expect((await api.post(`/libraries/${created.id}`, { name: 'Fixed Lib', code: 'export const v = 2;' })).status).toBe(200);
    expectEnvelope(await api.post(`/libraries/${created.id}`, { name: 'Renamed Lib', code: 'export const v = 3;' }), 400, 'name_immutable');
    expectEnvelope(await api.post(`/libraries/${created.id}`, { language: 'typescript' }), 400, 'language_immutable');
    expectEnvelope(await api.post(`/libraries/${created.id}`, { code: 'export const = ;' }), 400, 'compile_error');
    const versions = await api.get(`/libraries/${created.id}/versions?count=10`);
    expect(versions.body.libraryVersions).toHaveLength(2);
  });

  it('publishes with publish=true and answers 404 for unknown ids', async () => {
    const created = await createLibrary(api, { name: 'Publish On Update', code: 'export const v = 1;' });
    const answer = await api.post(`/libraries/${created.id}?publish=true`, { code: 'export const v = 2;' });
    expect(answer.body.publishedVersionId).toBe(answer.body.versionId);
    expectEnvelope(await api.post('/libraries/unknown-library', { code: 'export const v = 1;' }), 404, 'not_found');
  });
});

describe('DELETE /libraries/{id}', () => {
  it("answers 409 while a live transformation's latest version imports it", async () => {
    const lib = await createLibrary(api, { name: 'Used By Latest', code: 'export const v = 1;' });
    const t = await createTransformation(api, { code: 'import { v } from "usedByLatest";\nexport function transformEvent(e) { e.v = v; return e; }' });
    const answer = await api.del(`/libraries/${lib.id}`);
    expectEnvelope(answer, 409, 'library_in_use');
    expect(answer.body.error.transformations).toEqual([{ id: t.id, name: expect.any(String) }]);
    expect((await api.get(`/libraries/${lib.id}`)).status).toBe(200);

    // Deleting the transformation releases the library.
    await api.del(`/transformations/${t.id}`);
    expect((await api.del(`/libraries/${lib.id}`)).status).toBe(200);
  });

  it('answers 409 while only the published version imports it, until another version is published', async () => {
    const lib = await createLibrary(api, { name: 'Used By Published', code: 'export const v = 1;' }, true);
    const t = await createTransformation(api, { code: 'import { v } from "usedByPublished";\nexport function transformEvent(e) { e.v = v; return e; }' }, true);
    const latest = await api.post(`/transformations/${t.id}`, { code: passThrough });
    expect(latest.status).toBe(200);
    expectEnvelope(await api.del(`/libraries/${lib.id}`), 409, 'library_in_use');

    expect((await api.post('/transformations/publish', { transformations: [{ versionId: latest.body.versionId }] })).status).toBe(200);
    expect((await api.del(`/libraries/${lib.id}`)).body).toEqual({ success: true });
  });

  it('stops resolving the id, keeps the versions, and makes the import unknown', async () => {
    const lib = await createLibrary(api, { name: 'Gone Lib', code: 'export const v = 1;' });
    expect((await api.del(`/libraries/${lib.id}`)).status).toBe(200);
    expectEnvelope(await api.get(`/libraries/${lib.id}`), 404, 'not_found');
    expectEnvelope(await api.get(`/libraries/${lib.id}/versions`), 404, 'not_found');
    expectEnvelope(await api.del(`/libraries/${lib.id}`), 404, 'not_found');
    const kept = await catalog.server.server.services.store.db.selectFrom('library_versions').select('id').where('library_id', '=', lib.id).execute();
    expect(kept).toHaveLength(1);
    const importing = await api.post('/transformations', { name: 'Imports gone', code: 'import { v } from "goneLib";\nexport function transformEvent(e) { return e; }' });
    expectEnvelope(importing, 400, 'unknown_import');
    expect(importing.body.error.message).toContain('goneLib');
  });
});

describe('import styles', () => {
  beforeAll(async () => {
    await createLibrary(api, { name: 'Style Lib', code: financeCode }, true);
  });

  const cases: [string, string][] = [
    ['named', 'import { getPrice } from "styleLib";\nexport function transformEvent(e) { e.out = getPrice(e); return e; }'],
    ['named with alias', 'import { getPrice as price } from "styleLib";\nexport function transformEvent(e) { e.out = price(e); return e; }'],
    ['default', 'import profit from "styleLib";\nexport function transformEvent(e) { e.out = profit(e) + 7; return e; }'],
    ['namespace', 'import * as finance from "styleLib";\nexport function transformEvent(e) { e.out = finance.getPrice(e); return e; }'],
    ['default and named together', 'import profit, { getPrice } from "styleLib";\nexport function transformEvent(e) { e.out = getPrice(e) + profit(e) - 3; return e; }'],
  ];

  for (const [style, code] of cases) {
    it(`links a ${style} import`, async () => {
      const created = await api.post('/transformations', { name: `Import ${style}`, code, events: [{ price: 10, cost: 7 }] });
      expect(created.status).toBe(200);
      expect(created.body.imports).toEqual(['styleLib']);
      const tested = await api.post('/transformations/libraries/test', { transformations: [{ versionId: created.body.versionId, testInput: [{ price: 10, cost: 7 }] }] });
      expect(tested.body.result.failedTestResults).toEqual([]);
      expect(tested.body.result.successTestResults[0].result.output.transformedEvents).toEqual([{ price: 10, cost: 7, out: 10 }]);
    });
  }
});

describe('scopes and workspaces', () => {
  it('refuses library changes to a read-only token (403)', async () => {
    const lib = await createLibrary(api, { name: 'Read Only Target', code: 'export const v = 1;' });
    const { token } = await catalog.server.issueAccessToken({ name: 'reader', scopes: ['read'] });
    const reader = client(catalog.server.url, `Bearer ${token}`);
    expect((await reader.get('/libraries')).status).toBe(200);
    expect((await reader.get(`/libraries/${lib.id}/versions`)).status).toBe(200);
    expectEnvelope(await reader.post('/libraries', { name: 'Nope', code: 'export const v = 1;' }), 403, 'insufficient_scope');
    expectEnvelope(await reader.post(`/libraries/${lib.id}`, { code: 'export const v = 2;' }), 403, 'insufficient_scope');
    expectEnvelope(await reader.del(`/libraries/${lib.id}`), 403, 'insufficient_scope');
    expectEnvelope(await reader.post('/libraries/publish', { libraries: [{ versionId: lib.versionId }] }), 403, 'insufficient_scope');
  });

  it("answers 404 for another workspace's libraries and lets it reuse the import name", async () => {
    const lib = await createLibrary(api, { name: 'Workspace Private', code: 'export const v = 1;' });
    const other = await catalog.server.createWorkspace('other');
    const { token } = await catalog.server.issueAccessToken({ name: 'other' }, other.workspaceAuth);
    const stranger = client(catalog.server.url, `Bearer ${token}`);
    expect((await stranger.get('/libraries')).body.libraries).toEqual([]);
    expectEnvelope(await stranger.get(`/libraries/${lib.id}`), 404, 'not_found');
    expectEnvelope(await stranger.get(`/libraries/${lib.id}/versions/${lib.versionId}`), 404, 'not_found');
    expectEnvelope(await stranger.post(`/libraries/${lib.id}`, { code: 'export const v = 9;' }), 404, 'not_found');
    expectEnvelope(await stranger.del(`/libraries/${lib.id}`), 404, 'not_found');
    expectEnvelope(await stranger.post('/libraries/publish', { libraries: [{ versionId: lib.versionId }] }), 404, 'not_found');
    // Import names are unique per workspace, not across workspaces.
    expect((await stranger.post('/libraries', { name: 'Workspace Private', code: 'export const v = 2;' })).status).toBe(200);
    // And its transformations cannot import this workspace's library by version id.
    const code = 'import { v } from "workspacePrivate";\nexport function transformEvent(e) { e.v = v; return e; }';
    expectEnvelope(await stranger.post('/transformations/test', { code, libraries: [lib.versionId], events: [{}] }), 404, 'not_found');
  });

  it('tests unsaved library code inline, over a saved version of the same import name, and names a broken one', async () => {
    await createLibrary(api, { name: 'Inline Override', code: 'export const v = "saved";' });
    const code = 'import { v } from "inlineOverride";\nexport function transformEvent(e) { e.v = v; return e; }';
    const inline = await api.post('/transformations/test', { code, libraries: [{ name: 'Inline Override', code: 'export const v = "local";' }], events: [{ a: 1 }] });
    expect(inline.status).toBe(200);
    expect((inline.body as { results: { output: unknown }[] }).results[0]!.output).toEqual({ a: 1, v: 'local' });
    // Without the inline code the saved (latest) version links.
    const saved = await api.post('/transformations/test', { code, events: [{ a: 1 }] });
    expect((saved.body as { results: { output: unknown }[] }).results[0]!.output).toEqual({ a: 1, v: 'saved' });
    // An explicit importName links a library whose name is not saved anywhere; no events only compiles.
    const fresh = await api.post('/transformations/test', { code: 'import { w } from "brandNew";\nexport function transformEvent(e) { return e; }', libraries: [{ name: 'Whatever', importName: 'brandNew', code: 'export const w = 1;' }], events: [] });
    expect(fresh.status).toBe(200);
    expect(fresh.body).toMatchObject({ results: [], dropped: [] });
    // Every unsaved library is checked, imported or not, and the error names it with its line.
    const broken = await api.post('/transformations/test', { code: 'export function transformEvent(e) { return e; }', libraries: [{ name: 'Fine', code: 'export const a = 1;' }, { name: 'Broken Lib', code: 'export const a = 1;\nexport const b = ;' }], events: [] });
    // Its place counts saved versions listed before it too.
    const listedFirst = (await createLibrary(api, { name: 'Listed First', code: 'export const s = 1;' })).versionId;
    const mixed = await api.post('/transformations/test', { code: 'export function transformEvent(e) { return e; }', libraries: [listedFirst, { name: 'Broken Again', code: 'export const b = ;' }], events: [] });
    expectEnvelope(mixed, 400);
    expect((mixed.body as { error: unknown }).error).toMatchObject({ field: 'libraries[1].code', library: 'Broken Again' });
    expectEnvelope(broken, 400);
    const error = (broken.body as { error: { message: string } }).error;
    expect(error).toMatchObject({ field: 'libraries[1].code', library: 'Broken Lib', line: 2 });
    expect(error.message).toContain('library "Broken Lib"');
  });

  it('records library create, update, publish and delete in the audit log', async () => {
    const lib = await createLibrary(api, { name: 'Audited Lib', code: 'export const v = 1;' });
    await api.post(`/libraries/${lib.id}?publish=true`, { code: 'export const v = 2;' });
    await api.del(`/libraries/${lib.id}`);
    const log = await client(catalog.server.url, catalog.server.workspaceAuth).get('/auditLog?limit=1000');
    const actions = (log.body as { action: string; target: string; actor: { id: string } }[]).filter((e) => e.target === lib.id);
    expect(actions.map((e) => e.action).sort()).toEqual(['library.create', 'library.delete', 'library.publish', 'library.update']);
    expect(actions.every((e) => e.actor.id === catalog.tokenId)).toBe(true);
  });
});
