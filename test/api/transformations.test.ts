import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuth } from '../helpers/server.js';
import { client, createLibrary, createTransformation, expectEnvelope, passThrough, startCatalog, tagging, type Catalog, type Client } from './transformations.helpers.js';

// Transformations (spec section 4) over real HTTP: create, read, update (a new immutable version
// each time), delete, versions; every 4xx they answer; scopes and workspace isolation.

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const CODE_LIMIT = 16 * 1024;

let catalog: Catalog;
let api: Client;

beforeAll(async () => {
  catalog = await startCatalog({ env: { TILLER_MAX_CODE_BYTES: String(CODE_LIMIT) } });
  api = catalog.api;
  // The destinations that destinationIds below connect (spec section 8: they come from the workspace's rudder-server configuration).
  const destinations = [
    { id: 'dest-1', name: 'Webhook', enabled: true },
    { id: 'dest-2', name: 'Amplitude', enabled: false },
    { id: 'dest-9', name: 'BigQuery', enabled: true },
  ];
  const imported = await client(catalog.server.url, catalog.server.workspaceAuth).call('PUT', '/workspaceConfig/base', { sources: [{ id: 'src-1', name: 'Web', destinations }] });
  if (imported.status !== 200) throw new Error(`import: ${imported.status} ${JSON.stringify(imported.body)}`);
});

afterAll(async () => {
  await catalog?.server.close();
});

async function versionCount(transformationId: string): Promise<number> {
  const rows = await catalog.server.server.services.store.db.selectFrom('transformation_versions').select('id').where('transformation_id', '=', transformationId).execute();
  return rows.length;
}

