import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wireEvent } from '../helpers/fixtures.js';
import { basicAuth } from '../helpers/server.js';
import { client, createLibrary, createTransformation, expectEnvelope, passThrough, startCatalog, type Catalog, type Client } from './transformations.helpers.js';

// Languages over real HTTP (spec sections 4, 5 and 7.4): javascript stays the default, pythonfaas
// (alias python, stored and answered as pythonfaas) is accepted for transformations and
// libraries, a language never changes, a transformation imports only libraries in its own
// language, and the config-backend and /workspaceConfig answers carry the stored language.
//
// What these tests check is the plumbing, not Python itself (test/api/python.test.ts runs real
// Python). So that they hold whichever runtime answers pythonfaas, the "Python" code below is a
// polyglot: a valid Python module (a floor division and a string, then the Python definitions)
// that is also a valid ES module (a number and a line comment, the JavaScript, then a block
// comment), with the same imports, exports and behaviour in both languages.

const polyglot = (js: string, py: string): string => `1 // 1; '''\n${js}\n/*'''\n${py}\n#*/\n`;

/** A transformation that sets event.rate from financeLib's rate, in JavaScript and in Python. */
const pyImportingFinance = (importName = 'financeLib'): string =>
  polyglot(
    `import { rate } from "${importName}";\nexport function transformEvent(event, metadata) { event.rate = rate; return event; }`,
    `from ${importName} import rate\ndef transformEvent(event, metadata):\n    event['rate'] = rate\n    return event`,
  );
const pyPassThrough = polyglot('export function transformEvent(event, metadata) { return event; }', 'def transformEvent(event, metadata):\n    return event');
const pyFinanceLibrary = polyglot('export const rate = 2;', 'rate = 2');

let catalog: Catalog;
let api: Client;
let owner: Client;

beforeAll(async () => {
  catalog = await startCatalog({ env: { TILLER_RUNTIME_PORT: '0' } });
  api = catalog.api;
  owner = client(catalog.server.url, catalog.server.workspaceAuth);
  const imported = await owner.call('PUT', '/workspaceConfig/base', {
    sources: [{ id: 'src-lang', name: 'Web', enabled: true, destinations: [{ id: 'dst-py', name: 'Webhook', enabled: true, config: {} }] }],
  });
  if (imported.status !== 200) throw new Error(`import: ${imported.status} ${JSON.stringify(imported.body)}`);
});

afterAll(async () => {
  await catalog?.server.close();
});

describe('transformations', () => {
  it('creates pythonfaas transformations, stores the python alias as pythonfaas, and lists and gets them with their language', async () => {
    const named = await api.post('/transformations?publish=false', { name: 'Py named', code: pyPassThrough, language: 'pythonfaas' });
    expect(named.status, JSON.stringify(named.body)).toBe(200);
    expect(named.body).toMatchObject({ language: 'pythonfaas', codeVersion: '1', imports: [] });
    const aliased = await api.post('/transformations?publish=false', { name: 'Py aliased', code: pyPassThrough, language: 'python' });
    expect(aliased.status, JSON.stringify(aliased.body)).toBe(200);
    expect(aliased.body.language).toBe('pythonfaas');
    const js = await api.post('/transformations?publish=false', { name: 'Js default', code: passThrough });
    expect(js.body.language).toBe('javascript');

    const listed = (await api.get('/transformations')).body.transformations as { id: string; language: string }[];
    expect(Object.fromEntries(listed.filter((t) => [named.body.id, aliased.body.id, js.body.id].includes(t.id)).map((t) => [t.id, t.language]))).toEqual({
      [named.body.id]: 'pythonfaas',
      [aliased.body.id]: 'pythonfaas',
      [js.body.id]: 'javascript',
    });
    expect((await api.get(`/transformations/${aliased.body.id}`)).body.language).toBe('pythonfaas');
    const versions = (await api.get(`/transformations/${aliased.body.id}/versions`)).body.TransformationVersions as { language: string }[];
    expect(versions.map((v) => v.language)).toEqual(['pythonfaas']);
    expect((await api.get(`/transformations/${aliased.body.id}/versions/${aliased.body.versionId}`)).body.language).toBe('pythonfaas');
  });

  it('keeps the language on update: its own name or alias is no change, another language is 400', async () => {
    const created = await createTransformation(api, { name: 'Py fixed', code: pyPassThrough, language: 'pythonfaas' });
    for (const language of ['python', 'pythonfaas', undefined]) {
      const updated = await api.post(`/transformations/${created.id}?publish=false`, { code: pyPassThrough, description: `as ${language}`, ...(language ? { language } : {}) });
      expect(updated.status, JSON.stringify(updated.body)).toBe(200);
      expect(updated.body.language).toBe('pythonfaas');
    }
    const refused = await api.post(`/transformations/${created.id}`, { language: 'javascript', code: passThrough });
    expectEnvelope(refused, 400, 'language_immutable');
    expect(refused.body.error.message).toContain('pythonfaas');
    expectEnvelope(await api.post(`/transformations/${created.id}`, { language: 'ruby' }), 400, 'language_immutable');

    const js = await createTransformation(api, { name: 'Js fixed' });
    expectEnvelope(await api.post(`/transformations/${js.id}`, { language: 'python' }), 400, 'language_immutable');
    expectEnvelope(await api.post(`/transformations/${js.id}`, { language: 'pythonfaas' }), 400, 'language_immutable');
    const versions = (await api.get(`/transformations/${created.id}/versions?count=10`)).body.TransformationVersions as { language: string }[];
    expect(versions).toHaveLength(4);
    expect(new Set(versions.map((v) => v.language))).toEqual(new Set(['pythonfaas']));
  });

  it('answers 400 unsupported_language naming the supported languages, and saves nothing', async () => {
    for (const language of ['ruby', 'Python', 'typescript', '']) {
      const answer = await api.post('/transformations', { name: `Unknown ${language}`, code: passThrough, language });
      expectEnvelope(answer, 400, 'unsupported_language');
      expect(answer.body.error.message).toContain('javascript');
      expect(answer.body.error.message).toContain('pythonfaas');
      expect(answer.body.error.field).toBe('language');
    }
    const names = ((await api.get('/transformations')).body.transformations as { name: string }[]).map((t) => t.name);
    expect(names.some((name) => name.startsWith('Unknown'))).toBe(false);
  });
});

