import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trackEvent, wireEvent } from '../helpers/fixtures.js';
import { client, startCatalog, type Catalog, type Client } from './transformations.helpers.js';

// Shadow runs on a real server and sandbox: a candidate runs on a copy of live batches after the
// live answer, which stays byte-identical; the report counts what differs; outbound calls are not
// made; a full queue sheds copies and never fails a live request.

let catalog: Catalog;
let api: Client;
let stub: Server;
let stubUrl = '';
let stubCalls = 0;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  stub = createServer((_req, res) => {
    stubCalls++;
    res.end('{}');
  });
  await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
  stubUrl = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
  catalog = await startCatalog({ env: { TILLER_OUTBOUND_ALLOW: '127.0.0.1/32' } });
  api = catalog.api;
});
afterAll(async () => {
  await catalog?.server.close();
  stub?.closeAllConnections();
  await new Promise<void>((resolve) => stub.close(() => resolve()));
});

async function send(versionId: string, count = 20): Promise<{ status: number; text: string }> {
  const body = JSON.stringify(Array.from({ length: count }, (_, n) => wireEvent(n, { versionId, message: trackEvent(n, { n }) })));
  const res = await fetch(`${catalog.server.url}/customTransform`, { method: 'POST', headers: { authorization: `Bearer ${catalog.token}`, 'content-type': 'application/json' }, body });
  return { status: res.status, text: await res.text() };
}

async function drained(): Promise<void> {
  const runner = catalog.server.server.services.shadows;
  for (let i = 0; i < 200 && runner.pending > 0; i++) await sleep(20);
}

async function withDraft(name: string, candidate: string) {
  const created = (await api.post('/transformations?publish=true', { name, code: 'export function transformEvent(e) { e.tag = "live"; return e; }' })).body as { id: string; versionId: string };
  const draft = (await api.post(`/transformations/${created.id}?publish=false`, { code: candidate })).body as { versionId: string };
  return { id: created.id, stable: created.versionId, candidate: draft.versionId };
}

describe('a shadow of a candidate version', () => {
  it('leaves the live answer byte-identical and reports what the candidate would change', async () => {
    const candidate = [
      'export function transformEvent(e) {',
      '  const n = e.properties.n;',
      "  if (n % 10 === 3) throw new Error('no ' + n);",
      '  if (n % 10 === 5) return null;',
      '  e.tag = n % 10 === 7 ? "changed" : "live";',
      '  return e;',
      '}',
    ].join('\n');
    const t = await withDraft('shadowed', candidate);
    const before = await send(t.stable);
    const started = await api.post(`/transformations/${t.id}/shadow`, { versionId: t.candidate, percent: 100 });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    expect(started.body.shadow).toMatchObject({ status: 'running', percent: 100, candidateVersionId: t.candidate, stableVersionId: t.stable });
    const during = await send(t.stable);
    expect(during.status).toBe(200);
    expect(during.text).toBe(before.text);
    await drained();
    const { body } = await api.get(`/transformations/${t.id}/shadow`);
    expect(body.report).toMatchObject({ compared: 20, identical: 14, differing: 6, failedOnlyInCandidate: 2, dropsDiffer: 2, notCompared: 0, shedBatches: 0 });
    expect(body.report.diffs).toHaveLength(6);
    expect(body.report.diffs.find((d: { candidate: string }) => d.candidate === 'failed')).toMatchObject({ input: expect.stringContaining('"n":3'), live: expect.stringContaining('"tag":"live"') });
    expect(body.report.diffs.some((d: { candidate: string }) => d.candidate.includes('"tag":"changed"'))).toBe(true);

    const stopped = await api.del(`/transformations/${t.id}/shadow`);
    expect(stopped.status).toBe(200);
    expect(stopped.body.shadow.status).toBe('stopped');
    expect((await send(t.stable)).text).toBe(before.text);
    await drained();
    expect((await api.get(`/transformations/${t.id}/shadow`)).body.report.compared).toBe(20);
  });

  it('makes no outbound call in the shadow: such batches are not compared', async () => {
    const t = await withDraft('shadow-calls-out', `export async function transformEvent(e) { await fetch('${stubUrl}/x'); return e; }`);
    expect((await api.post(`/transformations/${t.id}/shadow`, { versionId: t.candidate, percent: 100 })).status).toBe(200);
    stubCalls = 0;
    expect((await send(t.stable)).status).toBe(200);
    await drained();
    expect(stubCalls).toBe(0);
    expect((await api.get(`/transformations/${t.id}/shadow`)).body.report).toMatchObject({ compared: 0, notCompared: 20 });
  });

  it('sheds copies when its queue is full and never fails or slows a live request into an error', async () => {
    const slow = 'export function transformEvent(e) { const until = Date.now() + 30; while (Date.now() < until) {} return e; }';
    const t = await withDraft('shadow-shed', slow);
    expect((await api.post(`/transformations/${t.id}/shadow`, { versionId: t.candidate, percent: 100 })).status).toBe(200);
    const answers = await Promise.all(Array.from({ length: 40 }, () => send(t.stable, 5)));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    await drained();
    const { report } = (await api.get(`/transformations/${t.id}/shadow`)).body;
    expect(report.shedBatches).toBeGreaterThan(0);
    expect(report.compared + report.shedBatches * 5).toBe(200);
    const metrics = await catalog.server.server.services.metrics.registry.getSingleMetricAsString('tiller_shadow_shed_batches_total');
    expect(metrics).toMatch(/tiller_shadow_shed_batches_total [1-9]/);
  });
});

