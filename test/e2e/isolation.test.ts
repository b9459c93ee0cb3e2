import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTransformation, wireEvent } from '../helpers/fixtures.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// Hostile code in one workspace must not harm another workspace's live traffic: the whole server
// is driven over HTTP (the credential-free runtime listener, as rudder-server would use it) while
// one workspace's versions loop forever, loop after an await, never settle and exhaust memory.

let server: TestServer;
let base: string;

const hostileCode = {
  loop: `export function transformEvent(event) { for (;;) {} }`,
  asyncLoop: `export async function transformEvent(event) { await null; for (;;) {} }`,
  microtaskLoop: `export async function transformBatch(events) { for (let i = 0; ; i++) await Promise.resolve(i); }`,
  neverSettles: `export function transformEvent(event) { return new Promise(() => {}); }`,
  memoryBomb: `export function transformEvent(event) {
    if (!event.bomb) return { ...event, survived: true };
    const hog = [];
    for (let i = 0; ; i++) hog.push(new Array(1 << 20).fill(i));
  }`,
};
const normalCode = `export function transformEvent(event, metadata) { return { ...event, normal: true, job: metadata(event).jobId }; }`;

interface WireAnswer {
  statusCode: number;
  output?: Record<string, unknown>;
  error?: string;
  metadata: Record<string, unknown>;
}

async function transform(entries: unknown[]): Promise<{ status: number; body: WireAnswer[] | { error: { code: string } } }> {
  const res = await fetch(`${base}/customTransform`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(entries) });
  return { status: res.status, body: (await res.json()) as WireAnswer[] };
}

async function metricsText(): Promise<string> {
  return server.metricsText();
}

function gauge(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}

const versions: Record<string, string> = {};
let normalWorkspace: string;
let hostileWorkspace: string;

beforeAll(async () => {
  server = await startTestServer({
    env: {
      TILLER_RUNTIME_PORT: '0',
      TILLER_SANDBOX_MEMORY_MB: '32',
      TILLER_SANDBOX_CPU_MS: '1000',
      TILLER_SANDBOX_WALL_MS: '2000',
      TILLER_WORKSPACE_CONCURRENCY: '2',
      TILLER_METRICS_TENANT_LABELS: 'true',
    },
  });
  base = server.runtimeUrl!;
  hostileWorkspace = (await server.createWorkspace('hostile')).workspaceId;
  normalWorkspace = server.workspaceId;
  for (const [name, code] of Object.entries(hostileCode)) {
    versions[name] = (await createTransformation(server, { workspaceId: hostileWorkspace, code, name })).versionId;
  }
  versions.normal = (await createTransformation(server, { workspaceId: normalWorkspace, code: normalCode, name: 'normal' })).versionId;
});

afterAll(async () => {
  await server?.close();
});

