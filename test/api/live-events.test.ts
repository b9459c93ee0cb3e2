import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIVE_EVENTS_KEPT } from '../../src/domain/live-events.js';
import { captureLog, eventually } from '../helpers/observe.js';
import { basicAuth, startTestServer, testDialect, type TestServer } from '../helpers/server.js';
import { client, createTransformation, expectEnvelope, startCatalog, type Answer, type Catalog, type Client } from './transformations.helpers.js';

// Live events (spec section 8), over real HTTP, with Tiller playing the config backend and this
// file playing rudder-server: turn them on with the API, see config.eventTransform: true on the
// poll, post samples with rudder-server's own call, read them back, and watch the window end.

/** The live-events window of this server: short, so the expiry is seen without waiting 15 minutes. */
const WINDOW_SECONDS = 4;
/** In a sample's payload: users' events never reach the server log. */
const PAYLOAD_MARKER = 'user-email-never-logged@example.com';

const log = captureLog();
let catalog: Catalog;
let api: Client;
let owner: Client;
let transformationId: string;

interface ServedEntry {
  id: string;
  versionId: string;
  config: Record<string, unknown>;
}
interface Served {
  updatedAt: string;
  sources: { destinations: { id: string; transformations: ServedEntry[] }[] }[];
}

/** rudder-server's poll. */
const poll = (headers: Record<string, string> = {}): Promise<Answer<Served>> => owner.call('GET', '/workspaceConfig?fetchAll=true', undefined, { 'content-type': 'application/json', ...headers });

function entryOf(served: Served, destinationId: string): ServedEntry | undefined {
  for (const source of served.sources) for (const destination of source.destinations) if (destination.id === destinationId) return destination.transformations[0];
  throw new Error(`destination ${destinationId} not served`);
}

/** rudder-server's upload: Basic workspace token, its exact Content-Type. */
const postSamples = (body: unknown, as: Client = owner) => as.call('POST', '/dataplane/eventTransformStatus', body, { 'content-type': 'application/json;charset=UTF-8' });

/** One sample as rudder-server's transformation debugger builds it (Go: nil slices are null). */
function sample(n: number, overrides: Record<string, unknown> = {}) {
  return {
    transformationId,
    sourceId: 'src-web',
    destinationId: 'dst-webhook',
    eventBefore: { eventName: `Order ${n}`, eventType: 'track', receivedAt: '2026-12-02T07:00:00.000Z', payload: { type: 'track', event: `Order ${n}`, context: { traits: { email: PAYLOAD_MARKER } } } },
    eventsAfter: { receivedAt: '2026-12-02T07:00:00.010Z', isDropped: false, error: '', statusCode: 200, payload: [{ eventName: `Order ${n}`, eventType: 'track', payload: { type: 'track', event: `Order ${n}`, n } }] },
    error: false,
    ...overrides,
  };
}

const liveEvents = () => api.get(`/transformations/${transformationId}/liveEvents`);
const turn = (enabled: boolean, as: Client = api, id = transformationId) => as.call('PUT', `/transformations/${id}/liveEvents`, { enabled });

beforeAll(async () => {
  catalog = await startCatalog({ logStream: log.stream, env: { TILLER_LIVE_EVENTS_SECONDS: String(WINDOW_SECONDS) } });
  api = catalog.api;
  owner = client(catalog.server.url, catalog.server.workspaceAuth);
  const config = {
    sources: [
      {
        id: 'src-web',
        name: 'Web',
        writeKey: 'wk-web',
        enabled: true,
        sourceDefinition: { name: 'Javascript' },
        config: {},
        destinations: [
          { id: 'dst-webhook', name: 'Webhook', enabled: true, config: {}, destinationDefinition: { name: 'WEBHOOK' }, isProcessorEnabled: true },
          { id: 'dst-other', name: 'Other', enabled: true, config: {}, destinationDefinition: { name: 'WEBHOOK' }, isProcessorEnabled: true },
        ],
      },
    ],
  };
  const imported = await owner.call('PUT', '/workspaceConfig/base', config);
  expect(imported.status, JSON.stringify(imported.body)).toBe(200);
  transformationId = (await createTransformation(api, { name: 'Live', destinationIds: ['dst-webhook'] }, true)).id;
});