describe('libraries', () => {
  it('creates pythonfaas libraries (alias python) and keeps their language on update', async () => {
    const created = await api.post('/libraries?publish=false', { name: 'Py Alias Lib', code: pyFinanceLibrary, language: 'python' });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    expect(created.body).toMatchObject({ language: 'pythonfaas', importName: 'pyAliasLib' });
    expect((await api.get(`/libraries/${created.body.id}`)).body.language).toBe('pythonfaas');
    const listed = ((await api.get('/libraries')).body.libraries as { id: string; language: string }[]).find((l) => l.id === created.body.id);
    expect(listed?.language).toBe('pythonfaas');

    const updated = await api.post(`/libraries/${created.body.id}?publish=false`, { code: pyFinanceLibrary, language: 'python' });
    expect(updated.status, JSON.stringify(updated.body)).toBe(200);
    expect(updated.body.language).toBe('pythonfaas');
    expect((await api.get(`/libraries/${created.body.id}/versions/${updated.body.versionId}`)).body.language).toBe('pythonfaas');
    expectEnvelope(await api.post(`/libraries/${created.body.id}`, { language: 'javascript' }), 400, 'language_immutable');
    expectEnvelope(await api.post('/libraries', { name: 'Cobol Lib', code: 'export const a = 1;', language: 'cobol' }), 400, 'unsupported_language');
  });
});

describe('imports across languages', () => {
  let jsLib: { id: string; versionId: string; importName: string };
  let pyLib: { id: string; versionId: string; importName: string };

  beforeAll(async () => {
    jsLib = await createLibrary(api, { name: 'Js Rates', code: 'export const rate = 3;' }, true);
    pyLib = await createLibrary(api, { name: 'Finance Lib', code: pyFinanceLibrary, language: 'pythonfaas' }, true);
  });

  it('refuses a Python transformation importing a JavaScript library, and the reverse, with 400 library_language_mismatch', async () => {
    const py = await api.post('/transformations?publish=false', { name: 'Py imports js', code: pyImportingFinance(jsLib.importName), language: 'pythonfaas' });
    expectEnvelope(py, 400, 'library_language_mismatch');
    expect(py.body.error.message).toContain(`"${jsLib.importName}" (javascript)`);
    expect(py.body.error.imports).toEqual([jsLib.importName]);
    // Drafts too: the library exists, in another language.
    expectEnvelope(await api.post('/transformations?publish=false', { name: 'Py imports js', code: pyImportingFinance(jsLib.importName), language: 'python' }), 400, 'library_language_mismatch');
    const js = await api.post('/transformations?publish=false', { name: 'Js imports py', code: `import { rate } from "${pyLib.importName}";\nexport function transformEvent(e) { e.rate = rate; return e; }` });
    expectEnvelope(js, 400, 'library_language_mismatch');
    expect(js.body.error.message).toContain(`"${pyLib.importName}" (pythonfaas)`);

    // An update cannot bring the import in either.
    const plain = await createTransformation(api, { name: 'Py plain', code: pyPassThrough, language: 'pythonfaas' });
    expectEnvelope(await api.post(`/transformations/${plain.id}?publish=false`, { code: pyImportingFinance(jsLib.importName) }), 400, 'library_language_mismatch');
  });

  it('refuses a listed library in another language in test, publish and inline test calls', async () => {
    const py = await createTransformation(api, { name: 'Py finance', code: pyImportingFinance(), language: 'pythonfaas' });
    const tested = await api.post('/transformations/libraries/test', { transformations: [{ versionId: py.versionId }], libraries: [{ versionId: jsLib.versionId }] });
    // jsLib is not imported by the code (it imports financeLib), so the Python library links.
    expect(tested.status, JSON.stringify(tested.body)).toBe(200);
    expect(tested.body.result.failedTestResults).toEqual([]);

    const inline = await api.post('/transformations/test', { code: pyImportingFinance(jsLib.importName), language: 'pythonfaas', libraries: [jsLib.versionId], events: [] });
    expectEnvelope(inline, 400, 'library_language_mismatch');
    expectEnvelope(await api.post('/transformations/test', { code: pyImportingFinance(jsLib.importName), language: 'python', events: [] }), 400, 'library_language_mismatch');
    expectEnvelope(await api.post('/transformations/test', { code: pyPassThrough, language: 'ruby', events: [] }), 400, 'unsupported_language');
  });

  it('lets a Python transformation import a Python library, in saves, tests, inline tests and publish', async () => {
    const created = await api.post('/transformations?publish=true', { name: 'Py finance published', code: pyImportingFinance(), language: 'python' });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    expect(created.body).toMatchObject({ language: 'pythonfaas', imports: [pyLib.importName], publishedVersionId: created.body.versionId });

    const tested = await api.post('/transformations/libraries/test', { transformations: [{ versionId: created.body.versionId, testInput: [{ type: 'track', event: 'x' }] }] });
    expect(tested.status, JSON.stringify(tested.body)).toBe(200);
    expect(tested.body.result.successTestResults[0].result.output.transformedEvents).toEqual([{ type: 'track', event: 'x', rate: 2 }]);

    // An inline test in Python with an unsaved Python library of the same import name (which wins).
    const inline = await api.post('/transformations/test', {
      code: pyImportingFinance(),
      language: 'pythonfaas',
      libraries: [{ name: 'Finance Lib', code: polyglot('export const rate = 5;', 'rate = 5') }],
      events: [{ type: 'track', event: 'y' }],
    });
    expect(inline.status, JSON.stringify(inline.body)).toBe(200);
    expect(inline.body.results).toEqual([{ statusCode: 200, output: { type: 'track', event: 'y', rate: 5 }, index: 0 }]);

    const published = await api.post('/transformations/libraries/publish', { transformations: [{ versionId: created.body.versionId }], libraries: [{ versionId: pyLib.versionId }] });
    expect(published.status, JSON.stringify(published.body)).toBe(200);
  });
});

