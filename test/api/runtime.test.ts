import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addLibraryVersion, addTransformationVersion, createLibrary, createTransformation, deleteTransformation, trackEvent, wireEvent } from '../helpers/fixtures.js';
import { basicAuth, startTestServer, type TestServer } from '../helpers/server.js';

// The run endpoints of spec 7.2 (a developer runs stored code on events and sees every outcome and
// the logs) and the per-version counters every run feeds on /metrics.

let server: TestServer;
let readAuth: string;
let transformationId: string;
let publishedVersionId: string;
let draftVersionId: string;
let libraryId: string;

interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

async function post(path: string, body: unknown, auth: string | null = readAuth): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (auth !== null) headers.authorization = auth;
  const res = await fetch(server.url + path, { method: 'POST', headers, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

const published = `import { label } from 'labels';
export function transformEvent(event, metadata) {
  log('seen', event.messageId, metadata(event).jobId ?? 'none');
  if (event.event === 'Drop me') return null;
  if (event.event === 'Twice') return [{ n: 1 }, { n: 2 }];
  if (event.event === 'Boom') throw new Error('boom ' + event.messageId);
  return { ...event, label: label() };
}`;

beforeAll(async () => {
  server = await startTestServer({ env: { TILLER_RUNTIME_PORT: '0', TILLER_SANDBOX_CPU_MS: '300', TILLER_SANDBOX_WALL_MS: '2000', TILLER_METRICS_TENANT_LABELS: 'true' } });
  readAuth = basicAuth('', (await server.issueAccessToken({ name: 'reader', scopes: ['read'] })).token);
  const library = await createLibrary(server, { workspaceId: server.workspaceId, name: 'labels', code: `export function label() { return 'published'; }` });
  libraryId = library.id;
  const created = await createTransformation(server, { workspaceId: server.workspaceId, code: published, name: 'runner' });
  transformationId = created.id;
  publishedVersionId = created.versionId;
  draftVersionId = await addTransformationVersion(server, transformationId, `export function transformEvent(event) { return { draft: true, id: event.messageId }; }`);
});

afterAll(async () => {
  await server?.close();
});

describe('POST /transformations/{id}/run', () => {
  it('runs the published version and answers every outcome with its input index, the dropped indexes and the logs', async () => {
    const events = [trackEvent(0), { ...trackEvent(1), event: 'Drop me' }, { ...trackEvent(2), event: 'Twice' }, { ...trackEvent(3), event: 'Boom' }];
    const res = await post(`/transformations/${transformationId}/run`, { events, metadata: [{ jobId: 10 }, { jobId: 11 }] });
    expect(res.status).toBe(200);
    expect(res.body.results).toEqual([
      { statusCode: 200, index: 0, output: { ...trackEvent(0), label: 'published' } },
      { statusCode: 200, index: 2, output: { n: 1 } },
      { statusCode: 200, index: 2, output: { n: 2 } },
      { statusCode: 400, index: 3, error: 'Error: boom msg-3\n    at transformEvent (runner:6:37)' },
    ]);
    expect(res.body.dropped).toEqual([1]);
    expect(res.body.logs).toEqual(['seen msg-0 10', 'seen msg-1 11', 'seen msg-2 none', 'seen msg-3 none']);
  });

  it('accepts a token with either the read or the write scope', async () => {
    const writeOnly = basicAuth('', (await server.issueAccessToken({ name: 'writer', scopes: ['write'] })).token);
    const res = await post(`/transformations/${transformationId}/run`, { events: [trackEvent(0)] }, writeOnly);
    expect(res.status).toBe(200);
    expect(res.body.results[0]).toMatchObject({ statusCode: 200, index: 0 });
    const versioned = await post(`/transformations/${transformationId}/versions/${draftVersionId}/run`, { events: [trackEvent(1)] }, writeOnly);
    expect(versioned.status).toBe(200);
  });

  it('answers 409 for a transformation that was never published, 404 for an unknown or deleted one', async () => {
    const draft = await createTransformation(server, { workspaceId: server.workspaceId, code: `export function transformEvent(e) { return e; }`, publish: false });
    const unpublished = await post(`/transformations/${draft.id}/run`, { events: [{}] });
    expect(unpublished.status).toBe(409);
    expect(unpublished.body.error.code).toBe('not_published');
    expect((await post('/transformations/nope/run', { events: [{}] })).status).toBe(404);
    await deleteTransformation(server, draft.id);
    expect((await post(`/transformations/${draft.id}/run`, { events: [{}] })).status).toBe(404);
  });

  it('answers 404 for another workspace\'s transformation', async () => {
    const other = await server.createWorkspace('other');
    const foreign = await createTransformation(server, { workspaceId: other.workspaceId, code: `export function transformEvent(e) { return e; }` });
    const res = await post(`/transformations/${foreign.id}/run`, { events: [{}] });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });
});

describe('POST /transformations/{id}/versions/{versionId}/run', () => {
  it('runs the named version, published or not', async () => {
    const res = await post(`/transformations/${transformationId}/versions/${draftVersionId}/run`, { events: [trackEvent(5)] });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ results: [{ statusCode: 200, index: 0, output: { draft: true, id: 'msg-5' } }], dropped: [], logs: [] });
  });

  it('answers 404 for a version of another transformation or an unknown version', async () => {
    const other = await createTransformation(server, { workspaceId: server.workspaceId, code: `export function transformEvent(e) { return e; }` });
    expect((await post(`/transformations/${transformationId}/versions/${other.versionId}/run`, { events: [{}] })).status).toBe(404);
    expect((await post(`/transformations/${transformationId}/versions/unknown/run`, { events: [{}] })).status).toBe(404);
  });

  it('links the listed library versions instead of the published ones, and refuses unknown ones', async () => {
    const newer = await addLibraryVersion(server, libraryId, `export function label() { return 'draft library'; }`);
    const res = await post(`/transformations/${transformationId}/versions/${publishedVersionId}/run`, { events: [trackEvent(0)], libraries: [{ versionId: newer }] });
    expect(res.body.results[0].output.label).toBe('draft library');
    const unknown = await post(`/transformations/${transformationId}/versions/${publishedVersionId}/run`, { events: [trackEvent(0)], libraries: [{ versionId: 'nope' }] });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toBe('library version nope not found');
  });

  it('answers 400 with the error code and the logs when the whole batch fails', async () => {
    const batch = await createTransformation(server, { workspaceId: server.workspaceId, name: 'batch runner', code: `export function transformBatch(events) { log('about to fail'); throw new RangeError('no batches today'); }` });
    const res = await post(`/transformations/${batch.id}/run`, { events: [{}, {}] });
    expect(res.status).toBe(400);
    // The error names the user's line in the transformation, by its name.
    expect(res.body.error).toMatchObject({ code: 'batch_error', message: `RangeError: no batches today\n    at transformBatch (batch runner:1:70)`, logs: ['about to fail'] });
  });

  it('answers 400 when the code hits its CPU limit, and the version runs again afterwards', async () => {
    const loop = await createTransformation(server, { workspaceId: server.workspaceId, code: `export function transformEvent(e) { if (e.spin) { for (;;) {} } return e; }` });
    const res = await post(`/transformations/${loop.id}/run`, { events: [{ spin: true }] });
    expect(res.status).toBe(400);
    expect(['cpu_limit', 'wall_limit']).toContain(res.body.error.code);
    const again = await post(`/transformations/${loop.id}/run`, { events: [{ ok: 1 }] });
    expect(again.body.results).toEqual([{ statusCode: 200, index: 0, output: { ok: 1 } }]);
  });
});

