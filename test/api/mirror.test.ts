import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trackEvent, wireEvent } from '../helpers/fixtures.js';
import { startCatalog, type Catalog } from './transformations.helpers.js';

// rudder-server's mirror target (USER_TRANSFORM_MIRROR_URL=http://<tiller>/mirror): the same
// answers as /customTransform for code without side effects, 297 for a batch whose code calls
// out (the call is never made), and mirror traffic counts in no stats.

let catalog: Catalog;
let stub: Server;
let stubUrl = '';
let calls = 0;

beforeAll(async () => {
  stub = createServer((_req, res) => {
    calls++;
    res.setHeader('content-type', 'application/json');
    res.end('{"ok":true}');
  });
  await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
  stubUrl = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
  catalog = await startCatalog({ env: { TILLER_OUTBOUND_ALLOW: '127.0.0.1/32' } });
});
afterAll(async () => {
  await catalog?.server.close();
  stub?.closeAllConnections();
  await new Promise<void>((resolve) => stub.close(() => resolve()));
});

async function post(path: string, versionId: string, n = 5) {
  const body = JSON.stringify(Array.from({ length: n }, (_, i) => wireEvent(i, { versionId, message: trackEvent(i) })));
  const res = await fetch(`${catalog.server.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${catalog.token}`, 'content-type': 'application/json' }, body });
  return { status: res.status, text: await res.text(), apiVersion: res.headers.get('apiversion') };
}

describe('POST /mirror/customTransform', () => {
  it('answers code without outbound calls exactly as /customTransform does, and counts in no stats', async () => {
    const t = (await catalog.api.post('/transformations?publish=true', { name: 'pure', code: 'export function transformEvent(e) { e.seen = true; return e; }' })).body as { id: string; versionId: string };
    const live = await post('/customTransform', t.versionId);
    const mirror = await post('/mirror/customTransform', t.versionId);
    expect(mirror.status).toBe(200);
    expect(mirror.apiVersion).toBe('2');
    expect(mirror.text).toBe(live.text);
    await post('/mirror/customTransform', t.versionId);
    await catalog.server.server.services.liveStats!.flush();
    const stats = await catalog.api.get(`/transformations/${t.id}/stats`);
    expect(stats.body.totals.eventsIn).toBe(5);
  });

  it('answers 297 for a batch whose code calls out, without making the call; /customTransform makes it and never answers 297', async () => {
    const code = `export async function transformEvent(e) { const r = await fetch('${stubUrl}/x'); return { ...e, r }; }`;
    const t = (await catalog.api.post('/transformations?publish=true', { name: 'calls-out', code })).body as { versionId: string };
    calls = 0;
    const mirror = await post('/mirror/customTransform', t.versionId);
    expect(mirror.status).toBe(297);
    expect(JSON.parse(mirror.text)).toMatchObject({ success: false, error: { code: 'outbound_not_made', message: expect.stringContaining('outbound') } });
    expect(calls).toBe(0);
    const live = await post('/customTransform', t.versionId);
    expect(live.status).toBe(200);
    expect(calls).toBe(5);
    expect(JSON.parse(live.text).every((entry: { statusCode: number }) => entry.statusCode === 200)).toBe(true);
  });

  it('still answers geolocation and credentials, which change nothing outside', async () => {
    const code = "export function transformEvent(e) { e.region = getCredential('MISSING') ?? 'none'; return e; }";
    const t = (await catalog.api.post('/transformations?publish=true', { name: 'local-only', code })).body as { versionId: string };
    const mirror = await post('/mirror/customTransform', t.versionId);
    expect(mirror.status).toBe(200);
    expect(JSON.parse(mirror.text)[0].output.region).toBe('none');
  });
});
