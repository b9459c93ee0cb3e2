import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuth } from '../helpers/server.js';
import { client, createLibrary, createTransformation, expectEnvelope, passThrough, startCatalog, tagging, type Catalog, type Client } from './transformations.helpers.js';

// Publish and test (spec section 6) and the inline test call (7.2) over real HTTP: the CI flows
// that drive Tiller from git, all-or-nothing publishing, rollback, and every error they answer.

let catalog: Catalog;
let api: Client;

beforeAll(async () => {
  catalog = await startCatalog();
  api = catalog.api;
});

afterAll(async () => {
  await catalog?.server.close();
});

async function published(path: 'transformations' | 'libraries', id: string): Promise<string | null> {
  return (await api.get(`/${path}/${id}`)).body.publishedVersionId;
}

/** Runs the published version through the runtime's run endpoint. */
async function runPublished(id: string, events: unknown[]): Promise<unknown[]> {
  const answer = await api.post(`/transformations/${id}/run`, { events });
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return (answer.body.results as { output: unknown }[]).map((r) => r.output);
}

describe('the CI flow (rudder-transformation-action)', () => {
  // What a CI job keeps in git: one library, one transformation importing it, test input, expected output.
  const libraryMeta = { name: 'getFinanceData', description: 'finance helpers', language: 'javascript' };
  const transformationMeta = { name: 'Enrich revenue', description: 'adds profit', language: 'javascript' };
  const libraryCode = (margin: number) => `export function getProfit(finance) {\n  return Number(finance.price || 0) * ${margin};\n}\n`;
  const transformationCode = 'import { getProfit } from "getFinanceData";\nexport function transformEvent(event, metadata) {\n  event.properties.profit = getProfit(event.properties);\n  log("profit", event.properties.profit);\n  return event;\n}\n';
  const testInput = [
    { type: 'track', event: 'Order Completed', userId: 'u1', properties: { price: 10 } },
    { type: 'track', event: 'Order Completed', userId: 'u2', properties: { price: 4 } },
  ];
  const expected = (margin: number) => testInput.map((e) => ({ ...e, properties: { ...e.properties, profit: e.properties.price * margin } }));

  /**
   * One CI run, as the action does it: upsert by name, test, compare, publish. The action saves
   * transformations before libraries; a transformation may only import an existing library, so a
   * first run with a new library must save the library first (`libraryFirst`).
   */
  async function ciRun(margin: number, ci: Client, libraryFirst: boolean): Promise<{ transformation: { id: string; versionId: string }; library: { id: string; versionId: string } }> {
    const transformations = (await ci.get('/transformations')).body.transformations as { id: string; name: string }[];
    const libraries = (await ci.get('/libraries')).body.libraries as { id: string; name: string }[];
    const existingTransformation = transformations.find((t) => t.name === transformationMeta.name);
    const existingLibrary = libraries.find((l) => l.name === libraryMeta.name);

    const upsertTransformation = () =>
      existingTransformation
        ? ci.post(`/transformations/${existingTransformation.id}?publish=false`, { description: transformationMeta.description, code: transformationCode, language: 'javascript' })
        : ci.post('/transformations?publish=false', { ...transformationMeta, code: transformationCode });
    const upsertLibrary = () =>
      existingLibrary
        ? ci.post(`/libraries/${existingLibrary.id}?publish=false`, { description: libraryMeta.description, code: libraryCode(margin), language: 'javascript' })
        : ci.post('/libraries?publish=false', { ...libraryMeta, code: libraryCode(margin) });
    let transformation;
    let library;
    if (libraryFirst) {
      library = await upsertLibrary();
      transformation = await upsertTransformation();
    } else {
      transformation = await upsertTransformation();
      library = await upsertLibrary();
    }
    expect(transformation.status, JSON.stringify(transformation.body)).toBe(200);
    expect(library.status, JSON.stringify(library.body)).toBe(200);

    const transformationTest = [{ versionId: transformation.body.versionId, testInput }];
    const librariesTest = [{ versionId: library.body.versionId }];
    const tested = await ci.post('/transformations/libraries/test', { transformations: transformationTest, libraries: librariesTest });
    expect(tested.status).toBe(200);
    expect(tested.body.result.failedTestResults).toEqual([]);
    const success = tested.body.result.successTestResults[0];
    expect(success.transformerVersionID).toBe(transformation.body.versionId);
    expect(success.result.output.transformedEvents).toEqual(expected(margin));
    expect(success.result.logs).toEqual([`profit ${10 * margin}`, `profit ${4 * margin}`]);

    const publish = await ci.post('/transformations/libraries/publish', { transformations: transformationTest, libraries: librariesTest, commitId: `commit-${margin}` });
    expect(publish.status, JSON.stringify(publish.body)).toBe(200);
    expect(publish.body).toEqual({ published: true });
    return { transformation: transformation.body, library: library.body };
  }

  it('creates, tests, compares and publishes, then updates and publishes again', async () => {
    // The action authenticates with Basic base64(<email>:<token>); an empty user name is the same token.
    const ci = client(catalog.server.url, basicAuth('', catalog.token));
    const first = await ciRun(2, ci, true);
    let listed = (await ci.get('/transformations')).body.transformations.find((t: { id: string }) => t.id === first.transformation.id);
    expect(listed.publishedVersionId).toBe(first.transformation.versionId);
    expect(await published('libraries', first.library.id)).toBe(first.library.versionId);
    expect(await runPublished(first.transformation.id, testInput)).toEqual(expected(2));

    const second = await ciRun(3, ci, false);
    expect(second.transformation.id).toBe(first.transformation.id);
    expect(second.transformation.versionId).not.toBe(first.transformation.versionId);
    listed = (await ci.get('/transformations')).body.transformations.find((t: { id: string }) => t.id === first.transformation.id);
    expect(listed.publishedVersionId).toBe(second.transformation.versionId);
    expect(await runPublished(first.transformation.id, testInput)).toEqual(expected(3));

    const audit = await client(catalog.server.url, catalog.server.workspaceAuth).get('/auditLog?limit=1000');
    const publishes = (audit.body as { action: string; target: string; reason: string }[]).filter((e) => e.action === 'transformation.publish' && e.target === first.transformation.id);
    expect(publishes.map((e) => e.reason)).toEqual(expect.arrayContaining([expect.stringContaining('commit commit-2'), expect.stringContaining('commit commit-3')]));
  });
});

