import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, createTransformation, expectEnvelope, passThrough, startCatalog, tagging, type Catalog, type Client } from './transformations.helpers.js';

// Connections (spec sections 4 and 8) over real HTTP: destinationIds on create and update name
// destinations of the workspace's imported rudder-server configuration; a destination runs at
// most one transformation, only a published one; a connected transformation cannot be deleted;
// answers list destinations with their names; every change is audited and served to rudder-server.

let catalog: Catalog;
let api: Client;
let owner: Client;

function rudderConfig(names: Record<string, string> = {}) {
  return {
    sources: [
      {
        id: 'src-web',
        name: 'Web',
        enabled: true,
        destinations: [
          { id: 'dst-a', name: names['dst-a'] ?? 'Webhook A', enabled: true, config: {} },
          { id: 'dst-b', name: 'Amplitude', enabled: false, config: {} },
        ],
      },
      // dst-c is listed under both sources: one destination connected to two sources.
      { id: 'src-ios', name: 'iOS', enabled: true, destinations: [{ id: 'dst-c', name: 'BigQuery', enabled: true, config: {} }] },
      { id: 'src-android', name: 'Android', enabled: true, destinations: [{ id: 'dst-c', name: 'BigQuery', enabled: true, config: {} }] },
    ],
  };
}

const importConfig = (body: unknown) => owner.call('PUT', '/workspaceConfig/base', body);
const poll = () => owner.call('GET', '/workspaceConfig?fetchAll=true', undefined, { 'content-type': 'application/json' });

async function servedTransformations(destinationId: string): Promise<{ id: string; versionId: string }[][]> {
  const served = (await poll()).body as { sources: { destinations: { id: string; transformations: { id: string; versionId: string }[] }[] }[] };
  return served.sources.flatMap((source) => source.destinations.filter((d) => d.id === destinationId).map((d) => d.transformations));
}

beforeAll(async () => {
  catalog = await startCatalog();
  api = catalog.api;
  owner = client(catalog.server.url, catalog.server.workspaceAuth);
});

afterAll(async () => {
  await catalog?.server.close();
});

describe('without an imported configuration', () => {
  it('answers 400 to any destinationIds, saying to import one first', async () => {
    const answer = await api.post('/transformations?publish=true', { name: 'Too early', code: passThrough, destinationIds: ['dst-a'] });
    expectEnvelope(answer, 400, 'unknown_destination');
    expect(answer.body.error.message).toBe('destinationIds "dst-a" is not a destination: this workspace has no rudder-server configuration yet; import one with PUT /workspaceConfig/base');
    expect(answer.body.error.destinationIds).toEqual(['dst-a']);
    expect((await api.get('/transformations')).body.transformations).toEqual([]);
    // An empty list connects nothing and needs no configuration.
    expect((await api.post('/transformations?publish=true', { name: 'No destinations', code: passThrough, destinationIds: [] })).status).toBe(200);
  });
});