describe('run endpoints: input and credentials', () => {
  it('answers 400 for missing, empty or non-object events and for surplus metadata', async () => {
    const path = `/transformations/${transformationId}/run`;
    expect((await post(path, {})).body.error).toMatchObject({ code: 'missing_field', message: 'events is required' });
    expect((await post(path, { events: [] })).status).toBe(400);
    expect((await post(path, { events: ['text'] })).status).toBe(400);
    const surplus = await post(path, { events: [{}], metadata: [{}, {}] });
    expect(surplus.status).toBe(400);
    expect(surplus.body.error.field).toBe('metadata');
  });

  it('answers 401 without credentials or with the workspace token, and works with a read-only token', async () => {
    const path = `/transformations/${transformationId}/run`;
    expect((await post(path, { events: [{}] }, null)).status).toBe(401);
    expect((await post(path, { events: [{}] }, server.workspaceAuth)).status).toBe(401);
    expect((await post(path, { events: [trackEvent(0)] })).status).toBe(200);
    const readWrite = basicAuth((await server.issueAccessToken({ name: 'rw' })).token);
    expect((await post(path, { events: [trackEvent(0)] }, readWrite)).status).toBe(200);
  });

  it('is not served on the runtime listener', async () => {
    const res = await fetch(`${server.runtimeUrl}/transformations/${transformationId}/run`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"events":[{}]}' });
    expect(res.status).toBe(404);
  });
});