describe('POST /transformations/tests/run', () => {
  it('reports pass and fail per test case, comparing expectedOutput by deep equality', async () => {
    const lib = await createLibrary(api, { name: 'Suite Helpers', code: 'export const label = (e) => `${e.event}!`;' });
    const t = await createTransformation(api, { name: 'Suite subject', code: 'import { label } from "suiteHelpers";\nexport function transformEvent(e) {\n  if (e.drop) return null;\n  return { label: label(e), n: e.n };\n}\n' });
    const answer = await api.post('/transformations/tests/run', {
      transformations: [
        {
          versionId: t.versionId,
          testSuite: [
            // Key order does not matter to the comparison.
            { id: 'c1', name: 'labels', description: 'labels events', input: [{ event: 'a', n: 1 }], expectedOutput: [{ n: 1, label: 'a!' }] },
            { id: 'c2', name: 'drops', input: [{ event: 'b', drop: true }, { event: 'c', n: 2 }], expectedOutput: [{ label: 'c!', n: 2 }] },
            { id: 'c3', name: 'wrong expectation', input: [{ event: 'd', n: 3 }], expectedOutput: [{ label: 'd?', n: 3 }] },
            { name: 'no expectation', input: [{ event: 'e' }] },
          ],
        },
      ],
      libraries: [{ versionId: lib.versionId }],
    });
    expect(answer.status).toBe(200);
    expect(answer.body.pass).toBe(false);
    const [result] = answer.body.validationOutput.transformations;
    expect(result).toMatchObject({ id: t.id, versionId: t.versionId, pass: false, testResult: { status: 'failed' } });
    expect(result.testResult.results.map((r: { id: string; status: string }) => [r.id, r.status])).toEqual([
      ['c1', 'passed'],
      ['c2', 'passed'],
      ['c3', 'failed'],
      ['4', 'passed'],
    ]);
    expect(result.testResult.results[1]).toMatchObject({ actualOutput: [{ label: 'c!', n: 2 }], dropped: [0] });
    expect(result.testResult.results[2]).toMatchObject({ actualOutput: [{ label: 'd!', n: 3 }], errors: [{ code: 'output_mismatch', message: expect.any(String) }] });
    expect(answer.body.validationOutput.libraries).toEqual([{ id: lib.id, name: 'Suite Helpers', handleName: 'suiteHelpers', versionId: lib.versionId, pass: false }]);
  });

  it('passes when every case passes, and reports runtime errors per case', async () => {
    const t = await createTransformation(api, { code: 'export function transformEvent(e) {\n  if (e.bad) throw new Error("bad event");\n  return e;\n}\n' });
    const passing = await api.post('/transformations/tests/run', { transformations: [{ versionId: t.versionId, testSuite: [{ name: 'ok', input: [{ a: 1 }], expectedOutput: [{ a: 1 }] }] }], libraries: [] });
    expect(passing.body).toMatchObject({ pass: true, validationOutput: { transformations: [{ pass: true, testResult: { status: 'passed' } }], libraries: [] } });

    const failing = await api.post('/transformations/tests/run', { transformations: [{ versionId: t.versionId, testSuite: [{ name: 'throws', input: [{ a: 1 }, { bad: true }] }] }] });
    expect(failing.body.pass).toBe(false);
    expect(failing.body.validationOutput.transformations[0].testResult.results[0]).toMatchObject({
      status: 'failed',
      actualOutput: [{ a: 1 }],
      errors: [{ index: 1, message: expect.stringContaining('bad event') }],
    });
  });

  it('uses the sample track event when a transformation has no test input', async () => {
    const t = await createTransformation(api, { code: 'export function transformEvent(e) { return { type: e.type, event: e.event }; }' });
    const answer = await api.post('/transformations/tests/run', { transformations: [{ versionId: t.versionId }] });
    expect(answer.body.pass).toBe(true);
    expect(answer.body.validationOutput.transformations[0].testResult.results[0].actualOutput).toEqual([{ type: 'track', event: 'Product Purchased' }]);
  });
});