describe('POST /transformations', () => {
  it('creates a transformation and answers it with its first version', async () => {
    const answer = await api.post('/transformations?publish=false', { name: 'Add tag', description: 'tags events', code: tagging('a'), language: 'javascript' });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      id: expect.any(String),
      versionId: expect.any(String),
      name: 'Add tag',
      description: 'tags events',
      code: tagging('a'),
      codeVersion: '1',
      language: 'javascript',
      createdAt: expect.stringMatching(ISO_MS),
      updatedAt: expect.stringMatching(ISO_MS),
      workspaceId: catalog.server.workspaceId,
      destinations: [],
      imports: [],
      publishedVersionId: null,
      quarantinedUntil: null,
    });
    expect(answer.body.id).not.toBe(answer.body.versionId);
  });

  it('defaults language to javascript, description to empty, publish to false', async () => {
    const answer = await api.post('/transformations', { name: 'Defaults', code: passThrough });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ language: 'javascript', description: '', publishedVersionId: null });
  });

  it('accepts a null description as none', async () => {
    const answer = await api.post('/transformations', { name: 'Null description', code: passThrough, description: null });
    expect(answer.status).toBe(200);
    expect(answer.body.description).toBe('');
  });

  it('publishes the first version with publish=true and connects destinationIds', async () => {
    const answer = await api.post('/transformations?publish=true', { name: 'Published at once', code: passThrough, destinationIds: ['dest-1', 'dest-2', 'dest-1'] });
    expect(answer.status).toBe(200);
    expect(answer.body.publishedVersionId).toBe(answer.body.versionId);
    const destinations = [
      { id: 'dest-1', name: 'Webhook', enabled: true },
      { id: 'dest-2', name: 'Amplitude', enabled: false },
    ];
    expect(answer.body.destinations).toEqual(destinations);
    const read = await api.get(`/transformations/${answer.body.id}`);
    expect(read.body.destinations).toEqual(destinations);
  });

  it('refuses destinationIds without publish=true', async () => {
    expectEnvelope(await api.post('/transformations?publish=false', { name: 'x', code: passThrough, destinationIds: ['d'] }), 400, 'invalid_field');
  });

  it('runs the given events first and saves nothing when they fail', async () => {
    const before = (await api.get('/transformations')).body.transformations.length;
    const failing = 'export function transformEvent(event) {\n  if (!event.userId) throw new Error("userId is required");\n  return event;\n}\n';
    const answer = await api.post('/transformations', { name: 'Needs user', code: failing, events: [{ userId: 'u1' }, { anonymousId: 'a1' }] });
    expectEnvelope(answer, 400, 'events_failed');
    expect(answer.body.error.message).toContain('userId is required');
    expect(answer.body.error.errors).toEqual([{ index: 1, message: expect.stringContaining('userId is required') }]);
    expect((await api.get('/transformations')).body.transformations.length).toBe(before);

    const ok = await api.post('/transformations', { name: 'Needs user', code: failing, events: [{ userId: 'u1' }] });
    expect(ok.status).toBe(200);
  });

  it('answers 400 compile_error with line and column for a syntax error', async () => {
    const answer = await api.post('/transformations', { name: 'Broken', code: 'export function transformEvent(event) {\n  return event +;\n}\n' });
    expectEnvelope(answer, 400, 'compile_error');
    expect(answer.body.error.line).toBe(2);
    expect(answer.body.error.column).toEqual(expect.any(Number));
  });

  it('requires exactly one of transformEvent and transformBatch', async () => {
    expectEnvelope(await api.post('/transformations', { name: 'None', code: 'export function other() {}' }), 400, 'missing_entry_point');
    expectEnvelope(
      await api.post('/transformations', { name: 'Both', code: 'export function transformEvent(e) { return e; }\nexport function transformBatch(es) { return es; }' }),
      400,
      'multiple_entry_points',
    );
    const batch = await api.post('/transformations', { name: 'Batch', code: 'export async function transformBatch(events, metadata) { return events; }' });
    expect(batch.status).toBe(200);
  });

  it('refuses an import that names no library of the workspace, naming it', async () => {
    const answer = await api.post('/transformations', { name: 'Imports', code: 'import { f } from "noSuchLibrary";\nexport function transformEvent(e) { return f(e); }' });
    expectEnvelope(answer, 400, 'unknown_import');
    expect(answer.body.error.message).toContain('noSuchLibrary');
    expect(answer.body.error.imports).toEqual(['noSuchLibrary']);
  });

  it('records the imports the code uses', async () => {
    await createLibrary(api, { name: 'Recorded Imports Lib', code: 'export const one = 1;' });
    const answer = await api.post('/transformations', { name: 'Uses lib', code: 'import { one } from "recordedImportsLib";\nexport function transformEvent(e) { e.one = one; return e; }' });
    expect(answer.status).toBe(200);
    expect(answer.body.imports).toEqual(['recordedImportsLib']);
  });

  it('answers 400 for a language other than javascript and pythonfaas (alias python)', async () => {
    const answer = await api.post('/transformations', { name: 'Rb', code: 'def transform_event(event)\n  event\nend', language: 'ruby' });
    expectEnvelope(answer, 400, 'unsupported_language');
  });

  it('answers 400 for missing or invalid fields', async () => {
    const noName = await api.post('/transformations', { code: passThrough });
    expectEnvelope(noName, 400, 'missing_field');
    expect(noName.body.error.field).toBe('name');
    expectEnvelope(await api.post('/transformations', { name: 'no code' }), 400, 'missing_field');
    const numberCode = await api.post('/transformations', { name: 'n', code: 42 });
    expectEnvelope(numberCode, 400, 'invalid_field');
    expect(numberCode.body.error.field).toBe('code');
    expectEnvelope(await api.post('/transformations', { name: '   ', code: passThrough }), 400, 'invalid_field');
    expectEnvelope(await api.post('/transformations', { name: 'x'.repeat(201), code: passThrough }), 400, 'invalid_field');
    expectEnvelope(await api.post('/transformations', { name: 'empty code', code: '' }), 400, 'invalid_field');
    expectEnvelope(await api.post('/transformations', { name: 'events not array', code: passThrough, events: { a: 1 } }), 400, 'invalid_field');
    expectEnvelope(await api.post('/transformations', { name: 'events of strings', code: passThrough, events: ['a'] }), 400, 'invalid_field');
    expectEnvelope(await api.post('/transformations', ['not', 'an', 'object']), 400, 'invalid_body');
  });

  it('answers 400 code_too_large over the configured code size', async () => {
    const big = passThrough + '//' + 'x'.repeat(CODE_LIMIT);
    const answer = await api.post('/transformations', { name: 'Big', code: big });
    expectEnvelope(answer, 400, 'code_too_large');
    expect(answer.body.error.limit).toBe(CODE_LIMIT);
  });

  it('answers 413 for a body over the server limit, 415 for non-JSON, 400 for malformed JSON', async () => {
    const huge = await api.post('/transformations', { name: 'Huge', code: passThrough + '//' + 'x'.repeat(2 * 1024 * 1024) });
    expectEnvelope(huge, 413, 'body_too_large');
    expectEnvelope(await api.call('POST', '/transformations', 'name=x', { 'content-type': 'application/x-www-form-urlencoded' }), 415);
    expectEnvelope(await api.call('POST', '/transformations', '{"name": "x", ', { 'content-type': 'application/json' }), 400, 'invalid_json');
  });

  it('refuses NUL characters and unpaired surrogates, which the stores cannot keep', async () => {
    expectEnvelope(await api.post('/transformations', { name: 'nul\u0000name', code: passThrough }), 400, 'invalid_field');
    expectEnvelope(await api.post('/transformations', { name: 'ok', code: passThrough + '//\u0000' }), 400, 'invalid_field');
    expectEnvelope(await api.call('POST', '/transformations', '{"name":"half \\ud83d pair","code":"export function transformEvent(e){return e}"}'), 400, 'invalid_field');
  });

  it('answers 400 for publish values other than true and false', async () => {
    const answer = await api.post('/transformations?publish=maybe', { name: 'x', code: passThrough });
    expectEnvelope(answer, 400, 'invalid_field');
    expect(answer.body.error.field).toBe('publish');
  });

  it('round-trips Unicode names, descriptions and code', async () => {
    const name = 'Événements 📦 变换 — تحويل';
    const description = 'naïve café ✓ 🚀';
    const code = 'export function transformEvent(event) {\n  event.greeting = "héllo wörld 👋 你好";\n  return event;\n}\n';
    const created = await api.post('/transformations', { name, description, code, events: [{ type: 'track' }] });
    expect(created.status).toBe(200);
    const read = await api.get(`/transformations/${created.body.id}`);
    expect(read.body).toMatchObject({ name, description, code });
    const listed = (await api.get('/transformations')).body.transformations.find((t: { id: string }) => t.id === created.body.id);
    expect(listed).toMatchObject({ name, description, code });
    const version = await api.get(`/transformations/${created.body.id}/versions/${created.body.versionId}`);
    expect(version.body).toMatchObject({ name, description, code });
    const tested = await api.post('/transformations/libraries/test', { transformations: [{ versionId: created.body.versionId, testInput: [{ name }] }] });
    expect(tested.body.result.successTestResults[0].result.output.transformedEvents).toEqual([{ name, greeting: 'héllo wörld 👋 你好' }]);
  });
});

