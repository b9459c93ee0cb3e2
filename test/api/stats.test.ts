import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveStats } from '../../src/domain/stats/live-stats.js';
import { transformationStats } from '../../src/domain/stats/queries.js';
import { trackEvent, wireEvent } from '../helpers/fixtures.js';
import { client, startCatalog, type Catalog, type Client } from './transformations.helpers.js';

// Per-transformation stats and recent errors of live traffic (/customTransform): rolled up per
// version and minute in memory, written by each instance in the background, summed on read.

let catalog: Catalog;
let api: Client;
let transformation: { id: string; versionId: string };

// Fails events that carry properties.fail, on line 3, so the errors list has a line to show.
const failing = [
  'export function transformEvent(event) {',
  '  if (event.properties && event.properties.fail) {',
  "    throw new Error('cannot take ' + event.messageId);",
  '  }',
  '  if (event.properties && event.properties.drop) return null;',
  '  return event;',
  '}',
].join('\n');

async function send(events: Record<string, unknown>[]): Promise<void> {
  const res = await fetch(`${catalog.server.url}/customTransform`, {
    method: 'POST',
    headers: { authorization: `Bearer ${catalog.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(events.map((message, n) => wireEvent(n, { versionId: transformation.versionId, message }))),
  });
  expect(res.status).toBe(200);
}

const flush = () => catalog.server.server.services.liveStats!.flush();

beforeAll(async () => {
  catalog = await startCatalog();
  api = catalog.api;
  transformation = (await api.post('/transformations?publish=true', { name: 'stats-target', code: failing })).body;
  const events = Array.from({ length: 10 }, (_, n) => trackEvent(n, n < 3 ? { fail: true, password: 'hunter2-secret' } : n === 3 ? { drop: true } : {}));
  await send(events);
  await send([trackEvent(20)]);
  await flush();
});
afterAll(async () => {
  await catalog?.server.close();
});

describe('GET /transformations/{id}/stats', () => {
  it('answers the live traffic of the window: totals, a series and the versions', async () => {
    const answer = await api.get(`/transformations/${transformation.id}/stats`);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const { totals, series, versions, stepSeconds, from, to } = answer.body;
    expect(totals).toMatchObject({ eventsIn: 11, eventsOut: 7, dropped: 1, failed: 3, batches: 2, limitKills: 0, quarantined: 0 });
    expect(totals.errorRate).toBeCloseTo(3 / 11);
    expect(totals.runMs.sum).toBeGreaterThan(0);
    expect(totals.runMs.p50).toEqual(expect.any(Number));
    // The first batch usually compiles its version; a warm isolate from the save-time check may spare it.
    expect(totals.coldStarts).toEqual(expect.any(Number));
    expect(Date.parse(to) - Date.parse(from)).toBeGreaterThanOrEqual(24 * 3600_000);
    expect(series.length).toBe((Date.parse(to) - Date.parse(from)) / (stepSeconds * 1000));
    expect(series.reduce((n: number, point: { eventsIn: number }) => n + point.eventsIn, 0)).toBe(11);
    expect(versions).toEqual([{ versionId: transformation.versionId, eventsIn: 11, failed: 3, errorRate: totals.errorRate }]);
  });

  it('takes from, to and step', async () => {
    const to = new Date(Math.ceil(Date.now() / 60_000) * 60_000 + 60_000).toISOString();
    const from = new Date(Date.parse(to) - 10 * 60_000).toISOString();
    const answer = await api.get(`/transformations/${transformation.id}/stats?from=${from}&to=${to}&step=60`);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ from, to, stepSeconds: 60 });
    expect(answer.body.series).toHaveLength(10);
    expect(answer.body.totals.eventsIn).toBe(11);
    const past = await api.get(`/transformations/${transformation.id}/stats?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z&step=3600`);
    expect(past.status).toBe(200);
    expect(past.body.series).toHaveLength(24);
    expect(past.body.totals.eventsIn).toBe(0);
    expect(past.body.totals.runMs.p99).toBeNull();
  });

  it.each([
    ['from=yesterday', 'invalid_field'],
    ['from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z', 'invalid_field'],
    ['step=90', 'invalid_field'],
    ['step=30', undefined],
    ['from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z&step=60', 'invalid_field'],
  ])('refuses %s with 400', async (query, code) => {
    const answer = await api.get(`/transformations/${transformation.id}/stats?${query}`);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ success: false, error: { message: expect.any(String), ...(code ? { code } : {}) } });
  });

  it('is 404 for an unknown transformation or another workspace\'s, and 401 without credentials', async () => {
    expect((await api.get('/transformations/nope/stats')).status).toBe(404);
    const other = await catalog.server.createWorkspace('other-stats');
    const otherToken = await catalog.server.issueAccessToken({ name: 'o', scopes: ['read'] }, other.workspaceAuth);
    const stranger = client(catalog.server.url, `Bearer ${otherToken.token}`);
    expect((await stranger.get(`/transformations/${transformation.id}/stats`)).status).toBe(404);
    expect((await stranger.get(`/transformations/${transformation.id}/errors`)).status).toBe(404);
    expect((await client(catalog.server.url, undefined).get(`/transformations/${transformation.id}/stats`)).status).toBe(401);
  });

  it('GET /stats sums the workspace and only the workspace', async () => {
    const answer = await api.get('/stats');
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ transformationId: null, totals: { eventsIn: 11, failed: 3 } });
    const other = await catalog.server.createWorkspace('other-overview');
    const otherToken = await catalog.server.issueAccessToken({ name: 'o', scopes: ['read'] }, other.workspaceAuth);
    const theirs = await client(catalog.server.url, `Bearer ${otherToken.token}`).get('/stats');
    expect(theirs.body.totals.eventsIn).toBe(0);
    expect((await api.get('/stats?step=90')).status).toBe(400);
  });

  it('a token without the read scope is refused with 403', async () => {
    const writer = await catalog.server.issueAccessToken({ name: 'write-only', scopes: ['write'] });
    const writeOnly = client(catalog.server.url, `Bearer ${writer.token}`);
    for (const path of [`/transformations/${transformation.id}/stats`, `/transformations/${transformation.id}/errors`, '/stats']) {
      const answer = await writeOnly.get(path);
      expect(answer.status, path).toBe(403);
      expect(answer.body).toMatchObject({ success: false, error: { code: 'insufficient_scope' } });
    }
  });

  it('a read-only token may read them', async () => {
    const reader = await catalog.server.issueAccessToken({ name: 'reader', scopes: ['read'] });
    const answer = await client(catalog.server.url, `Bearer ${reader.token}`).get(`/transformations/${transformation.id}/stats`);
    expect(answer.status).toBe(200);
  });
});

describe('GET /transformations/{id}/errors', () => {
  it('answers the latest failed events, newest first, with the user line and secrets masked', async () => {
    const answer = await api.get(`/transformations/${transformation.id}/errors`);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const errors = answer.body.errors as { id: string; error: string; line: number | null; event: any; eventPreview: string | null; versionId: string }[];
    expect(errors).toHaveLength(3);
    expect(errors.map((e) => e.id)).toEqual([...errors.map((e) => e.id)].sort().reverse());
    for (const e of errors) {
      expect(e.versionId).toBe(transformation.versionId);
      expect(e.error).toMatch(/^Error: cannot take msg-[0-2]/);
      expect(e.line).toBe(3);
      expect(e.event.properties.fail).toBe(true);
      expect(e.event.properties.password).toBe('[masked]');
      expect(e.eventPreview).toBeNull();
    }
    expect(JSON.stringify(answer.body)).not.toContain('hunter2');
    expect((await api.get(`/transformations/${transformation.id}/errors?limit=1`)).body.errors).toHaveLength(1);
    expect((await api.get(`/transformations/${transformation.id}/errors?limit=0`)).status).toBe(400);
  });
});

describe('GET /transformations?include=stats', () => {
  it('adds what each transformation did in the last 24 hours; without it the list is as before', async () => {
    const listed = await api.get('/transformations?include=stats');
    expect(listed.status).toBe(200);
    const mine = listed.body.transformations.find((t: { id: string }) => t.id === transformation.id);
    expect(mine.stats24h).toMatchObject({ eventsIn: 11, eventsOut: 7, dropped: 1, failed: 3 });
    const plain = await api.get('/transformations');
    expect(plain.body.transformations.find((t: { id: string }) => t.id === transformation.id)).not.toHaveProperty('stats24h');
    expect((await api.get('/transformations?include=everything')).status).toBe(400);
  });
});

describe('rollups of several instances', () => {
  it('sum on read, histograms merged, and old ones are pruned', async () => {
    const { store } = catalog.server.server.services;
    const created = (await api.post('/transformations?publish=true', { name: 'two-instances', code: failing })).body as { id: string; versionId: string };
    const workspaceId = catalog.server.workspaceId;
    const options = { flushMs: 60_000, retentionMs: 14 * 86_400_000, errorsPerTransformation: 10, maxEventChars: 1024 };
    const a = new LiveStats(store.db, options);
    const b = new LiveStats(store.db, options);
    const batch = { workspaceId, transformationId: created.id, versionId: created.versionId, dropped: 0, coldStart: false, outcome: 'ok' };
    for (let i = 0; i < 5; i++) a.record({ ...batch, eventsIn: 10, eventsOut: 10, failed: 0, durationMs: 3 });
    await a.flush();
    // A second flush of a grown rollup replaces the row, it does not add to it twice.
    a.record({ ...batch, eventsIn: 10, eventsOut: 9, failed: 1, durationMs: 3 });
    await a.flush();
    for (let i = 0; i < 4; i++) b.record({ ...batch, eventsIn: 20, eventsOut: 20, failed: 0, durationMs: 800 });
    b.record({ ...batch, eventsIn: 20, eventsOut: 0, failed: 20, durationMs: 20_000, outcome: 'wall_limit' });
    await b.flush();
    const now = Date.now();
    const stats = await transformationStats(store.db, workspaceId, created.id, { from: now - 3600_000, to: now + 60_000, stepMs: 60_000 });
    expect(stats.totals).toMatchObject({ eventsIn: 160, eventsOut: 139, failed: 21, batches: 11, limitKills: 1 });
    // 6 batches of 3 ms (bucket "5"), 4 of 800 ms (bucket "1000"), one above every bound.
    expect(stats.totals.runMs).toMatchObject({ p50: 5, p95: 10000, sum: 6 * 3 + 4 * 800 + 20_000 });

    // Rollups older than the retention go on the next prune.
    const old = new LiveStats(store.db, { ...options, now: () => now - 20 * 86_400_000 });
    old.record({ ...batch, eventsIn: 7, eventsOut: 7, failed: 0, durationMs: 1 });
    await old.flush();
    const window = { from: now - 21 * 86_400_000, to: now + 60_000, stepMs: 86_400_000 };
    expect((await transformationStats(store.db, workspaceId, created.id, window)).totals.eventsIn).toBe(167);
    const pruner = new LiveStats(store.db, options);
    await pruner.flush();
    expect((await transformationStats(store.db, workspaceId, created.id, window)).totals.eventsIn).toBe(160);
  });
});