describe('POST /transformations/libraries/test', () => {
  it('reports failures in failedTestResults with id, name and the error, and saves nothing', async () => {
    const good = await createTransformation(api, { name: 'Good one', code: tagging('good') });
    const bad = await createTransformation(api, { name: 'Bad one', code: 'export function transformEvent(e) {\n  log("about to fail");\n  throw new Error("cannot handle " + e.event);\n}\n' });
    const answer = await api.post('/transformations/libraries/test', {
      transformations: [
        { versionId: good.versionId, testInput: [{ event: 'x' }] },
        { versionId: bad.versionId, testInput: [{ event: 'x' }] },
      ],
      libraries: [],
    });
    expect(answer.status).toBe(200);
    expect(answer.body.result.successTestResults).toEqual([
      { transformerVersionID: good.versionId, id: good.id, name: 'Good one', result: { output: { transformedEvents: [{ event: 'x', tag: 'good' }], dropped: [] }, logs: [] } },
    ]);
    expect(answer.body.result.failedTestResults).toEqual([
      {
        id: bad.id,
        name: 'Bad one',
        transformerVersionID: bad.versionId,
        result: {
          message: expect.stringContaining('cannot handle x'),
          errors: [{ caseId: 'testInput', index: 0, message: expect.stringContaining('cannot handle x') }],
          logs: ['about to fail'],
          output: { transformedEvents: [] },
        },
      },
    ]);
    expect(await published('transformations', good.id)).toBeNull();
  });

  it('links listed library versions, else published ones, else the latest of a never-published library', async () => {
    const lib = await createLibrary(api, { name: 'Versions Matter', code: 'export const v = 1;' }, true);
    const v2 = await api.post(`/libraries/${lib.id}?publish=false`, { code: 'export const v = 2;' });
    const fresh = await createLibrary(api, { name: 'Never Published', code: 'export const w = 10;' });
    const t = await createTransformation(api, { code: 'import { v } from "versionsMatter";\nimport { w } from "neverPublished";\nexport function transformEvent(e) { return { v, w }; }' });
    const run = async (libraries: { versionId: string }[]) =>
      (await api.post('/transformations/libraries/test', { transformations: [{ versionId: t.versionId, testInput: [{}] }], libraries })).body.result.successTestResults[0].result.output.transformedEvents;
    expect(await run([])).toEqual([{ v: 1, w: 10 }]);
    expect(await run([{ versionId: v2.body.versionId }])).toEqual([{ v: 2, w: 10 }]);
    expect(await run([{ versionId: lib.versionId }, { versionId: fresh.versionId }])).toEqual([{ v: 1, w: 10 }]);
  });

  it('tests two versions of one transformation side by side', async () => {
    const t = await createTransformation(api, { code: tagging('old') });
    const newer = await api.post(`/transformations/${t.id}`, { code: tagging('new') });
    const answer = await api.post('/transformations/libraries/test', { transformations: [{ versionId: t.versionId, testInput: [{}] }, { versionId: newer.body.versionId, testInput: [{}] }] });
    expect(answer.body.result.successTestResults.map((r: { result: { output: { transformedEvents: unknown[] } } }) => r.result.output.transformedEvents)).toEqual([[{ tag: 'old' }], [{ tag: 'new' }]]);
  });

  it('runs transformBatch code', async () => {
    const t = await createTransformation(api, { code: 'export function transformBatch(events, metadata) {\n  return events.map((e, i) => ({ ...e, position: i }));\n}\n' });
    const answer = await api.post('/transformations/libraries/test', { transformations: [{ versionId: t.versionId, testInput: [{ a: 1 }, { a: 2 }] }] });
    expect(answer.body.result.successTestResults[0].result.output.transformedEvents).toEqual([
      { a: 1, position: 0 },
      { a: 2, position: 1 },
    ]);
  });

  it('answers 400 when nothing is listed, and for malformed test input', async () => {
    expectEnvelope(await api.post('/transformations/libraries/test', { transformations: [], libraries: [] }), 400, 'nothing_to_test');
    expectEnvelope(await api.post('/transformations/libraries/test', {}), 400, 'nothing_to_test');
    const t = await createTransformation(api, {});
    expectEnvelope(await api.post('/transformations/libraries/test', { transformations: [{ versionId: t.versionId, testInput: 'events' }] }), 400, 'invalid_field');
    expectEnvelope(await api.post('/transformations/libraries/test', { transformations: [{ versionId: t.versionId, testInput: [1, 2] }] }), 400, 'invalid_field');
    expectEnvelope(await api.post('/transformations/libraries/test', { transformations: [{ testInput: [] }] }), 400, 'missing_field');
  });

  it('answers 404 naming unknown version ids', async () => {
    const t = await createTransformation(api, {});
    const answer = await api.post('/transformations/libraries/test', { transformations: [{ versionId: t.versionId }, { versionId: 'nope-1' }], libraries: [{ versionId: 'nope-2' }] });
    expectEnvelope(answer, 404, 'not_found');
    expect(answer.body.error.transformationVersionIds).toEqual(['nope-1']);
    expect(answer.body.error.message).toContain('nope-1');
    const libraries = await api.post('/transformations/tests/run', { transformations: [{ versionId: t.versionId }], libraries: [{ versionId: 'nope-2' }] });
    expectEnvelope(libraries, 404, 'not_found');
    expect(libraries.body.error.libraryVersionIds).toEqual(['nope-2']);
  });

  it('answers 400 for two versions of one library', async () => {
    const lib = await createLibrary(api, { name: 'Twice Listed', code: 'export const v = 1;' });
    const v2 = await api.post(`/libraries/${lib.id}`, { code: 'export const v = 2;' });
    const t = await createTransformation(api, {});
    expectEnvelope(
      await api.post('/transformations/libraries/test', { transformations: [{ versionId: t.versionId }], libraries: [{ versionId: lib.versionId }, { versionId: v2.body.versionId }] }),
      400,
      'duplicate_library',
    );
  });
});

