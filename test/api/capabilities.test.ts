import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, createTransformation, startCatalog, type Catalog, type Client } from './transformations.helpers.js';

// RudderStack code that uses getCredential, fetch and fetchV2 runs unchanged, over real HTTP: in
// test calls, on the run endpoints and on /customTransform, with the workspace's credentials under
// the request's own. The only address user code reaches is the stub below, on 127.0.0.1, which
// this server allows explicitly (TILLER_OUTBOUND_ALLOW).

let catalog: Catalog;
let api: Client;
let stub: Server;
let stubUrl = '';

beforeAll(async () => {
  stub = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ path: req.url, key: req.headers['x-api-key'] ?? null }));
  });
  await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
  stubUrl = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
  catalog = await startCatalog({ env: { TILLER_OUTBOUND_ALLOW: '127.0.0.1/32' } });
  api = catalog.api;
  for (const body of [
    { key: 'API_KEY', value: 'workspace-secret', isSecret: true },
    { key: 'REGION', value: 'eu' },
  ]) {
    const created = await api.post('/credentials', body);
    expect(created.status).toBe(201);
  }
});

afterAll(async () => {
  await catalog?.server.close();
  stub?.closeAllConnections();
  await new Promise<void>((resolve) => stub.close(() => resolve()));
});

const enrich = () => `export async function transformEvent(event) {
  const lookup = await fetch('${stubUrl}/users/' + event.userId, { headers: { 'x-api-key': getCredential('API_KEY') } });
  const v2 = await fetchV2('${stubUrl}/v2');
  return { ...event, region: getCredential('REGION'), lookup, status: v2.status };
}`;

describe('getCredential, fetch and fetchV2', () => {
  it('run in test calls, with the workspace credentials under the request\'s own', async () => {
    const answer = await api.post('/transformations/test', {
      code: enrich(),
      events: [{ userId: 'u1' }],
      credentials: [{ key: 'REGION', value: 'us', isSecret: false }],
    });
    expect(answer.status).toBe(200);
    expect(answer.body.results).toEqual([
      { index: 0, statusCode: 200, output: { userId: 'u1', region: 'us', lookup: { path: '/users/u1', key: 'workspace-secret' }, status: 200 } },
    ]);
  });

  it('run on the run endpoints and on /customTransform, where the first entry\'s credentials count', async () => {
    const { id, versionId } = await createTransformation(api, { code: enrich() }, true);
    const run = await api.post(`/transformations/${id}/run`, { events: [{ userId: 'u2' }] });
    expect(run.status).toBe(200);
    expect(run.body.results[0].output).toEqual({ userId: 'u2', region: 'eu', lookup: { path: '/users/u2', key: 'workspace-secret' }, status: 200 });

    const entry = (userId: string, credentials?: unknown) => ({
      message: { userId },
      metadata: { sourceId: 's', destinationId: 'd', messageId: `m-${userId}` },
      destination: { Transformations: [{ VersionID: versionId }] },
      ...(credentials !== undefined ? { credentials } : {}),
    });
    const wire = await api.post('/customTransform', [entry('u3', [{ id: 'c1', key: 'API_KEY', value: 'request-key', isSecret: true }]), entry('u4', [{ key: 'API_KEY', value: 'ignored' }])]);
    expect(wire.status).toBe(200);
    expect(wire.body.map((e: { output: unknown }) => e.output)).toEqual([
      { userId: 'u3', region: 'eu', lookup: { path: '/users/u3', key: 'request-key' }, status: 200 },
      { userId: 'u4', region: 'eu', lookup: { path: '/users/u4', key: 'request-key' }, status: 200 },
    ]);
  });

  it('see a changed workspace credential on the next run', async () => {
    const list = await api.get('/credentials');
    const region = list.body.credentials.find((c: { key: string }) => c.key === 'REGION');
    expect((await api.call('PATCH', `/credentials/${region.id}`, { value: 'apac' })).status).toBe(200);
    const answer = await api.post('/transformations/test', { code: `export function transformEvent(e) { return { region: getCredential('REGION') }; }`, events: [{}] });
    expect(answer.body.results[0].output).toEqual({ region: 'apac' });
  });

  it('never reach an address the operator did not allow, and /metrics counts calls by outcome', async () => {
    const code = `export async function transformEvent(e) {
      const plain = await fetch('http://169.254.169.254/latest/meta-data/');
      let reason = null;
      try { await fetchV2('http://[::1]:1/'); } catch (error) { reason = error.message; }
      return { plain, reason };
    }`;
    const answer = await api.post('/transformations/test', { code, events: [{}] });
    expect(answer.body.results[0].output).toEqual({ plain: 'ERROR', reason: expect.stringMatching(/^blocked request to non-public address: ::1/) });
    const metrics = await catalog.server.metricsText();
    expect(metrics).toMatch(/tiller_transformation_outbound_calls_total\{kind="fetch",outcome="blocked"\} [1-9]/);
    expect(metrics).toMatch(/tiller_transformation_outbound_calls_total\{kind="fetch",outcome="ok"\} [1-9]/);
  });
});