describe('shadow reports', () => {
  it('are dropped when a new shadow replaces a stopped one', async () => {
    const t = await withDraft('reports dropped', 'export function transformEvent(e) { e.tag = "candidate"; return e; }');
    const reportsOf = () => catalog.server.server.services.store.db.selectFrom('shadow_reports').select('started_at').where('transformation_id', '=', t.id).execute();
    const first = await api.post(`/transformations/${t.id}/shadow`, { versionId: t.candidate, percent: 100 });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect((await send(t.stable)).status).toBe(200);
    await drained();
    await catalog.server.server.services.shadows.sync();
    const kept = await reportsOf();
    expect(kept).toHaveLength(1);

    expect((await api.del(`/transformations/${t.id}/shadow`)).status).toBe(200);
    const next = await api.post(`/transformations/${t.id}/shadow`, { versionId: t.candidate, percent: 10 });
    expect(next.status, JSON.stringify(next.body)).toBe(200);
    expect((await reportsOf()).filter((row) => row.started_at === kept[0]!.started_at)).toEqual([]);
  });
});

describe('shadow refusals change nothing', () => {
  it('refuses a bad share, the published version, an unknown version, a second shadow, a stop with none, and another workspace', async () => {
    const t = await withDraft('shadow-refusals', 'export function transformEvent(e) { return e; }');
    for (const percent of [0, 101, 2.5]) expect((await api.post(`/transformations/${t.id}/shadow`, { versionId: t.candidate, percent })).status).toBe(400);
    expect((await api.post(`/transformations/${t.id}/shadow`, { versionId: t.stable, percent: 10 })).status).toBe(400);
    expect((await api.post(`/transformations/${t.id}/shadow`, { versionId: 'no-such-version', percent: 10 })).status).toBe(400);
    expect((await api.del(`/transformations/${t.id}/shadow`)).status).toBe(409);
    expect((await api.get(`/transformations/${t.id}/shadow`)).body).toEqual({ shadow: null, report: null });
    expect((await api.post(`/transformations/${t.id}/shadow`, { versionId: t.candidate, percent: 10 })).status).toBe(200);
    const second = await api.post(`/transformations/${t.id}/shadow`, { versionId: t.candidate, percent: 20 });
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe('shadow_running');
    const stranger = await catalog.server.createWorkspace('shadow-stranger');
    const theirs = await catalog.server.issueAccessToken({ name: 's', scopes: ['read', 'write'] }, stranger.workspaceAuth);
    const strangerApi = client(catalog.server.url, `Bearer ${theirs.token}`);
    expect((await strangerApi.get(`/transformations/${t.id}/shadow`)).status).toBe(404);
    expect((await strangerApi.del(`/transformations/${t.id}/shadow`)).status).toBe(404);
    expect((await api.del(`/transformations/${t.id}/shadow`)).status).toBe(200);
  });
});
