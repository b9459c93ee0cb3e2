import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wireEvent } from '../helpers/fixtures.js';
import { basicAuth } from '../helpers/server.js';
import { client, createLibrary, createTransformation, expectEnvelope, startCatalog, type Catalog, type Client } from './transformations.helpers.js';

// Python transformations (language pythonfaas) end to end over real HTTP: the code really compiles
// and runs in the Python runtime: syntax errors with their place, test calls, imports of Python
// libraries by import name (stdlib imports are not libraries), publish with test events, and
// /customTransform of a published Python version. A Python interpreter starts in seconds, so every
// test here has a generous timeout.

const PY_TIMEOUT = 60_000;

const setX = "def transformEvent(event, metadata): event['x']=1; return event\n";

let catalog: Catalog;
let api: Client;

beforeAll(async () => {
  catalog = await startCatalog({ env: { TILLER_RUNTIME_PORT: '0' } });
  api = catalog.api;
  const owner = client(catalog.server.url, catalog.server.workspaceAuth);
  const imported = await owner.call('PUT', '/workspaceConfig/base', {
    sources: [{ id: 'src-py', name: 'Web', enabled: true, destinations: [{ id: 'dst-py', name: 'Webhook', enabled: true, config: {} }] }],
  });
  if (imported.status !== 200) throw new Error(`import: ${imported.status} ${JSON.stringify(imported.body)}`);
}, PY_TIMEOUT);

afterAll(async () => {
  await catalog?.server.close();
});

describe('saving Python code', () => {
  it(
    'reports a syntax error with its line and column, and saves nothing',
    async () => {
      const answer = await api.post('/transformations', { name: 'Broken py', code: 'def transformEvent(event, metadata):\n    return event +\n', language: 'pythonfaas' });
      expectEnvelope(answer, 400, 'compile_error');
      expect(answer.body.error.message).toMatch(/SyntaxError/);
      expect(answer.body.error.line).toBe(2);
      expect(answer.body.error.column).toEqual(expect.any(Number));
      const library = await api.post('/libraries', { name: 'Broken Py Lib', code: 'def f(:\n  pass\n', language: 'python' });
      expectEnvelope(library, 400, 'compile_error');
      expect(library.body.error.line).toBe(1);
      const names = ((await api.get('/transformations')).body.transformations as { name: string }[]).map((t) => t.name);
      expect(names).not.toContain('Broken py');
    },
    PY_TIMEOUT,
  );

  it(
    'requires an entry point and refuses JavaScript code as Python',
    async () => {
      expectEnvelope(await api.post('/transformations', { name: 'No entry', code: 'def other(event):\n    return event\n', language: 'pythonfaas' }), 400, 'missing_entry_point');
      expectEnvelope(await api.post('/transformations', { name: 'Js as py', code: 'export function transformEvent(event) { return event; }', language: 'pythonfaas' }), 400, 'compile_error');
    },
    PY_TIMEOUT,
  );

  it(
    'records library imports, not standard-library ones; a Python library may import only the standard library',
    async () => {
      await createLibrary(api, { name: 'Py Helpers', code: 'import json\n\ndef dumps(value):\n    return json.dumps(value)\n', language: 'pythonfaas' });
      const answer = await api.post('/transformations?publish=false', {
        name: 'Py imports',
        code: 'import json\nimport re\nfrom pyHelpers import dumps\n\ndef transformEvent(event, metadata):\n    return event\n',
        language: 'python',
      });
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(answer.body).toMatchObject({ language: 'pythonfaas', imports: ['pyHelpers'] });
      expectEnvelope(await api.post('/libraries', { name: 'Py Importing Lib', code: 'import pyHelpers\n', language: 'pythonfaas' }), 400, 'library_imports_not_allowed');
    },
    PY_TIMEOUT,
  );
});