afterAll(async () => {
  await catalog?.server.close();
});

describe('turning live events on', () => {
  it('is off at first: the served entry has an empty config and nothing is kept', async () => {
    expect(entryOf((await poll()).body, 'dst-webhook')?.config).toEqual({});
    const answer = await liveEvents();
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ enabled: false, until: null, events: [] });
  });

  it('serves config.eventTransform: true on the connected destination\'s entry, for the window', async () => {
    const before = await poll();
    const started = Date.now();
    const answer = await turn(true);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.enabled).toBe(true);
    const until = Date.parse(answer.body.until);
    expect(until).toBeGreaterThanOrEqual(started + WINDOW_SECONDS * 1000 - 50);
    expect(until).toBeLessThanOrEqual(Date.now() + WINDOW_SECONDS * 1000 + 50);

    const after = await poll({ 'if-none-match': before.headers.get('etag')! });
    expect(after.status).toBe(200);
    expect(entryOf(after.body, 'dst-webhook')).toMatchObject({ id: transformationId, config: { eventTransform: true } });
    expect(entryOf(after.body, 'dst-other')).toBeUndefined();
    expect(after.body.updatedAt > before.body.updatedAt).toBe(true);
    expect((await liveEvents()).body).toMatchObject({ enabled: true, until: answer.body.until });
  });

  it('needs the write scope to turn on, the read scope to read, and a transformation of the workspace', async () => {
    const { token } = await catalog.server.issueAccessToken({ name: 'reader', scopes: ['read'] });
    const reader = client(catalog.server.url, `Bearer ${token}`);
    expectEnvelope(await turn(true, reader), 403, 'insufficient_scope');
    expect((await reader.get(`/transformations/${transformationId}/liveEvents`)).status).toBe(200);
    expectEnvelope(await turn(true, api, '0VcAAAAAAAAAAAAAAAAAAAAAAAA'), 404);
    expectEnvelope(await api.get('/transformations/0VcAAAAAAAAAAAAAAAAAAAAAAAA/liveEvents'), 404);
    expectEnvelope(await api.call('PUT', `/transformations/${transformationId}/liveEvents`, { enabled: 'yes' }), 400, 'invalid_field');
    expectEnvelope(await client(catalog.server.url, undefined).get(`/transformations/${transformationId}/liveEvents`), 401);
  });
});

