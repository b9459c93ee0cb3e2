import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trackEvent, wireEvent } from '../helpers/fixtures.js';
import { client, startCatalog, type Catalog, type Client } from './transformations.helpers.js';

// Canary releases on a real server and sandbox: the split on /customTransform (sticky by user),
// release state side by side, guards that withdraw a failing canary with no person involved,
// promotion, abort, and every refusal.

let catalog: Catalog;
let api: Client;

const tagging = (tag: string, failEvery = 0) =>
  `export function transformEvent(event) {\n  if (${failEvery} > 0 && event.properties.n % ${failEvery} === 0) throw new Error('no ' + event.properties.n);\n  event.tag = ${JSON.stringify(tag)};\n  return event;\n}\n`;

async function release(id: string) {
  const answer = await api.get(`/transformations/${id}/release`);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return answer.body;
}

/** Sends events for users u<from>..u<to-1> to `versionId`; answers each user's output tag (or 'failed'). */
async function send(versionId: string, from: number, to: number): Promise<Map<string, string>> {
  const events = [];
  for (let n = from; n < to; n++) events.push(wireEvent(n, { versionId, message: { ...trackEvent(n, { n }), userId: `u${n}` } }));
  const res = await fetch(`${catalog.server.url}/customTransform`, { method: 'POST', headers: { authorization: `Bearer ${catalog.token}`, 'content-type': 'application/json' }, body: JSON.stringify(events) });
  expect(res.status).toBe(200);
  const entries = (await res.json()) as Array<{ statusCode: number; output?: { userId: string; tag: string }; metadata: { messageId: string } }>;
  const tags = new Map<string, string>();
  for (const entry of entries) tags.set(entry.output?.userId ?? entry.metadata.messageId, entry.statusCode === 200 ? entry.output!.tag : 'failed');
  return tags;
}

async function transformationWithDraft(name: string, draftCode: string) {
  const created = (await api.post('/transformations?publish=true', { name, code: tagging('stable') })).body as { id: string; versionId: string };
  const draft = (await api.post(`/transformations/${created.id}?publish=false`, { code: draftCode })).body as { versionId: string };
  return { id: created.id, stable: created.versionId, candidate: draft.versionId };
}

beforeAll(async () => {
  catalog = await startCatalog();
  api = catalog.api;
});
afterAll(async () => {
  await catalog?.server.close();
});

