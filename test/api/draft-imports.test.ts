import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, expectEnvelope, startCatalog, type Catalog } from './transformations.helpers.js';

// Git-driven CI clients upsert every transformation (publish=false, no events) before the
// libraries it imports, then test and publish. A first run that adds a library must work.

let catalog: Catalog;
beforeAll(async () => {
  catalog = await startCatalog();
});
afterAll(async () => {
  await catalog.server.close();
});

const importingCode = (lib: string) => `import { addTax } from "${lib}";\nexport function transformEvent(event) {\n  event.total = addTax(event.properties.price);\n  return event;\n}\n`;
const libraryCode = 'export function addTax(price) {\n  return Math.round(price * 120) / 100;\n}\n';

describe('draft saves may import libraries created later in the same run', () => {
  it('follows the CI action order: transformation first, library second, then test and publish', async () => {
    // The action authenticates as Basic <email>:<accessToken>, the e-mail being the token's owner.
    const self = await catalog.api.get('/accessTokens/self');
    expect(self.status).toBe(200);
    const ci = client(catalog.server.url, `Basic ${Buffer.from(`${self.body.email}:${catalog.token}`).toString('base64')}`);

    const created = await ci.post('/transformations?publish=false', { name: 'Tax', description: 'adds tax', code: importingCode('taxTools'), language: 'javascript' });
    expect(created.status).toBe(200);
    expect(created.body.imports).toEqual(['taxTools']);
    expect(created.body.warnings).toEqual([expect.objectContaining({ code: 'unknown_import', imports: ['taxTools'] })]);

    // Until the library exists, a test of that version fails and names the import.
    const early = await ci.post('/transformations/libraries/test', { transformations: [{ versionId: created.body.versionId, testInput: [{ properties: { price: 10 } }] }], libraries: [] });
    expect(early.status).toBe(200);
    expect(early.body.result.successTestResults).toEqual([]);
    expect(JSON.stringify(early.body.result.failedTestResults)).toContain('taxTools');

    const library = await ci.post('/libraries?publish=false', { name: 'Tax Tools', description: '', code: libraryCode, language: 'javascript' });
    expect(library.status).toBe(200);
    expect(library.body.importName).toBe('taxTools');

    const body = { transformations: [{ versionId: created.body.versionId, testInput: [{ properties: { price: 10 } }] }], libraries: [{ versionId: library.body.versionId }] };
    const tested = await ci.post('/transformations/libraries/test', body);
    expect(tested.status).toBe(200);
    expect(tested.body.result.failedTestResults).toEqual([]);
    expect(tested.body.result.successTestResults[0].result.output.transformedEvents).toEqual([{ properties: { price: 10 }, total: 12 }]);

    const published = await ci.post('/transformations/libraries/publish', { ...body, commitId: 'abc123' });
    expect(published.status).toBe(200);
    expect(published.body).toEqual({ published: true });
    const after = await ci.get(`/transformations/${created.body.id}`);
    expect(after.body.publishedVersionId).toBe(created.body.versionId);

    // A second run updates the transformation; its import now resolves, so no warning.
    const updated = await ci.post(`/transformations/${created.body.id}?publish=false`, { description: 'adds tax', code: importingCode('taxTools'), language: 'javascript' });
    expect(updated.status).toBe(200);
    expect(updated.body.warnings).toBeUndefined();
  });

  it('stays strict when the save is not an explicit draft', async () => {
    const { api } = catalog;
    const noQuery = await api.post('/transformations', { name: 'strict default', code: importingCode('nowhereLib') });
    expectEnvelope(noQuery, 400, 'unknown_import');
    expect(noQuery.body.error.message).toContain('nowhereLib');

    const publishing = await api.post('/transformations?publish=true', { name: 'strict publish', code: importingCode('nowhereLib') });
    expectEnvelope(publishing, 400, 'unknown_import');

    const withEvents = await api.post('/transformations?publish=false', { name: 'strict events', code: importingCode('nowhereLib'), events: [{ properties: { price: 1 } }] });
    expectEnvelope(withEvents, 400, 'unknown_import');

    const list = await api.get('/transformations');
    expect(list.body.transformations.map((t: { name: string }) => t.name)).not.toContain('strict default');
  });

  it('refuses to publish a draft whose library still does not exist', async () => {
    const { api } = catalog;
    const draft = await api.post('/transformations?publish=false', { name: 'orphan', code: importingCode('missingLib') });
    expect(draft.status).toBe(200);
    const publish = await api.post('/transformations/libraries/publish', { transformations: [{ versionId: draft.body.versionId }] });
    expect(publish.status).toBe(400);
    expect(JSON.stringify(publish.body)).toContain('missingLib');
    const after = await api.get(`/transformations/${draft.body.id}`);
    expect(after.body.publishedVersionId).toBeNull();
  });
});