describe('what rudder-server and rudder-transformer read', () => {
  let transformation: { id: string; versionId: string };
  let library: { id: string; versionId: string; importName: string };

  beforeAll(async () => {
    library = await createLibrary(api, { name: 'Served Py Lib', code: pyFinanceLibrary, language: 'python' }, true);
    const answer = await api.post('/transformations?publish=true', { name: 'Served Py', code: pyImportingFinance(library.importName), language: 'python', destinationIds: ['dst-py'] });
    if (answer.status !== 200) throw new Error(`create: ${answer.status} ${JSON.stringify(answer.body)}`);
    transformation = answer.body;
  });

  it('answers pythonfaas from the config-backend reads', async () => {
    const auth = basicAuth(catalog.server.workspaceToken);
    const reader = client(catalog.server.url, auth);
    const version = await reader.get(`/transformation/getByVersionId?versionId=${transformation.versionId}`);
    expect(version.status, JSON.stringify(version.body)).toBe(200);
    expect(version.body).toMatchObject({ id: transformation.id, versionId: transformation.versionId, codeVersion: '1', language: 'pythonfaas', imports: [library.importName] });
    const lib = await reader.get(`/transformationLibrary/getByVersionId?versionId=${library.versionId}`);
    expect(lib.status, JSON.stringify(lib.body)).toBe(200);
    expect(lib.body).toMatchObject({ id: library.id, versionId: library.versionId, importName: library.importName, language: 'pythonfaas' });
  });

  it('serves the published Python transformation with language pythonfaas in /workspaceConfig', async () => {
    const served = await owner.call('GET', '/workspaceConfig?fetchAll=true', undefined, { 'content-type': 'application/json' });
    expect(served.status).toBe(200);
    const destination = (served.body.sources as { destinations: { id: string; transformations: unknown[] }[] }[]).flatMap((s) => s.destinations).find((d) => d.id === 'dst-py');
    expect(destination?.transformations).toEqual([{ id: transformation.id, versionId: transformation.versionId, config: {}, language: 'pythonfaas' }]);
    expect((served.body.libraries as { versionId: string }[]).map((l) => l.versionId)).toContain(library.versionId);
  });

  it('runs a pythonfaas version at /customTransform (rudder-server posts Python transformations there too)', async () => {
    const token = await catalog.server.issueAccessToken({ name: 'wire', scopes: ['read'] });
    const events = [0, 1].map((n) => wireEvent(n, { versionId: transformation.versionId, libraries: [library.versionId] }));
    const res = await fetch(`${catalog.server.runtimeUrl}/customTransform`, { method: 'POST', headers: { authorization: basicAuth('', token.token), 'content-type': 'application/json' }, body: JSON.stringify(events) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { statusCode: number; output?: { rate?: number }; error?: string }[];
    expect(body.map((entry) => [entry.statusCode, entry.output?.rate, entry.error])).toEqual([
      [200, 2, undefined],
      [200, 2, undefined],
    ]);
  });
});