describe('a canary on /customTransform', () => {
  it('takes about its share of users, each user stays on one side across batches, and the published version is unchanged', async () => {
    const t = await transformationWithDraft('split', tagging('canary'));
    const started = await api.post(`/transformations/${t.id}/canary`, { versionId: t.candidate, percent: 30 });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    expect(started.body.canary).toMatchObject({ status: 'running', percent: 30, stableVersionId: t.stable, canaryVersionId: t.candidate, guards: { minEvents: 200 }, scope: expect.stringContaining('config backend') });

    const first = await send(t.stable, 0, 400);
    const canaryShare = [...first.values()].filter((tag) => tag === 'canary').length / first.size;
    expect(canaryShare).toBeGreaterThan(0.2);
    expect(canaryShare).toBeLessThan(0.4);
    // The same users in another batch, in another order of arrival: each on the side it was on.
    const again = await send(t.stable, 0, 400);
    expect([...again.entries()]).toEqual([...first.entries()]);

    // Requests naming the canary version itself run it; the published version stays the stable one.
    expect((await api.get(`/transformations/${t.id}`)).body.publishedVersionId).toBe(t.stable);
    const state = await release(t.id);
    expect(state.stableVersionId).toBe(t.stable);
    expect(state.sides.stable.eventsIn + state.sides.canary.eventsIn).toBe(800);
    expect(state.sides.canary.eventsIn).toBe([...first.values()].filter((tag) => tag === 'canary').length * 2);
    expect(state.sides.canary.failureRate).toBe(0);
    expect(Array.isArray(state.series.stable)).toBe(true);

    const aborted = await api.del(`/transformations/${t.id}/canary`);
    expect(aborted.status).toBe(200);
    expect(aborted.body.canary.status).toBe('aborted');
    const after = await send(t.stable, 0, 50);
    expect(new Set(after.values())).toEqual(new Set(['stable']));
  });

  it('is withdrawn by its guard when it fails more than the stable version, with no person involved', async () => {
    const t = await transformationWithDraft('guarded', tagging('canary', 5));
    expect((await api.post(`/transformations/${t.id}/canary`, { versionId: t.candidate, percent: 50, guards: { minEvents: 40 } })).status).toBe(200);
    let rounds = 0;
    while ((await release(t.id)).canary.status === 'running' && rounds < 20) {
      await send(t.stable, rounds * 100, rounds * 100 + 100);
      rounds++;
    }
    const state = await release(t.id);
    expect(state.canary.status).toBe('rolled_back');
    expect(state.canary.endReason).toMatch(/failure rate/);
    // Every event after the trip runs the stable version.
    const after = await send(t.stable, 5000, 5200);
    expect(new Set(after.values())).toEqual(new Set(['stable']));
    const audit = (await client(catalog.server.url, catalog.server.workspaceAuth).get('/auditLog?limit=1000')).body as Array<{ action: string; target: string; reason: string; actor: { type: string } }>;
    const rollback = audit.find((e) => e.target === t.id && e.action === 'transformation.canary_rollback');
    expect(rollback).toMatchObject({ actor: { type: 'system' }, reason: expect.stringContaining('failure rate') });
    const metrics = await catalog.server.server.services.metrics.registry.getSingleMetricAsString('tiller_canary_ends_total');
    expect(metrics).toMatch(/how="rolled_back"\} [1-9]/);
  });

  it('promotes: the canary becomes the published version for all traffic, audited with both versions', async () => {
    const t = await transformationWithDraft('promoted', tagging('canary'));
    expect((await api.post(`/transformations/${t.id}/canary`, { versionId: t.candidate, percent: 10 })).status).toBe(200);
    const promoted = await api.post(`/transformations/${t.id}/canary/promote`, {});
    expect(promoted.status, JSON.stringify(promoted.body)).toBe(200);
    expect(promoted.body.canary.status).toBe('promoted');
    expect((await api.get(`/transformations/${t.id}`)).body.publishedVersionId).toBe(t.candidate);
    const actions = ((await client(catalog.server.url, catalog.server.workspaceAuth).get('/auditLog?limit=1000')).body as Array<{ action: string; target: string; reason: string }>).filter((e) => e.target === t.id);
    expect(actions.find((e) => e.action === 'transformation.canary_start')?.reason).toMatch(/^version 2 \(.+\) on 10% of the events of version 1/);
    expect(actions.find((e) => e.action === 'transformation.canary_promote')?.reason).toMatch(/^version 2 \(.+\) replaces version 1/);
  });
});

describe('canary figures', () => {
  it('are kept per instance for the running canary and dropped when a new canary replaces an ended one', async () => {
    const t = await transformationWithDraft('figures kept', tagging('canary'));
    const figuresOf = () => catalog.server.server.services.store.db.selectFrom('canary_figures').select(['started_at', 'side']).where('transformation_id', '=', t.id).execute();
    const first = (await api.post(`/transformations/${t.id}/canary`, { versionId: t.candidate, percent: 50 })).body as { canary: { startedAt: string } };
    await send(t.stable, 0, 40);
    await catalog.server.server.services.canaries.sync();
    const kept = await figuresOf();
    expect(kept.map((row) => row.side).sort()).toEqual(['canary', 'stable']);
    expect(new Set(kept.map((row) => row.started_at))).toEqual(new Set([first.canary.startedAt]));

    expect((await api.del(`/transformations/${t.id}/canary`)).status).toBe(200);
    const next = await api.post(`/transformations/${t.id}/canary`, { versionId: t.candidate, percent: 10 });
    expect(next.status, JSON.stringify(next.body)).toBe(200);
    expect((await figuresOf()).filter((row) => row.started_at === first.canary.startedAt)).toEqual([]);
  });
});