describe('who sees secret credentials', () => {
  it('a read-only token\'s own code, or stored code it sends credentials to, sees no secret; stored code alone does', async () => {
    const { token } = await catalog.server.issueAccessToken({ name: 'reader', scopes: ['read'] });
    const reader = client(catalog.server.url, `Bearer ${token}`);
    const reveal = `export function transformEvent(e) { return { key: getCredential('API_KEY') ?? null, region: getCredential('REGION') ?? null, url: getCredential('URL') ?? null }; }`;

    // Its own code could simply return a secret: it gets the workspace's non-secret values only.
    const inline = await reader.post('/transformations/test', { code: reveal, events: [{}] });
    expect(inline.body.results[0].output).toMatchObject({ key: null });
    // A writer's test call of the same code sees everything.
    expect((await api.post('/transformations/test', { code: reveal, events: [{}] })).body.results[0].output).toMatchObject({ key: 'workspace-secret' });

    // Stored code (a writer chose it) run by the reader sees the secret...
    const { id, versionId } = await createTransformation(api, { code: reveal }, true);
    expect((await reader.post(`/transformations/${id}/run`, { events: [{}] })).body.results[0].output).toMatchObject({ key: 'workspace-secret' });
    // ...but not once the reader sends credentials of its own, which could point it elsewhere.
    const steered = await reader.post(`/transformations/${id}/run`, { events: [{}], credentials: [{ key: 'URL', value: 'https://elsewhere.example' }] });
    expect(steered.body.results[0].output).toMatchObject({ key: null, url: 'https://elsewhere.example' });
    const wire = await reader.post('/customTransform', [
      { message: {}, metadata: { sourceId: 's', destinationId: 'd3', messageId: 'm1' }, destination: { Transformations: [{ VersionID: versionId }] }, credentials: [{ key: 'URL', value: 'https://elsewhere.example' }] },
    ]);
    expect(wire.body[0].output).toMatchObject({ key: null, url: 'https://elsewhere.example' });
  });
});

describe('errors users can act on', () => {
  it('name the line in the transformation, by the name a test call gives', async () => {
    const code = 'export function transformEvent(e) {\n  return e.missing.field;\n}';
    const answer = await api.post('/transformations/test', { code, name: 'Enrich users', events: [{}] });
    expect(answer.body.results).toEqual([
      { index: 0, statusCode: 400, error: "TypeError: Cannot read properties of undefined (reading 'field')\n    at transformEvent (Enrich users:2:20)" },
    ]);
  });

  it('name a saved transformation and its library by their names on /customTransform', async () => {
    const library = await api.post('/libraries?publish=true', { name: 'Price helpers', code: 'export function cents(p) {\n  if (p < 0) throw new RangeError("negative");\n  return p * 100;\n}' });
    expect(library.status).toBe(200);
    const { versionId } = await createTransformation(api, { name: 'Checkout', code: "import { cents } from 'priceHelpers';\nexport function transformEvent(e) {\n  return { c: cents(e.p) };\n}" }, true);
    const wire = await client(catalog.server.url, `Bearer ${catalog.token}`).post('/customTransform', [
      { message: { p: -1 }, metadata: { sourceId: 's', destinationId: 'd2', messageId: 'm1' }, destination: { Transformations: [{ VersionID: versionId }] }, libraries: [{ VersionID: library.body.versionId }] },
    ]);
    expect(wire.body).toEqual([
      { statusCode: 400, error: 'RangeError: negative\n    at cents (Price helpers:2:20)\n    at transformEvent (Checkout:3:15)', metadata: { sourceId: 's', destinationId: 'd2', messageId: 'm1' } },
    ]);
  });
});