describe('isolation between workspaces under attack', () => {
  it('keeps another workspace\'s traffic succeeding while hostile versions break every limit', async () => {
    let attacking = true;
    const hostileOutcomes: string[] = [];
    const hostileNames = ['loop', 'asyncLoop', 'microtaskLoop', 'neverSettles', 'memoryBomb'] as const;

    // One attacker per hostile version, each going on until the normal traffic is done and it has
    // sent at least two batches.
    const attacker = async (name: (typeof hostileNames)[number]) => {
      for (let round = 0; attacking || round < 2; round++) {
        const entries = Array.from({ length: 5 }, (_, n) => wireEvent(n, { versionId: versions[name]!, destinationId: `hostile-${name}`, message: { bomb: true, messageId: `h-${n}` } }));
        const res = await transform(entries);
        if (res.status === 200) for (const answer of res.body as WireAnswer[]) hostileOutcomes.push(`${answer.statusCode}:${answer.error ?? ''}`);
        else hostileOutcomes.push(`http ${res.status}`);
      }
    };

    const normalResults: Array<{ status: number; ok: number; total: number }> = [];
    const normalSender = async (stream: number) => {
      for (let i = 0; i < 12; i++) {
        const entries = Array.from({ length: 50 }, (_, n) => wireEvent(n, { versionId: versions.normal!, destinationId: `normal-${stream}` }));
        const res = await transform(entries);
        const body = res.status === 200 ? (res.body as WireAnswer[]) : [];
        normalResults.push({ status: res.status, ok: body.filter((a) => a.statusCode === 200 && a.output?.normal === true && a.output?.job === a.metadata.jobId).length, total: body.length });
      }
    };

    const attackers = hostileNames.map((name) => attacker(name));
    // Let the attack get going before the normal traffic starts.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await Promise.all([normalSender(0), normalSender(1)]);
    attacking = false;
    await Promise.all(attackers);

    expect(normalResults).toHaveLength(24);
    for (const result of normalResults) expect(result).toEqual({ status: 200, ok: 50, total: 50 });

    // The attack really hit the limits, and each failure was contained to its own events.
    const text = hostileOutcomes.join('\n');
    expect(text).toMatch(/CPU time/);
    expect(text).toMatch(/of memory/);
    expect(text).toMatch(/did not finish within/);
    expect(hostileOutcomes.every((o) => o.startsWith('400:') || o === 'http 503')).toBe(true);

    const metrics = await metricsText();
    expect(gauge(metrics, 'tiller_runtime_limit_kills{limit="cpu"}')).toBeGreaterThan(0);
    expect(metrics).toMatch(new RegExp(`tiller_transformation_batches_total\\{workspace_id="${hostileWorkspace}",version_id="${versions.loop}",outcome="cpu_limit"\\} [1-9]`));
    expect(metrics).toMatch(new RegExp(`tiller_transformation_events_out_total\\{workspace_id="${normalWorkspace}",version_id="${versions.normal}"\\} 1200`));
    expect((await fetch(`${base}/health`)).status).toBe(200);
  });

  it('serves a version again right after it broke its memory limit', async () => {
    const bomb = await transform([wireEvent(0, { versionId: versions.memoryBomb!, message: { bomb: true } })]);
    expect(bomb.status).toBe(200);
    const [failed] = bomb.body as WireAnswer[];
    expect(failed!.statusCode).toBe(400);
    expect(failed!.error).toMatch(/more than 32 MB of memory/);

    const next = await transform([wireEvent(1, { versionId: versions.memoryBomb!, message: { calm: true } })]);
    expect(next.status).toBe(200);
    expect((next.body as WireAnswer[])[0]).toMatchObject({ statusCode: 200, output: { calm: true, survived: true } });
  });

  it('serves a version again right after it broke its CPU and wall-clock limits', async () => {
    const flaky = await createTransformation(server, {
      workspaceId: hostileWorkspace,
      code: `export function transformEvent(e) { if (e.spin) for (;;) {} if (e.hang) return new Promise(() => {}); return { fine: true }; }`,
    });
    const spin = await transform([wireEvent(0, { versionId: flaky.versionId, message: { spin: true } })]);
    expect((spin.body as WireAnswer[])[0]!.error).toMatch(/CPU time/);
    const hang = await transform([wireEvent(0, { versionId: flaky.versionId, message: { hang: true } })]);
    expect((hang.body as WireAnswer[])[0]!.error).toMatch(/did not finish within 2000 ms/);
    const fine = await transform([wireEvent(0, { versionId: flaky.versionId, message: {} })]);
    expect((fine.body as WireAnswer[])[0]).toMatchObject({ statusCode: 200, output: { fine: true } });
  });
});

describe('warm isolates under a small cache bound', () => {
  let small: TestServer;

  beforeAll(async () => {
    small = await startTestServer({ env: { TILLER_RUNTIME_PORT: '0', TILLER_SANDBOX_MAX_ISOLATES: '2', TILLER_SANDBOX_ISOLATES_PER_VERSION: '1', TILLER_METRICS_TENANT_LABELS: 'true' } });
  });
  afterAll(async () => {
    await small?.close();
  });

  it('evicts the least recently used isolates, never exceeds the bound, and every version keeps working', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      ids.push((await createTransformation(small, { workspaceId: small.workspaceId, code: `export function transformEvent(e) { return { ...e, version: ${i} }; }` })).versionId);
    }
    let maxIsolates = 0;
    for (let round = 0; round < 2; round++) {
      for (const [i, versionId] of ids.entries()) {
        const res = await fetch(`${small.runtimeUrl}/customTransform`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([wireEvent(0, { versionId })]) });
        const body = (await res.json()) as WireAnswer[];
        expect(body[0]).toMatchObject({ statusCode: 200, output: { version: i } });
        maxIsolates = Math.max(maxIsolates, gauge(await small.metricsText(), 'tiller_runtime_isolates'));
      }
    }
    const metrics = await small.metricsText();
    expect(maxIsolates).toBeLessThanOrEqual(2);
    expect(gauge(metrics, 'tiller_runtime_isolate_evictions')).toBeGreaterThanOrEqual(10);
    // Every batch after the first round was a cold start again: the bound really held.
    for (const versionId of ids) expect(metrics).toContain(`tiller_transformation_cold_starts_total{workspace_id="${small.workspaceId}",version_id="${versionId}"} 2`);
  });
});