describe('a canary ends when its transformation moves on', () => {
  it('publishing another version or deleting the transformation ends it, audited', async () => {
    const t = await transformationWithDraft('superseded', tagging('canary'));
    expect((await api.post(`/transformations/${t.id}/canary`, { versionId: t.candidate, percent: 20 })).status).toBe(200);
    const published = await api.post(`/transformations/${t.id}?publish=true`, { code: tagging('third') });
    expect(published.status).toBe(200);
    const state = await release(t.id);
    expect(state.canary).toMatchObject({ status: 'aborted', endReason: expect.stringContaining('version 3') });
    // Requests naming the new published version are not split.
    expect(new Set((await send(published.body.versionId, 0, 100)).values())).toEqual(new Set(['third']));

    const u = await transformationWithDraft('deleted', tagging('canary'));
    expect((await api.post(`/transformations/${u.id}/canary`, { versionId: u.candidate, percent: 20 })).status).toBe(200);
    expect((await api.del(`/transformations/${u.id}`)).status).toBe(200);
    const audit = (await client(catalog.server.url, catalog.server.workspaceAuth).get('/auditLog?limit=1000')).body as Array<{ action: string; target: string; reason: string }>;
    expect(audit.find((e) => e.target === u.id && e.action === 'transformation.canary_abort')?.reason).toContain('deleted');
  });
});

describe('canary refusals change nothing', () => {
  let t: { id: string; stable: string; candidate: string };
  beforeAll(async () => {
    t = await transformationWithDraft('refusals', tagging('canary'));
  });

  it.each([
    [{ percent: 0 }, 400],
    [{ percent: 100 }, 400],
    [{ percent: 12.5 }, 400],
    [{ guards: { minEvents: 0 } }, 400],
    [{ guards: { maxFailureRateIncrease: 2 } }, 400],
    [{ guards: { maxP99Ratio: 0.5 } }, 400],
    [{ guards: { autoPromote: { afterSeconds: 1, minEvents: 10 } } }, 400],
  ])('%j answers %i', async (change, status) => {
    const answer = await api.post(`/transformations/${t.id}/canary`, { versionId: t.candidate, percent: 10, ...change });
    expect(answer.status).toBe(status);
    expect(answer.body).toMatchObject({ success: false, error: { message: expect.any(String) } });
    expect((await release(t.id)).canary).toBeNull();
  });

  it('refuses the published version, a version of another transformation, and another workspace\'s transformation', async () => {
    expect((await api.post(`/transformations/${t.id}/canary`, { versionId: t.stable, percent: 10 })).status).toBe(400);
    const other = await transformationWithDraft('other', tagging('x'));
    expect((await api.post(`/transformations/${t.id}/canary`, { versionId: other.candidate, percent: 10 })).status).toBe(400);
    const stranger = await catalog.server.createWorkspace('canary-stranger');
    const theirs = await catalog.server.issueAccessToken({ name: 's', scopes: ['read', 'write'] }, stranger.workspaceAuth);
    const strangerApi = client(catalog.server.url, `Bearer ${theirs.token}`);
    expect((await strangerApi.post(`/transformations/${t.id}/canary`, { versionId: t.candidate, percent: 10 })).status).toBe(404);
    expect((await strangerApi.get(`/transformations/${t.id}/release`)).status).toBe(404);
    expect((await release(t.id)).canary).toBeNull();
  });

  it('refuses a second canary while one runs, promote or abort with none, an unpublished transformation, and a read-only token', async () => {
    expect((await api.post(`/transformations/${t.id}/canary/promote`, {})).status).toBe(409);
    expect((await api.del(`/transformations/${t.id}/canary`)).status).toBe(409);
    expect((await api.post(`/transformations/${t.id}/canary`, { versionId: t.candidate, percent: 10 })).status).toBe(200);
    const second = await api.post(`/transformations/${t.id}/canary`, { versionId: t.candidate, percent: 20 });
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe('canary_running');
    expect((await release(t.id)).canary.percent).toBe(10);
    const draftOnly = (await api.post('/transformations?publish=false', { name: 'never-published', code: tagging('x') })).body as { id: string; versionId: string };
    expect((await api.post(`/transformations/${draftOnly.id}/canary`, { versionId: draftOnly.versionId, percent: 10 })).status).toBe(409);
    const reader = await catalog.server.issueAccessToken({ name: 'reader', scopes: ['read'] });
    const readOnly = client(catalog.server.url, `Bearer ${reader.token}`);
    expect((await readOnly.del(`/transformations/${t.id}/canary`)).status).toBe(403);
    expect((await readOnly.get(`/transformations/${t.id}/release`)).status).toBe(200);
    expect((await api.del(`/transformations/${t.id}/canary`)).status).toBe(200);
  });
});