describe('per-version counters on /metrics', () => {
  const sample = (text: string, name: string, versionId: string): number | undefined => {
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`version_id="${versionId}"`));
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
  };

  it('counts events in, out, dropped and failed, batches by outcome and run time, per version', async () => {
    const code = `export function transformEvent(e) { if (e.drop) return null; if (e.fail) throw new Error('x'); return e.fan ? [e, e] : e; }`;
    const { versionId } = await createTransformation(server, { workspaceId: server.workspaceId, code });
    const messages = [{ n: 1 }, { drop: true }, { fail: true }, { fan: true }, { n: 2 }];
    const res = await fetch(`${server.url}/customTransform`, {
      method: 'POST',
      headers: { authorization: readAuth, 'content-type': 'application/json' },
      body: JSON.stringify(messages.map((message, n) => wireEvent(n, { versionId, message }))),
    });
    expect(res.status).toBe(200);
    const text = await server.metricsText();
    expect(sample(text, 'tiller_transformation_events_in_total', versionId)).toBe(5);
    expect(sample(text, 'tiller_transformation_events_out_total', versionId)).toBe(4);
    expect(sample(text, 'tiller_transformation_events_dropped_total', versionId)).toBe(1);
    expect(sample(text, 'tiller_transformation_events_failed_total', versionId)).toBe(1);
    expect(sample(text, 'tiller_transformation_cold_starts_total', versionId)).toBe(1);
    expect(sample(text, 'tiller_transformation_run_seconds_total', versionId)).toBeGreaterThan(0);
    expect(text).toContain(`tiller_transformation_batches_total{workspace_id="${server.workspaceId}",version_id="${versionId}",outcome="ok"} 1`);
    expect(text).toMatch(/^tiller_runtime_isolates \d+/m);
    expect(text).toMatch(/^tiller_serving_version_cache_entries [1-9]\d*/m);
  });

  it('counts events refused before running, by reason', async () => {
    await fetch(`${server.url}/customTransform`, {
      method: 'POST',
      headers: { authorization: readAuth, 'content-type': 'application/json' },
      body: JSON.stringify([wireEvent(0, { versionId: 'missing-version' }), { message: {} }]),
    });
    const text = await server.metricsText();
    expect(text).toMatch(/^tiller_custom_transform_rejected_events_total\{reason="version_not_found"\} [1-9]/m);
    expect(text).toMatch(/^tiller_custom_transform_rejected_events_total\{reason="malformed"\} [1-9]/m);
  });

  it('is never served on the credential-free runtime listener', async () => {
    const res = await fetch(`${server.runtimeUrl}/metrics`);
    expect(res.status).toBe(404);
    expect(await res.text()).not.toContain('tiller_transformation_events_in_total');
  });
});