describe('GET /transformations and /transformations/{id}', () => {
  it('lists every live transformation at its latest version, and gets one unwrapped', async () => {
    const created = await createTransformation(api, { name: 'Listed', code: tagging('v1') });
    const updated = await api.post(`/transformations/${created.id}`, { code: tagging('v2') });
    expect(updated.status).toBe(200);

    const list = await api.get('/transformations');
    expect(list.status).toBe(200);
    const entry = list.body.transformations.find((t: { id: string }) => t.id === created.id);
    expect(entry).toMatchObject({ id: created.id, versionId: updated.body.versionId, code: tagging('v2'), publishedVersionId: null, destinations: [] });

    const one = await api.get(`/transformations/${created.id}`);
    expect(one.status).toBe(200);
    expect(one.body).toEqual(entry);
  });

  it('answers 404 for an unknown id', async () => {
    expectEnvelope(await api.get('/transformations/0000000000000000000000000000'.slice(0, 27)), 404, 'not_found');
  });

  it('serves GET with Content-Type: application/json and an empty body', async () => {
    const answer = await api.call('GET', '/transformations', undefined, { 'content-type': 'application/json' });
    expect(answer.status).toBe(200);
    expect(Array.isArray(answer.body.transformations)).toBe(true);
  });
});

describe('POST /transformations/{id}', () => {
  it('appends a new immutable version; earlier versions keep their content', async () => {
    const created = await createTransformation(api, { name: 'Versioned', description: 'first', code: tagging('one') });
    const second = await api.post(`/transformations/${created.id}?publish=false`, { name: 'Versioned (renamed)', code: tagging('two') });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ id: created.id, name: 'Versioned (renamed)', description: 'first', code: tagging('two') });
    expect(second.body.versionId).not.toBe(created.versionId);

    const first = await api.get(`/transformations/${created.id}/versions/${created.versionId}`);
    expect(first.body).toMatchObject({ versionId: created.versionId, name: 'Versioned', description: 'first', code: tagging('one'), isPublished: false });
    expect(await versionCount(created.id)).toBe(2);
  });

  it('accepts the CI update body (description, code, language) without a name', async () => {
    const created = await createTransformation(api, { name: 'CI updated', code: tagging('one') });
    const answer = await api.post(`/transformations/${created.id}?publish=false`, { description: 'from git', code: tagging('two'), language: 'javascript' });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ name: 'CI updated', description: 'from git', code: tagging('two') });
  });

  it('publishes the new version with publish=true', async () => {
    const created = await createTransformation(api, { name: 'Update and publish' });
    const answer = await api.post(`/transformations/${created.id}?publish=true`, { code: tagging('live'), destinationIds: ['dest-9'] });
    expect(answer.status).toBe(200);
    expect(answer.body.publishedVersionId).toBe(answer.body.versionId);
    expect(answer.body.destinations).toEqual([{ id: 'dest-9', name: 'BigQuery', enabled: true }]);
  });

  it('refuses to change the language', async () => {
    const created = await createTransformation(api, { name: 'Fixed language' });
    expectEnvelope(await api.post(`/transformations/${created.id}`, { language: 'python' }), 400, 'language_immutable');
    expect(await versionCount(created.id)).toBe(1);
  });

  it('saves nothing when the code does not compile or the events fail', async () => {
    const created = await createTransformation(api, { name: 'Guarded update' });
    expectEnvelope(await api.post(`/transformations/${created.id}`, { code: 'export function transformEvent(e) {' }), 400, 'compile_error');
    const throwing = 'export function transformEvent(e) { throw new Error("nope"); }';
    expectEnvelope(await api.post(`/transformations/${created.id}`, { code: throwing, events: [{ a: 1 }] }), 400, 'events_failed');
    expect(await versionCount(created.id)).toBe(1);
    expect((await api.get(`/transformations/${created.id}`)).body.versionId).toBe(created.versionId);
  });

  it('answers 404 for an unknown or deleted id', async () => {
    expectEnvelope(await api.post('/transformations/unknown-id', { code: passThrough }), 404, 'not_found');
    const created = await createTransformation(api, { name: 'Deleted before update' });
    expect((await api.del(`/transformations/${created.id}`)).status).toBe(200);
    expectEnvelope(await api.post(`/transformations/${created.id}`, { code: passThrough }), 404, 'not_found');
  });
});