describe('publish', () => {
  it('is accepted at every documented path', async () => {
    for (const path of ['/transformations/libraries/publish', '/libraries/publish', '/transformations/publish']) {
      const t = await createTransformation(api, { code: tagging(path) });
      const answer = await api.post(path, { transformations: [{ versionId: t.versionId }], libraries: [] });
      expect(answer.status, path).toBe(200);
      expect(answer.body).toEqual({ published: true });
      expect(await published('transformations', t.id)).toBe(t.versionId);
    }
  });

  it('publishes libraries alone', async () => {
    const lib = await createLibrary(api, { name: 'Alone', code: 'export const v = 1;' });
    expect((await api.post('/libraries/publish', { libraries: [{ versionId: lib.versionId }] })).status).toBe(200);
    expect(await published('libraries', lib.id)).toBe(lib.versionId);
  });

  it('rolls back by publishing an older version id', async () => {
    const t = await createTransformation(api, { code: tagging('v1') }, true);
    const v2 = await api.post(`/transformations/${t.id}?publish=true`, { code: tagging('v2') });
    expect(await runPublished(t.id, [{}])).toEqual([{ tag: 'v2' }]);

    expect((await api.post('/transformations/publish', { transformations: [{ versionId: t.versionId }] })).status).toBe(200);
    expect(await published('transformations', t.id)).toBe(t.versionId);
    expect(await runPublished(t.id, [{}])).toEqual([{ tag: 'v1' }]);
    // The latest version stays what it was; only the published pointer moved.
    expect((await api.get(`/transformations/${t.id}`)).body.versionId).toBe(v2.body.versionId);
    const versions = (await api.get(`/transformations/${t.id}/versions`)).body.TransformationVersions;
    expect(versions.map((v: { isPublished: boolean }) => v.isPublished)).toEqual([true, false]);
  });

  it('publishes nothing when any test fails (all or nothing)', async () => {
    const lib = await createLibrary(api, { name: 'All Or Nothing', code: 'export const v = 1;' }, true);
    const libV2 = await api.post(`/libraries/${lib.id}`, { code: 'export const v = 2;' });
    const good = await createTransformation(api, { name: 'Fine', code: 'import { v } from "allOrNothing";\nexport function transformEvent(e) { e.v = v; return e; }' }, true);
    const goodV2 = await api.post(`/transformations/${good.id}`, { code: 'import { v } from "allOrNothing";\nexport function transformEvent(e) { e.v = v * 10; return e; }' });
    const bad = await createTransformation(api, { name: 'Fails on missing userId', code: 'export function transformEvent(e) { if (!e.userId) throw new Error("userId missing"); return e; }', events: [{ userId: 'u' }] });

    const answer = await api.post('/transformations/libraries/publish', {
      transformations: [{ versionId: goodV2.body.versionId, testInput: [{ a: 1 }] }, { versionId: bad.versionId, testInput: [{ userId: 'u' }, { anonymousId: 'a' }] }],
      libraries: [{ versionId: libV2.body.versionId }],
    });
    expectEnvelope(answer, 400, 'test_failed');
    expect(answer.body.error.message).toContain('Fails on missing userId');
    expect(answer.body.error.failedTestResults).toEqual([expect.objectContaining({ id: bad.id, name: 'Fails on missing userId', transformerVersionID: bad.versionId })]);
    expect(answer.body.error.failedTestResults[0].result.errors[0]).toMatchObject({ index: 1, message: expect.stringContaining('userId missing') });

    expect(await published('transformations', good.id)).toBe(good.versionId);
    expect(await published('transformations', bad.id)).toBeNull();
    expect(await published('libraries', lib.id)).toBe(lib.versionId);
  });

  it('runs the sample event when no test input is given, and refuses when it fails', async () => {
    const picky = await createTransformation(api, { code: 'export function transformEvent(e) { if (e.type === "track") throw new Error("tracks are not handled"); return e; }' });
    const answer = await api.post('/transformations/publish', { transformations: [{ versionId: picky.versionId }] });
    expectEnvelope(answer, 400, 'test_failed');
    expect(answer.body.error.message).toContain('tracks are not handled');
    expect(await published('transformations', picky.id)).toBeNull();
    const withInput = await api.post('/transformations/publish', { transformations: [{ versionId: picky.versionId, testInput: [{ type: 'identify' }] }] });
    expect(withInput.status).toBe(200);
  });

  it('refuses to publish a transformation whose import has no published version unless it is listed', async () => {
    const lib = await createLibrary(api, { name: 'Unpublished Import', code: 'export const v = 1;' });
    const t = await createTransformation(api, { code: 'import { v } from "unpublishedImport";\nexport function transformEvent(e) { e.v = v; return e; }' });
    const refused = await api.post('/transformations/publish', { transformations: [{ versionId: t.versionId }] });
    expectEnvelope(refused, 400, 'test_failed');
    expect(refused.body.error.failedTestResults[0].result.errors[0].code).toBe('unpublished_import');
    expectEnvelope(await api.post(`/transformations/${t.id}?publish=true`, {}), 400, 'unpublished_import');

    const both = await api.post('/transformations/publish', { transformations: [{ versionId: t.versionId }], libraries: [{ versionId: lib.versionId }] });
    expect(both.status).toBe(200);
    expect(await published('libraries', lib.id)).toBe(lib.versionId);
    expect(await runPublished(t.id, [{}])).toEqual([{ v: 1 }]);
  });

  it('answers 400 when both arrays are empty, or two versions of one transformation are listed', async () => {
    expectEnvelope(await api.post('/transformations/libraries/publish', { transformations: [], libraries: [] }), 400, 'nothing_to_publish');
    expectEnvelope(await api.post('/libraries/publish', {}), 400, 'nothing_to_publish');
    const t = await createTransformation(api, { code: tagging('a') });
    const v2 = await api.post(`/transformations/${t.id}`, { code: tagging('b') });
    expectEnvelope(await api.post('/transformations/publish', { transformations: [{ versionId: t.versionId }, { versionId: v2.body.versionId }] }), 400, 'duplicate_transformation');
    expect(await published('transformations', t.id)).toBeNull();
  });

  it('answers 404 for unknown version ids and for versions of deleted transformations or libraries', async () => {
    const answer = await api.post('/transformations/libraries/publish', { transformations: [{ versionId: 'missing-version' }], libraries: [] });
    expectEnvelope(answer, 404, 'not_found');
    expect(answer.body.error.transformationVersionIds).toEqual(['missing-version']);

    const t = await createTransformation(api, {});
    await api.del(`/transformations/${t.id}`);
    expectEnvelope(await api.post('/transformations/publish', { transformations: [{ versionId: t.versionId }] }), 404, 'not_found');
    const lib = await createLibrary(api, { name: 'Deleted Before Publish', code: 'export const v = 1;' });
    await api.del(`/libraries/${lib.id}`);
    expectEnvelope(await api.post('/libraries/publish', { libraries: [{ versionId: lib.versionId }] }), 404, 'not_found');
  });

  it('answers 400 for malformed bodies', async () => {
    expectEnvelope(await api.post('/transformations/publish', { transformations: 'all' }), 400, 'invalid_field');
    expectEnvelope(await api.post('/transformations/publish', { transformations: [{ versionId: '' }] }), 400, 'invalid_field');
    expectEnvelope(await api.post('/transformations/publish', { libraries: [{}] }), 400, 'missing_field');
    expectEnvelope(await api.call('POST', '/transformations/publish', 'not json', { 'content-type': 'application/json' }), 400, 'invalid_json');
  });
});