describe('POST /dataplane/eventTransformStatus', () => {
  it('stores rudder-server\'s samples and answers them back newest first', async () => {
    const answer = await postSamples({ payload: [sample(1), sample(2, { eventsAfter: { receivedAt: null, isDropped: true, error: 'dropped by code', statusCode: 298, payload: null } })] });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body).toEqual({ success: true, stored: 2, skipped: [] });
    const read = (await liveEvents()).body;
    expect(read.events).toHaveLength(2);
    const [newest, older] = read.events;
    expect(newest).toMatchObject({ ...sample(2, { eventsAfter: { receivedAt: null, isDropped: true, error: 'dropped by code', statusCode: 298, payload: null } }), id: expect.any(String), storedAt: expect.any(String) });
    expect(older).toEqual({ ...sample(1), id: expect.any(String), storedAt: newest.storedAt });
  });

  it('skips and lists samples of transformations the workspace does not have, storing the rest', async () => {
    const other = await catalog.server.createWorkspace('other');
    const otherApi = client(catalog.server.url, `Bearer ${(await catalog.server.issueAccessToken({ name: 'o', scopes: ['read', 'write'] }, other.workspaceAuth)).token}`);
    const foreign = await createTransformation(otherApi, { name: 'Foreign' }, true);
    const answer = await postSamples({ payload: [sample(3, { transformationId: 'no-such-transformation' }), sample(4), sample(5, { transformationId: foreign.id })] });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      success: true,
      stored: 1,
      skipped: [
        { index: 0, transformationId: 'no-such-transformation', reason: 'unknown_transformation' },
        { index: 2, transformationId: foreign.id, reason: 'unknown_transformation' },
      ],
    });
    // The other workspace sees nothing of it, even with its own token.
    expect((await otherApi.get(`/transformations/${foreign.id}/liveEvents`)).body.events).toEqual([]);
    expectEnvelope(await otherApi.get(`/transformations/${transformationId}/liveEvents`), 404);
  });

  it(`keeps the ${LIVE_EVENTS_KEPT} newest per transformation, within a batch and across batches`, async () => {
    const batch = Array.from({ length: LIVE_EVENTS_KEPT + 5 }, (_, i) => sample(100 + i));
    expect((await postSamples({ payload: batch })).body.stored).toBe(LIVE_EVENTS_KEPT + 5);
    let events = (await liveEvents()).body.events as { eventBefore: { eventName: string } }[];
    expect(events).toHaveLength(LIVE_EVENTS_KEPT);
    expect(events[0]!.eventBefore.eventName).toBe(`Order ${100 + LIVE_EVENTS_KEPT + 4}`);
    expect(events.at(-1)!.eventBefore.eventName).toBe('Order 105');
    for (let i = 0; i < 5; i++) expect((await postSamples({ payload: [sample(1000 + i)] })).status).toBe(200);
    events = (await liveEvents()).body.events;
    expect(events).toHaveLength(LIVE_EVENTS_KEPT);
    expect(events.slice(0, 5).map((e) => e.eventBefore.eventName)).toEqual(['Order 1004', 'Order 1003', 'Order 1002', 'Order 1001', 'Order 1000']);
    expect(events.at(-1)!.eventBefore.eventName).toBe('Order 110');
  });

  it('answers 400 naming the path of a wrong sample, and stores nothing of that batch', async () => {
    const newest = (await liveEvents()).body.events[0].id;
    const cases: [unknown, string, string][] = [
      [{}, 'missing_field', 'payload is required'],
      [{ payload: {} }, 'invalid_field', 'payload must be array'],
      [{ payload: [sample(1), { ...sample(2), transformationId: undefined }] }, 'missing_field', 'payload.1.transformationId is required'],
      [{ payload: [sample(1, { eventsAfter: { isDropped: 'yes' } })] }, 'invalid_field', 'payload.0.eventsAfter.isDropped must be boolean'],
      [{ payload: [sample(1, { eventsAfter: { payload: [{ eventName: 7 }] } })] }, 'invalid_field', 'payload.0.eventsAfter.payload.0.eventName must be string'],
      [{ payload: [sample(1, { destinationId: 'd'.repeat(65) })] }, 'invalid_field', 'payload.0.destinationId must be at most 64 characters'],
    ];
    for (const [body, code, message] of cases) {
      const answer = await postSamples(body);
      expectEnvelope(answer, 400, code);
      expect(answer.body.error.message).toContain(message);
    }
    expectEnvelope(await postSamples('{"payload": ['), 400, 'invalid_json');
    expect((await liveEvents()).body.events[0].id).toBe(newest);
  });

  it('answers 401 without the workspace token', async () => {
    expectEnvelope(await postSamples({ payload: [sample(1)] }, client(catalog.server.url, undefined)), 401);
    expectEnvelope(await postSamples({ payload: [sample(1)] }, client(catalog.server.url, basicAuth('not-a-token'))), 401);
  });

  it('answers 413 past 1 MiB and skips a sample over 64 KiB rather than storing or cutting it', async () => {
    const newest = (await liveEvents()).body.events[0].id;
    const huge = sample(1, { eventBefore: { eventName: 'Huge', payload: { blob: 'x'.repeat(1024 * 1024) } } });
    expectEnvelope(await postSamples({ payload: [huge] }), 413, 'body_too_large');
    const big = sample(2, { eventBefore: { eventName: 'Big', payload: { blob: 'x'.repeat(65 * 1024) } } });
    const answer = await postSamples({ payload: [big] });
    expect(answer.body).toEqual({ success: true, stored: 0, skipped: [{ index: 0, transformationId, reason: 'too_large' }] });
    expect((await liveEvents()).body.events[0].id).toBe(newest);
  });

  it('never writes a payload to the server log', () => {
    expect(log.text()).not.toContain(PAYLOAD_MARKER);
  });
});