describe('DELETE /transformations/{id}', () => {
  it('stops resolving the id but keeps the versions', async () => {
    const created = await createTransformation(api, { name: 'Short-lived' });
    await api.post(`/transformations/${created.id}`, { code: tagging('b') });
    const answer = await api.del(`/transformations/${created.id}`);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ success: true });

    expectEnvelope(await api.get(`/transformations/${created.id}`), 404, 'not_found');
    expectEnvelope(await api.get(`/transformations/${created.id}/versions`), 404, 'not_found');
    expectEnvelope(await api.get(`/transformations/${created.id}/versions/${created.versionId}`), 404, 'not_found');
    expect((await api.get('/transformations')).body.transformations.some((t: { id: string }) => t.id === created.id)).toBe(false);
    expectEnvelope(await api.del(`/transformations/${created.id}`), 404, 'not_found');
    expect(await versionCount(created.id)).toBe(2);
  });

  it('succeeds when the client sends Content-Type: application/json with no body', async () => {
    const created = await createTransformation(api, { name: 'Deleted by curl' });
    const answer = await api.call('DELETE', `/transformations/${created.id}`, undefined, { 'content-type': 'application/json' });
    expect(answer.status).toBe(200);
  });
});

describe('GET /transformations/{id}/versions', () => {
  let id: string;
  const versionIds: string[] = [];

  beforeAll(async () => {
    const created = await createTransformation(api, { name: 'Many versions', code: tagging('0') });
    id = created.id;
    versionIds.push(created.versionId);
    for (let i = 1; i < 7; i++) {
      const answer = await api.post(`/transformations/${id}`, { code: tagging(String(i)) });
      versionIds.push(answer.body.versionId);
    }
    const published = await api.post('/transformations/libraries/publish', { transformations: [{ versionId: versionIds[3] }], libraries: [] });
    expect(published.status).toBe(200);
  });

  it('lists 5 versions, oldest first, by default, each with isPublished', async () => {
    const answer = await api.get(`/transformations/${id}/versions`);
    expect(answer.status).toBe(200);
    const entries = answer.body.TransformationVersions;
    expect(entries.map((v: { versionId: string }) => v.versionId)).toEqual(versionIds.slice(0, 5));
    expect(entries.map((v: { isPublished: boolean }) => v.isPublished)).toEqual([false, false, false, true, false]);
    expect(entries[0]).toMatchObject({ id, code: tagging('0'), codeVersion: '1', language: 'javascript', workspaceId: catalog.server.workspaceId, publishedVersionId: versionIds[3] });
    const times = entries.map((v: { createdAt: string }) => v.createdAt);
    expect([...times].sort()).toEqual(times);
  });

  it('takes count and orderBy (asc, desc, ASC, DESC)', async () => {
    const desc = await api.get(`/transformations/${id}/versions?count=3&orderBy=desc`);
    expect(desc.body.TransformationVersions.map((v: { versionId: string }) => v.versionId)).toEqual(versionIds.slice(-3).reverse());
    const upper = await api.get(`/transformations/${id}/versions?count=100&orderBy=DESC`);
    expect(upper.body.TransformationVersions.map((v: { versionId: string }) => v.versionId)).toEqual([...versionIds].reverse());
    const asc = await api.get(`/transformations/${id}/versions?count=2&orderBy=ASC`);
    expect(asc.body.TransformationVersions.map((v: { versionId: string }) => v.versionId)).toEqual(versionIds.slice(0, 2));
  });

  it('answers 400 for count out of range or not a number, and unknown orderBy', async () => {
    for (const query of ['count=0', 'count=1001', 'count=-1', 'count=abc', 'count=2.5', 'orderBy=sideways']) {
      expectEnvelope(await api.get(`/transformations/${id}/versions?${query}`), 400, 'invalid_field');
    }
  });

  it('gets one version, and 404 for a version of another transformation', async () => {
    const answer = await api.get(`/transformations/${id}/versions/${versionIds[3]}`);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ id, versionId: versionIds[3], code: tagging('3'), isPublished: true });
    const other = await createTransformation(api, { name: 'Other' });
    expectEnvelope(await api.get(`/transformations/${other.id}/versions/${versionIds[3]}`), 404, 'not_found');
    expectEnvelope(await api.get(`/transformations/${id}/versions/unknown`), 404, 'not_found');
  });
});