describe('POST /transformations/test (inline code)', () => {
  it('runs unsaved code on events and answers like the run endpoints', async () => {
    const before = (await api.get('/transformations')).body.transformations.length;
    const code = 'export function transformEvent(event, meta) {\n  log("saw", event.n);\n  if (event.n === 2) return null;\n  if (event.n === 3) throw new Error("three");\n  if (event.n === 4) return [{ n: 4, part: 1 }, { n: 4, part: 2 }];\n  return { n: event.n, source: metadata(event).sourceId };\n}\n';
    const answer = await api.post('/transformations/test', { code, events: [{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }], metadata: [{ sourceId: 'src-1' }] });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body).toEqual({
      results: [
        { index: 0, statusCode: 200, output: { n: 1, source: 'src-1' } },
        { index: 2, statusCode: 400, error: expect.stringContaining('three') },
        { index: 3, statusCode: 200, output: { n: 4, part: 1 } },
        { index: 3, statusCode: 200, output: { n: 4, part: 2 } },
      ],
      dropped: [1],
      logs: ['saw 1', 'saw 2', 'saw 3', 'saw 4'],
    });
    expect((await api.get('/transformations')).body.transformations.length).toBe(before);
  });

  it('links library versions given as ids or { versionId }, else the published or latest ones', async () => {
    const lib = await createLibrary(api, { name: 'Inline Lib', code: 'export default (x) => x + 1;' }, true);
    const v2 = await api.post(`/libraries/${lib.id}`, { code: 'export default (x) => x + 100;' });
    const code = 'import bump from "inlineLib";\nexport function transformEvent(e) { e.n = bump(e.n); return e; }';
    const outputOf = async (libraries?: unknown[]) => (await api.post('/transformations/test', { code, events: [{ n: 1 }], ...(libraries ? { libraries } : {}) })).body.results[0].output;
    expect(await outputOf()).toEqual({ n: 2 });
    expect(await outputOf([v2.body.versionId])).toEqual({ n: 101 });
    expect(await outputOf([{ versionId: v2.body.versionId }])).toEqual({ n: 101 });
    expectEnvelope(await api.post('/transformations/test', { code, events: [{}], libraries: ['no-such-version'] }), 404, 'not_found');
  });

  it('uses the sample event when no events are given', async () => {
    const answer = await api.post('/transformations/test', { code: 'export function transformEvent(e) { return { event: e.event }; }' });
    expect(answer.body.results).toEqual([{ index: 0, statusCode: 200, output: { event: 'Product Purchased' } }]);
  });

  it('answers 400 with line and column for code that does not compile, and for unknown imports', async () => {
    const broken = await api.post('/transformations/test', { code: 'export function transformEvent(e) {\n\n  return e..x;\n}', events: [{}] });
    expectEnvelope(broken, 400, 'compile_error');
    expect(broken.body.error.line).toBe(3);
    const unknown = await api.post('/transformations/test', { code: 'import x from "ghostLib";\nexport function transformEvent(e) { return e; }', events: [{}] });
    expectEnvelope(unknown, 400, 'unknown_import');
    expect(unknown.body.error.message).toContain('ghostLib');
  });

  it('answers 400 with the error code and logs when the whole batch fails', async () => {
    const answer = await api.post('/transformations/test', { code: 'export function transformBatch(events) {\n  log("batch of", events.length);\n  throw new Error("batch refused");\n}\n', events: [{}, {}] });
    expectEnvelope(answer, 400);
    expect(answer.body.error.message).toContain('batch refused');
    expect(answer.body.error.logs).toEqual(['batch of 2']);
  });

  it('answers 400 for more metadata entries than events and for non-string code', async () => {
    expectEnvelope(await api.post('/transformations/test', { code: passThrough, events: [{}], metadata: [{}, {}] }), 400, 'invalid_field');
    expectEnvelope(await api.post('/transformations/test', { code: { source: passThrough } }), 400, 'invalid_field');
    expectEnvelope(await api.post('/transformations/test', { events: [{}] }), 400, 'missing_field');
  });
});