describe('running Python code', () => {
  it(
    'runs an inline test call in Python',
    async () => {
      const answer = await api.post('/transformations/test', { code: setX, language: 'python', events: [{ type: 'track', event: 'a' }] });
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(answer.body.results).toEqual([{ statusCode: 200, output: { type: 'track', event: 'a', x: 1 }, index: 0 }]);
    },
    PY_TIMEOUT,
  );

  it(
    'links unsaved and saved Python libraries by import name, both import styles',
    async () => {
      const inline = await api.post('/transformations/test', {
        code: "import financeLib\nfrom financeLib import rate\n\ndef transformEvent(event, metadata):\n    event['rate'] = rate\n    event['double'] = financeLib.double(rate)\n    return event\n",
        language: 'pythonfaas',
        libraries: [{ name: 'Finance Lib', code: 'rate = 3\n\ndef double(x):\n    return 2 * x\n' }],
        events: [{ type: 'track' }],
      });
      expect(inline.status, JSON.stringify(inline.body)).toBe(200);
      expect(inline.body.results).toEqual([{ statusCode: 200, output: { type: 'track', rate: 3, double: 6 }, index: 0 }]);

      const saved = await createLibrary(api, { name: 'Tax Lib', code: 'def withTax(amount):\n    return round(amount * 1.2, 2)\n', language: 'python' }, true);
      const run = await api.post('/transformations/test', {
        code: `from ${saved.importName} import withTax\n\ndef transformEvent(event, metadata):\n    event['total'] = withTax(event['amount'])\n    return event\n`,
        language: 'pythonfaas',
        events: [{ amount: 10 }],
      });
      expect(run.status, JSON.stringify(run.body)).toBe(200);
      expect(run.body.results).toEqual([{ statusCode: 200, output: { amount: 10, total: 12 }, index: 0 }]);
    },
    PY_TIMEOUT,
  );

  it(
    'reports an exception of one event as that event\'s 400',
    async () => {
      const answer = await api.post('/transformations/test', {
        code: "def transformEvent(event, metadata):\n    if event.get('bad'):\n        raise ValueError('bad event')\n    return event\n",
        language: 'pythonfaas',
        events: [{ ok: 1 }, { bad: true }],
      });
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(answer.body.results[0]).toEqual({ statusCode: 200, output: { ok: 1 }, index: 0 });
      expect(answer.body.results[1]).toMatchObject({ statusCode: 400, index: 1, error: expect.stringContaining('bad event') });
    },
    PY_TIMEOUT,
  );

  it(
    'saves with test events only when the code runs on them, and publishes after testing',
    async () => {
      const failing = await api.post('/transformations?publish=false', {
        name: 'Py fails events',
        code: "def transformEvent(event, metadata):\n    return event['missing']\n",
        language: 'pythonfaas',
        events: [{ type: 'track' }],
      });
      expectEnvelope(failing, 400, 'events_failed');

      const created = await api.post('/transformations?publish=true', { name: 'Py published', code: setX, language: 'python', events: [{ type: 'track', event: 'e' }] });
      expect(created.status, JSON.stringify(created.body)).toBe(200);
      expect(created.body).toMatchObject({ language: 'pythonfaas', publishedVersionId: created.body.versionId });

      const updated = await api.post(`/transformations/${created.body.id}?publish=false`, { code: "def transformEvent(event, metadata):\n    event['x'] = 2\n    return event\n" });
      expect(updated.status, JSON.stringify(updated.body)).toBe(200);
      const tested = await api.post('/transformations/libraries/test', { transformations: [{ versionId: updated.body.versionId, testInput: [{ type: 'track' }] }] });
      expect(tested.status, JSON.stringify(tested.body)).toBe(200);
      expect(tested.body.result.successTestResults[0].result.output.transformedEvents).toEqual([{ type: 'track', x: 2 }]);
      const published = await api.post('/transformations/libraries/publish', { transformations: [{ versionId: updated.body.versionId, testInput: [{ type: 'track' }] }] });
      expect(published.status, JSON.stringify(published.body)).toBe(200);
      expect((await api.get(`/transformations/${created.body.id}`)).body.publishedVersionId).toBe(updated.body.versionId);

      const run = await api.post(`/transformations/${created.body.id}/run`, { events: [{ type: 'identify' }] });
      expect(run.status, JSON.stringify(run.body)).toBe(200);
      expect(run.body.results).toEqual([{ statusCode: 200, output: { type: 'identify', x: 2 }, index: 0 }]);
    },
    PY_TIMEOUT,
  );

  it(
    'answers /customTransform for a published Python version, with its Python library',
    async () => {
      const library = await createLibrary(api, { name: 'Wire Py Lib', code: "def tag(event):\n    event['tagged'] = 'py'\n    return event\n", language: 'python' }, true);
      const created = await api.post('/transformations?publish=true', {
        name: 'Py wire',
        code: `from ${library.importName} import tag\n\ndef transformEvent(event, metadata):\n    event = tag(event)\n    event['jobId'] = metadata(event).get('jobId')\n    return event\n`,
        language: 'pythonfaas',
        destinationIds: ['dst-py'],
      });
      expect(created.status, JSON.stringify(created.body)).toBe(200);
      const token = await catalog.server.issueAccessToken({ name: 'wire', scopes: ['read'] });
      const events = [1, 2, 3].map((n) => wireEvent(n, { versionId: created.body.versionId, libraries: [library.versionId], destinationId: 'dst-py', sourceId: 'src-py' }));
      const res = await fetch(`${catalog.server.runtimeUrl}/customTransform`, { method: 'POST', headers: { authorization: basicAuth('', token.token), 'content-type': 'application/json' }, body: JSON.stringify(events) });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { statusCode: number; output?: Record<string, unknown>; metadata: { jobId: number } }[];
      expect(body.map((entry) => [entry.statusCode, entry.output?.tagged, entry.output?.jobId, entry.metadata.jobId])).toEqual([
        [200, 'py', 1, 1],
        [200, 'py', 2, 2],
        [200, 'py', 3, 3],
      ]);
    },
    PY_TIMEOUT,
  );

  it(
    'runs a stored Python version by id, its libraries in Python only',
    async () => {
      const transformation = await createTransformation(api, { name: 'Py by id', code: setX, language: 'pythonfaas' });
      const run = await api.post(`/transformations/${transformation.id}/versions/${transformation.versionId}/run`, { events: [{ n: 1 }] });
      expect(run.status, JSON.stringify(run.body)).toBe(200);
      expect(run.body.results).toEqual([{ statusCode: 200, output: { n: 1, x: 1 }, index: 0 }]);
    },
    PY_TIMEOUT,
  );
});