describe('the end of the window', () => {
  it('turns eventTransform off by itself: the next poll serves {} with updatedAt at the window\'s end', async () => {
    const on = await turn(true);
    expect(on.status).toBe(200);
    const served = await poll();
    expect(entryOf(served.body, 'dst-webhook')?.config).toEqual({ eventTransform: true });
    // No write happens at the end: the served configuration notices it by itself.
    const after = await eventually(() => poll(), (answer) => entryOf(answer.body, 'dst-webhook')?.config.eventTransform === undefined, (WINDOW_SECONDS + 6) * 1000);
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(on.body.until));
    expect(entryOf(after.body, 'dst-webhook')?.config).toEqual({});
    expect(after.body.updatedAt).toBe(on.body.until);
    expect(after.headers.get('etag')).not.toBe(served.headers.get('etag'));
    expect((await liveEvents()).body).toMatchObject({ enabled: false, until: on.body.until });
  }, 30_000);

  it('turns off at once with enabled: false, and the samples stay readable', async () => {
    expect((await turn(true)).status).toBe(200);
    expect(entryOf((await poll()).body, 'dst-webhook')?.config).toEqual({ eventTransform: true });
    const off = await turn(false);
    expect(off.body).toEqual({ enabled: false, until: null });
    expect(entryOf((await poll()).body, 'dst-webhook')?.config).toEqual({});
    expect((await liveEvents()).body.events).toHaveLength(LIVE_EVENTS_KEPT);
  });
});

describe('deleting a transformation', () => {
  it('deletes its samples with it', async () => {
    const doomed = await createTransformation(api, { name: 'Doomed' }, true);
    expect((await postSamples({ payload: [sample(1, { transformationId: doomed.id })] })).body.stored).toBe(1);
    expect((await api.del(`/transformations/${doomed.id}`)).status).toBe(200);
    const left = await catalog.server.server.services.store.db.selectFrom('live_event_samples').select('id').where('transformation_id', '=', doomed.id).execute();
    expect(left).toEqual([]);
    // rudder-server may still send a few after the delete: skipped, not stored.
    expect((await postSamples({ payload: [sample(2, { transformationId: doomed.id })] })).body.skipped).toEqual([{ index: 0, transformationId: doomed.id, reason: 'unknown_transformation' }]);
  });
});

describe('two instances', () => {
  it.skipIf(testDialect() !== 'postgres')('serve the flag turned on through either, and read the same samples', async () => {
    const first = await startTestServer();
    let second: TestServer | undefined;
    try {
      second = await startTestServer({ databaseUrl: first.config.databaseUrl!, dataDir: first.config.dataDir, workspace: { workspaceId: first.workspaceId, workspaceToken: first.workspaceToken } });
      const one = client(first.url, first.workspaceAuth);
      const two = client(second.url, second.workspaceAuth);
      const config = { sources: [{ id: 's', destinations: [{ id: 'd', name: 'D', enabled: true }] }] };
      expect((await one.call('PUT', '/workspaceConfig/base', config)).status).toBe(200);
      const writer = client(first.url, `Bearer ${(await first.issueAccessToken({ name: 'ci' })).token}`);
      const created = await createTransformation(writer, { destinationIds: ['d'] }, true);
      const pollOn = (as: Client) => as.call<Served>('GET', '/workspaceConfig?fetchAll=true', undefined, { 'content-type': 'application/json' });
      expect(entryOf((await pollOn(two)).body, 'd')?.config).toEqual({});
      expect((await writer.call('PUT', `/transformations/${created.id}/liveEvents`, { enabled: true })).status).toBe(200);
      const seen = await eventually(() => pollOn(two), (answer) => entryOf(answer.body, 'd')?.config.eventTransform === true, 5000);
      expect(seen.headers.get('etag')).toBe((await pollOn(one)).headers.get('etag'));
      const posted = await two.call('POST', '/dataplane/eventTransformStatus', { payload: [{ transformationId: created.id, eventBefore: { eventName: 'x' } }] }, { 'content-type': 'application/json;charset=UTF-8' });
      expect(posted.body.stored).toBe(1);
      expect((await writer.get(`/transformations/${created.id}/liveEvents`)).body.events).toHaveLength(1);
    } finally {
      await second?.close();
      await first.close();
    }
  });
});