describe('with the configuration imported', () => {
  let holder: { id: string; versionId: string; name: string };

  beforeAll(async () => {
    expect((await importConfig(rudderConfig())).status).toBe(200);
  });

  it('connects on create with publish=true and answers destinations with their names', async () => {
    const answer = await api.post('/transformations?publish=true', { name: 'Holder', code: tagging('v1'), destinationIds: ['dst-a', 'dst-c'] });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    holder = answer.body;
    const destinations = [
      { id: 'dst-a', name: 'Webhook A', enabled: true },
      { id: 'dst-c', name: 'BigQuery', enabled: true },
    ];
    expect(answer.body.destinations).toEqual(destinations);
    expect((await api.get(`/transformations/${holder.id}`)).body.destinations).toEqual(destinations);
    const listed = (await api.get('/transformations')).body.transformations.find((t: { id: string }) => t.id === holder.id);
    expect(listed.destinations).toEqual(destinations);
    const versions = (await api.get(`/transformations/${holder.id}/versions`)).body.TransformationVersions;
    expect(versions[0].destinations).toEqual(destinations);
    // Served under every source that lists the destination.
    expect(await servedTransformations('dst-c')).toEqual([
      [{ id: holder.id, versionId: holder.versionId, config: {}, language: 'javascript' }],
      [{ id: holder.id, versionId: holder.versionId, config: {}, language: 'javascript' }],
    ]);
  });

  it('answers 400 naming the unknown destination ids, and saves nothing', async () => {
    const before = (await api.get('/transformations')).body.transformations.length;
    const answer = await api.post('/transformations?publish=true', { name: 'Unknown', code: passThrough, destinationIds: ['dst-b', 'nope', 'nada'] });
    expectEnvelope(answer, 400, 'unknown_destination');
    expect(answer.body.error.message).toBe(`destinationIds "nope", "nada" are not destinations of this workspace's rudder-server configuration`);
    expect(answer.body.error).toMatchObject({ field: 'destinationIds', destinationIds: ['nope', 'nada'] });
    expect((await api.get('/transformations')).body.transformations.length).toBe(before);
    const update = await api.post(`/transformations/${holder.id}?publish=true`, { destinationIds: ['dst-a', 'nope'] });
    expectEnvelope(update, 400, 'unknown_destination');
    expect((await api.get(`/transformations/${holder.id}`)).body.versionId).toBe(holder.versionId);
  });

  it('answers 409 naming the holder when another transformation has the destination', async () => {
    const other = await createTransformation(api, { name: 'Other' }, true);
    const answer = await api.post(`/transformations/${other.id}?publish=true`, { destinationIds: ['dst-b', 'dst-a'] });
    expectEnvelope(answer, 409, 'destination_connected');
    expect(answer.body.error.message).toBe(`destination "dst-a" is already connected to transformation "Holder" (${holder.id}); a destination runs at most one transformation: disconnect it there first`);
    expect(answer.body.error).toMatchObject({ destinationIds: ['dst-a'], transformationId: holder.id });
    const create = await api.post('/transformations?publish=true', { name: 'Also wants it', code: passThrough, destinationIds: ['dst-c'] });
    expectEnvelope(create, 409, 'destination_connected');
    expect(create.body.error.transformationId).toBe(holder.id);
    // The free one connects.
    const free = await api.post(`/transformations/${other.id}?publish=true`, { destinationIds: ['dst-b'] });
    expect(free.status).toBe(200);
    expect(free.body.destinations).toEqual([{ id: 'dst-b', name: 'Amplitude', enabled: false }]);
  });

  it('connects only with publish=true: a destination runs the published version', async () => {
    expectEnvelope(await api.post(`/transformations/${holder.id}?publish=false`, { destinationIds: ['dst-a'] }), 400, 'invalid_field');
    expectEnvelope(await api.post('/transformations', { name: 'Draft', code: passThrough, destinationIds: ['dst-a'] }), 400, 'invalid_field');
  });

  it('keeps connections over updates that leave destinationIds out, and serves each new published version', async () => {
    const v2 = await api.post(`/transformations/${holder.id}?publish=true`, { code: tagging('v2') });
    expect(v2.status).toBe(200);
    expect(v2.body.destinations.map((d: { id: string }) => d.id)).toEqual(['dst-a', 'dst-c']);
    expect((await servedTransformations('dst-a'))[0]![0]!.versionId).toBe(v2.body.versionId);
  });

  it('takes names and enabled from the configuration as it is now', async () => {
    expect((await importConfig(rudderConfig({ 'dst-a': 'Webhook renamed' }))).status).toBe(200);
    expect((await api.get(`/transformations/${holder.id}`)).body.destinations[0]).toEqual({ id: 'dst-a', name: 'Webhook renamed', enabled: true });
  });

  it('refuses an import that leaves out a connected destination (409)', async () => {
    const config = rudderConfig();
    config.sources[0]!.destinations = config.sources[0]!.destinations.filter((d) => d.id !== 'dst-a');
    const answer = await importConfig(config);
    expectEnvelope(answer, 409, 'destination_connected');
    expect(answer.body.error.message).toBe(`the configuration leaves out destination "dst-a", connected to transformation "${holder.id}"; disconnect it first`);
    expect((await owner.get('/workspaceConfig/base')).body).toEqual(rudderConfig({ 'dst-a': 'Webhook renamed' }));
  });

  it('refuses to delete a connected transformation (409), deletes it once disconnected, and frees its destinations', async () => {
    const refused = await api.del(`/transformations/${holder.id}`);
    expectEnvelope(refused, 409, 'transformation_connected');
    expect(refused.body.error.message).toContain('"dst-a", "dst-c"');
    expect(refused.body.error.destinationIds).toEqual(['dst-a', 'dst-c']);
    expect((await api.get(`/transformations/${holder.id}`)).status).toBe(200);

    const disconnected = await api.post(`/transformations/${holder.id}?publish=true`, { destinationIds: [] });
    expect(disconnected.status).toBe(200);
    expect(disconnected.body.destinations).toEqual([]);
    expect(await servedTransformations('dst-a')).toEqual([[]]);
    expect((await api.del(`/transformations/${holder.id}`)).status).toBe(200);

    const next = await api.post('/transformations?publish=true', { name: 'Next', code: passThrough, destinationIds: ['dst-a'] });
    expect(next.status).toBe(200);
    expect((await servedTransformations('dst-a'))[0]![0]!.id).toBe(next.body.id);
  });

  it('lets exactly one of two concurrent saves connect the same destination', async () => {
    const [first, second] = await Promise.all([
      createTransformation(api, { name: 'Racer 1' }, true),
      createTransformation(api, { name: 'Racer 2' }, true),
    ]);
    const answers = await Promise.all([first, second].map((t) => api.post(`/transformations/${t.id}?publish=true`, { destinationIds: ['dst-c'] })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    expect((await servedTransformations('dst-c'))[0]).toHaveLength(1);
  });

  it('runs publishes and connection changes of one transformation side by side without deadlocks', async () => {
    const busy = await createTransformation(api, { name: 'Busy' }, true);
    const versions = await Promise.all([1, 2, 3].map((n) => api.post(`/transformations/${busy.id}?publish=false`, { code: tagging(`v${n}`) })));
    const calls = versions.flatMap((v, n) => [
      api.post('/transformations/libraries/publish', { transformations: [{ versionId: v.body.versionId }] }),
      api.call('PUT', `/transformations/${busy.id}/destinations`, { destinationIds: n % 2 === 0 ? ['dst-b'] : [] }),
      api.post(`/transformations/${busy.id}?publish=true`, { description: `round ${n}` }),
    ]);
    const answers = await Promise.all(calls);
    // dst-b may be held by the free-standing test above; then the connection answers 409, never a 5xx.
    for (const answer of answers) expect([200, 409], JSON.stringify(answer.body)).toContain(answer.status);
    expect(answers.filter((a) => a.status === 200).length).toBeGreaterThanOrEqual(6);
  });

  it('audits every change of connections with the destination ids', async () => {
    const auditLog = (await owner.get('/auditLog?limit=1000')).body as { action: string; target: string; reason: string }[];
    const entries = auditLog.filter((e) => e.action === 'transformation.connections' && e.target === holder.id).map((e) => e.reason).reverse();
    expect(entries).toEqual(['connected dst-a, dst-c', 'disconnected dst-a, dst-c']);
    expect(auditLog.some((e) => e.action === 'transformation.connections' && e.reason === 'connected dst-b')).toBe(true);
  });
});

describe('PUT /transformations/{id}/destinations (ext)', () => {
  it('connects and disconnects without saving a version, with the same rules', async () => {
    const free = await api.post('/transformations?publish=true', { name: 'Dashboard connected', code: passThrough });
    expect(free.status).toBe(200);
    const put = (id: string, destinationIds: unknown) => api.call('PUT', `/transformations/${id}/destinations`, { destinationIds });
    // dst-b is held by "Other" from the tests above; free it first through the same call.
    const holders = (await api.get('/transformations')).body.transformations as { id: string; destinations: { id: string }[] }[];
    const otherId = holders.find((t) => t.destinations.some((d) => d.id === 'dst-b'))!.id;
    const conflictAnswer = await put(free.body.id, ['dst-b']);
    expectEnvelope(conflictAnswer, 409, 'destination_connected');
    expect(conflictAnswer.body.error.transformationId).toBe(otherId);
    expect((await put(otherId, [])).status).toBe(200);

    const connected = await put(free.body.id, ['dst-b', 'dst-b']);
    expect(connected.status, JSON.stringify(connected.body)).toBe(200);
    expect(connected.body.destinations).toEqual([{ id: 'dst-b', name: 'Amplitude', enabled: false }]);
    expect(connected.body.versionId).toBe(free.body.versionId);
    expect((await servedTransformations('dst-b'))[0]![0]!.versionId).toBe(free.body.versionId);

    expectEnvelope(await put(free.body.id, ['missing']), 400, 'unknown_destination');
    expectEnvelope(await put(free.body.id, 'dst-b'), 400, 'invalid_field');
    expectEnvelope(await put('no-such-transformation', []), 404, 'not_found');

    const draft = await createTransformation(api, { name: 'Never published' });
    const unpublished = await put(draft.id, ['dst-b']);
    expectEnvelope(unpublished, 409, 'not_published');
    expect(unpublished.body.error.message).toContain('publish a version');

    const read = client(catalog.server.url, `Bearer ${(await catalog.server.issueAccessToken({ name: 'reader', scopes: ['read'] })).token}`);
    expectEnvelope(await read.call('PUT', `/transformations/${free.body.id}/destinations`, { destinationIds: [] }), 403, 'insufficient_scope');

    const disconnected = await put(free.body.id, []);
    expect(disconnected.body.destinations).toEqual([]);
    expect(await servedTransformations('dst-b')).toEqual([[]]);
    const versions = (await api.get(`/transformations/${free.body.id}/versions`)).body.TransformationVersions;
    expect(versions).toHaveLength(1);
    const audited = ((await owner.get('/auditLog?limit=1000')).body as { action: string; target: string; reason: string }[])
      .filter((e) => e.action === 'transformation.connections' && e.target === free.body.id)
      .map((e) => e.reason)
      .reverse();
    expect(audited).toEqual(['connected dst-b', 'disconnected dst-b']);
  });
});