describe('authentication, scopes and workspaces', () => {
  it('answers 401 without credentials or with a bad token', async () => {
    const anonymous = client(catalog.server.url, undefined);
    const answer = await anonymous.get('/transformations');
    expectEnvelope(answer, 401, 'unauthorized');
    expect(answer.headers.get('www-authenticate')).toBe('Basic realm="tiller"');
    expectEnvelope(await client(catalog.server.url, 'Bearer not-a-token').post('/transformations', { name: 'x', code: passThrough }), 401);
    // The workspace token manages access tokens only.
    expectEnvelope(await client(catalog.server.url, catalog.server.workspaceAuth).get('/transformations'), 401);
  });

  it('accepts the access token in every Basic form', async () => {
    for (const auth of [basicAuth('', catalog.token), basicAuth(catalog.token, ''), `Bearer ${catalog.token}`]) {
      expect((await client(catalog.server.url, auth).get('/transformations')).status).toBe(200);
    }
  });

  it('lets a read-only token read and test but not change anything (403)', async () => {
    const { token } = await catalog.server.issueAccessToken({ name: 'reader', scopes: ['read'] });
    const reader = client(catalog.server.url, basicAuth('', token));
    const existing = await createTransformation(api, { name: 'Read me' });
    expect((await reader.get('/transformations')).status).toBe(200);
    expect((await reader.get(`/transformations/${existing.id}`)).status).toBe(200);
    expect((await reader.get(`/transformations/${existing.id}/versions`)).status).toBe(200);
    expectEnvelope(await reader.post('/transformations', { name: 'x', code: passThrough }), 403, 'insufficient_scope');
    expectEnvelope(await reader.post(`/transformations/${existing.id}`, { code: passThrough }), 403, 'insufficient_scope');
    expectEnvelope(await reader.del(`/transformations/${existing.id}`), 403, 'insufficient_scope');
    expectEnvelope(await reader.post('/transformations/libraries/publish', { transformations: [{ versionId: existing.versionId }] }), 403, 'insufficient_scope');
    const tested = await reader.post('/transformations/libraries/test', { transformations: [{ versionId: existing.versionId, testInput: [{ a: 1 }] }] });
    expect(tested.status).toBe(200);
    expect((await api.get(`/transformations/${existing.id}`)).body.versionId).toBe(existing.versionId);
  });

  it('refuses reads to a write-only token (403)', async () => {
    const { token } = await catalog.server.issueAccessToken({ name: 'writer', scopes: ['write'] });
    const writer = client(catalog.server.url, `Bearer ${token}`);
    expectEnvelope(await writer.get('/transformations'), 403, 'insufficient_scope');
    expect((await writer.post('/transformations', { name: 'Written', code: passThrough })).status).toBe(200);
  });

  it("answers 404 for another workspace's ids and never lists them", async () => {
    const other = await catalog.server.createWorkspace('other');
    const { token } = await catalog.server.issueAccessToken({ name: 'other-ci' }, other.workspaceAuth);
    const stranger = client(catalog.server.url, `Bearer ${token}`);
    const mine = await createTransformation(api, { name: 'Mine only' });

    expect((await stranger.get('/transformations')).body.transformations).toEqual([]);
    expectEnvelope(await stranger.get(`/transformations/${mine.id}`), 404, 'not_found');
    expectEnvelope(await stranger.get(`/transformations/${mine.id}/versions`), 404, 'not_found');
    expectEnvelope(await stranger.get(`/transformations/${mine.id}/versions/${mine.versionId}`), 404, 'not_found');
    expectEnvelope(await stranger.post(`/transformations/${mine.id}`, { code: tagging('stolen') }), 404, 'not_found');
    expectEnvelope(await stranger.del(`/transformations/${mine.id}`), 404, 'not_found');
    expectEnvelope(await stranger.post('/transformations/libraries/publish', { transformations: [{ versionId: mine.versionId }] }), 404, 'not_found');
    expectEnvelope(await stranger.post('/transformations/libraries/test', { transformations: [{ versionId: mine.versionId }] }), 404, 'not_found');
    expect((await api.get(`/transformations/${mine.id}`)).body).toMatchObject({ versionId: mine.versionId, publishedVersionId: null });
  });
});

describe('audit', () => {
  it('records create, update, publish and delete with the token id as actor', async () => {
    const created = await createTransformation(api, { name: 'Audited' });
    const updated = await api.post(`/transformations/${created.id}?publish=true`, { code: tagging('x') });
    await api.del(`/transformations/${created.id}`);
    const log = await client(catalog.server.url, catalog.server.workspaceAuth).get('/auditLog?limit=1000');
    expect(log.status).toBe(200);
    const mine = (log.body as { action: string; target: string; actor: { type: string; id: string }; reason: string | null }[]).filter((e) => e.target === created.id);
    expect(mine.map((e) => e.action).sort()).toEqual(['transformation.create', 'transformation.delete', 'transformation.publish', 'transformation.update']);
    for (const event of mine) expect(event.actor).toEqual({ type: 'access_token', id: catalog.tokenId, name: expect.any(String) });
    expect(mine.find((e) => e.action === 'transformation.publish')?.reason).toContain(updated.body.versionId);
  });
});
