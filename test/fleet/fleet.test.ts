import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, haproxyAvailable, HAPROXY_PATH, startHaproxy, type RunningHaproxy } from '../helpers/fleet.js';
import { trackEvent } from '../helpers/fixtures.js';
import { serveTiller, type ServingTiller } from '../helpers/process.js';
import { basicAuth, createTestDatabase, TEST_PEPPER, testDialect } from '../helpers/server.js';

// A fleet on a real topology: three `tiller serve` processes on one PostgreSQL database behind
// HAProxy, under a steady mixed load (token creates, publishes, /customTransform batches,
// /workspaceConfig polls). One instance is SIGKILLed and restarted, another is rolled (SIGTERM,
// drain, restart). Then: no acknowledged write is lost, every batch got an answer rudder-server
// retries or a 200, nothing failed during the rolling restart, and a revocation or a publish on
// one instance is visible on every other one.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const skipReason = testDialect() !== 'postgres' ? 'needs PostgreSQL (TILLER_TEST_DIALECT=postgres)' : !haproxyAvailable() ? `needs HAProxy at ${HAPROXY_PATH}` : undefined;
if (skipReason) console.log(`fleet: skipped: ${skipReason}`);

const CLIENTS = 4;
const DRAIN_DELAY_MS = 1500;
/** The goal: a revocation or publish on one instance is visible on every other within 1 s at the p99. */
const VISIBILITY_P99_MS = 1000;
/** Polling gives up on one sample past this (counted as Infinity, which fails the p99). */
const VISIBILITY_BOUND_MS = 5000;
const ROUNDS = 10;

type Op = 'token' | 'publish' | 'batch' | 'config';
interface Outcome {
  op: Op;
  start: number;
  end: number;
  /** 0: no HTTP answer (connection refused, reset, timeout). */
  status: number;
  detail?: string;
}

interface Instance {
  name: string;
  port: number;
  url: string;
  proc: ServingTiller | undefined;
}

const tagging = (tag: string) => `export function transformEvent(event) {\n  event.tag = ${JSON.stringify(tag)};\n  return event;\n}\n`;

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** rudder-server (spec 7.6): transport errors, 5xx, 429 and 408 are retried; any other non-200 fails the batch for good. */
const retriedByRudder = (status: number) => status === 0 || status >= 500 || status === 429 || status === 408;

describe('a fleet of three instances behind HAProxy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tiller-fleet-'));
  let database: { url: string; drop(): Promise<void> } | undefined;
  let haproxy: RunningHaproxy | undefined;
  const instances: Instance[] = [];

  afterAll(async () => {
    await haproxy?.stop().catch(() => undefined);
    await Promise.all(
      instances.map(async (instance) => {
        const proc = instance.proc;
        if (!proc || proc.child.exitCode !== null || proc.child.signalCode !== null) return;
        proc.child.kill('SIGTERM');
        const timer = setTimeout(() => proc.child.kill('SIGKILL'), 5000);
        await proc.exited;
        clearTimeout(timer);
      }),
    );
    await database?.drop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it.skipIf(skipReason !== undefined)(
    'loses no acknowledged write, fails no request during a rolling restart, and shares revocations and publishes',
    async () => {
      database = await createTestDatabase();
      const env = (port: number): Record<string, string> => ({
        DATABASE_URL: database!.url,
        TILLER_DATA_DIR: dir,
        TILLER_PEPPER: TEST_PEPPER,
        PORT: String(port),
        TILLER_SANDBOX_PROCESSES: '1',
        TILLER_DRAIN_DELAY_MS: String(DRAIN_DELAY_MS),
        TILLER_AUTH_FAILURE_LIMIT: '1000000',
        LOG_LEVEL: 'warn',
      });
      for (const name of ['a', 'b', 'c']) {
        const port = await freePort();
        instances.push({ name, port, url: `http://127.0.0.1:${port}`, proc: undefined });
      }
      const start = async (instance: Instance) => {
        instance.proc = await serveTiller(env(instance.port));
        return instance.proc;
      };
      // The first start on the empty database migrates it and creates the workspace; the others join.
      const first = await start(instances[0]!);
      const workspaceToken = first.firstWorkspaceToken;
      expect(workspaceToken, first.stdout()).toMatch(/^tlr_ws_/);
      await Promise.all(instances.slice(1).map(start));
      const [a, b, c] = instances as [Instance, Instance, Instance];

      haproxy = await startHaproxy(dir, instances.map(({ name, port }) => ({ name, port })));
      for (const instance of instances) await haproxy.waitUntil(instance.name, 'UP');
      const lb = haproxy.url;

      const workspaceAuth = basicAuth(workspaceToken!);
      const call = async (base: string, method: string, path: string, authorization: string, body?: unknown, timeoutMs = 15_000): Promise<{ status: number; body: any }> => {
        const res = await fetch(base + path, {
          method,
          headers: { authorization, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(timeoutMs),
        });
        const text = await res.text();
        let parsed: unknown = text;
        try {
          parsed = text === '' ? undefined : JSON.parse(text);
        } catch {
          // not JSON
        }
        return { status: res.status, body: parsed };
      };
      const must = async (what: string, answer: Promise<{ status: number; body: any }>) => {
        const { status, body } = await answer;
        if (status !== 200 && status !== 201) throw new Error(`${what}: ${status} ${JSON.stringify(body)}`);
        return body;
      };

      // Setup, through the load balancer: an API token, a control-plane configuration, and the
      // transformations the load publishes to (each connected to its own destination).
      const apiToken = (await must('api token', call(lb, 'POST', '/accessTokens', workspaceAuth, { name: 'fleet-api', scopes: ['read', 'write'] }))).data.token as string;
      const api = `Bearer ${apiToken}`;
      const destinations = ['dst-load-0', 'dst-load-1', 'dst-load-2', 'dst-visibility'];
      await must(
        'import config',
        call(lb, 'PUT', '/workspaceConfig/base', workspaceAuth, {
          workspaceId: 'fleet',
          sources: [
            {
              id: 'src-fleet',
              name: 'Fleet',
              writeKey: 'wk-fleet',
              enabled: true,
              sourceDefinition: { id: 'def-js', name: 'Javascript' },
              config: {},
              destinations: destinations.map((id) => ({ id, name: id, enabled: true, config: {}, destinationDefinition: { id: 'def-wh', name: 'WEBHOOK', displayName: 'Webhook' }, isProcessorEnabled: true, transformations: [] })),
            },
          ],
          settings: {},
          connections: {},
          libraries: [],
          credentials: {},
          updatedAt: '2024-05-01T10:00:00.000Z',
        }),
      );
      const loadTransformations: { id: string; versions: string[] }[] = [];
      for (let i = 0; i < 3; i++) {
        const created = await must('create transformation', call(lb, 'POST', '/transformations?publish=true', api, { name: `load-${i}`, code: tagging(`load-${i}-0`), destinationIds: [`dst-load-${i}`] }));
        loadTransformations.push({ id: created.id, versions: [created.versionId] });
      }
      const visibility = await must('create transformation', call(lb, 'POST', '/transformations?publish=true', api, { name: 'visibility', code: tagging('v-0'), destinationIds: ['dst-visibility'] }));
      /** The newest acknowledged published version: what rudder-server would have polled and sends. */
      let servedVersion = loadTransformations[0]!.versions[0]!;

      // The load: each client cycles through the four kinds of request, through HAProxy.
      const outcomes: Outcome[] = [];
      const ackedTokens: string[] = [];
      let running = true;
      let seq = 0;
      const measure = async (op: Op, run: () => Promise<{ status: number; detail?: string }>) => {
        const startAt = Date.now();
        try {
          const { status, detail } = await run();
          outcomes.push({ op, start: startAt, end: Date.now(), status, ...(detail ? { detail } : {}) });
        } catch (err) {
          outcomes.push({ op, start: startAt, end: Date.now(), status: 0, detail: String((err as Error).cause ?? err) });
        }
      };
      const ops: Record<Op, () => Promise<{ status: number; detail?: string }>> = {
        token: async () => {
          const res = await call(lb, 'POST', '/accessTokens', workspaceAuth, { name: `load-${++seq}`, scopes: ['read'] });
          if (res.status === 200) ackedTokens.push(res.body.data.id);
          return { status: res.status, ...(res.status !== 200 ? { detail: JSON.stringify(res.body) } : {}) };
        },
        publish: async () => {
          const n = ++seq;
          const target = loadTransformations[n % loadTransformations.length]!;
          const res = await call(lb, 'POST', `/transformations/${target.id}?publish=true`, api, { code: tagging(`load-${n}`) });
          if (res.status === 200) {
            target.versions.push(res.body.versionId);
            servedVersion = res.body.versionId;
          }
          return { status: res.status, ...(res.status !== 200 ? { detail: JSON.stringify(res.body) } : {}) };
        },
        batch: async () => {
          const n = ++seq;
          const versionId = servedVersion;
          const body = Array.from({ length: 5 }, (_, i) => ({
            message: trackEvent(n * 10 + i),
            metadata: { sourceId: 'src-fleet', destinationId: 'dst-load-0', workspaceId: 'fleet', jobId: n * 10 + i, messageId: `m-${n}-${i}` },
            destination: { ID: 'dst-load-0', Transformations: [{ VersionID: versionId, ID: 'load' }] },
          }));
          const res = await call(lb, 'POST', '/customTransform', api, body);
          if (res.status === 200) {
            const entries = res.body as { statusCode: number; error?: string }[];
            const bad = entries.find((entry) => entry.statusCode !== 200);
            // A per-event 404 or 400 fails that event for good: as bad as a non-retried status.
            if (bad || entries.length !== 5) return { status: 200, detail: `entry ${JSON.stringify(bad ?? entries.length)} for ${versionId}` };
          }
          return { status: res.status, ...(res.status !== 200 ? { detail: JSON.stringify(res.body) } : {}) };
        },
        config: async () => {
          const res = await call(lb, 'GET', '/workspaceConfig?fetchAll=true', workspaceAuth);
          return { status: res.status, ...(res.status !== 200 ? { detail: JSON.stringify(res.body) } : {}) };
        },
      };
      const cycle: Op[] = ['token', 'publish', 'batch', 'config'];
      const clients = Array.from({ length: CLIENTS }, async (_, i) => {
        for (let k = i; running; k++) {
          await measure(cycle[k % cycle.length]!, ops[cycle[k % cycle.length]!]);
          await sleep(15);
        }
      });

      let sigtermAt = 0;
      let rolledUpAt = 0;
      try {
        await sleep(3000);

        // Phase 1: a crash. SIGKILL A, leave it down a moment, start it again on its port.
        a.proc!.child.kill('SIGKILL');
        await a.proc!.exited;
        await haproxy.waitUntil('a', 'DOWN', 10_000);
        await sleep(1000);
        await start(a);
        await haproxy.waitUntil('a', 'UP');
        await sleep(2000);

        // Phase 2: a rolling restart of B. Nothing may fail from the SIGTERM until it is back.
        sigtermAt = Date.now();
        b.proc!.child.kill('SIGTERM');
        // Readiness turns false first, while the instance still answers (each answer closing its connection).
        let ready = await fetch(`${b.url}/ready`);
        for (let i = 0; ready.status === 200 && i < 100; i++) {
          await sleep(10);
          ready = await fetch(`${b.url}/ready`);
        }
        expect(ready.status).toBe(503);
        expect((await ready.json()).error?.code ?? '').toBe('draining');
        const stillServing = await fetch(`${b.url}/health`);
        expect(stillServing.status).toBe(200);
        expect(stillServing.headers.get('connection')).toBe('close');
        const exit = await b.proc!.exited;
        expect(exit, b.proc!.stderr()).toEqual({ code: 0, signal: null });
        await start(b);
        await haproxy.waitUntil('b', 'UP');
        rolledUpAt = Date.now();
        await sleep(1500);

        // Visibility, with the load still running: revoke on one instance, poll the others until
        // the token is refused; publish on one, poll the others' /workspaceConfig until it shows.
        const revocationMs: number[] = [];
        const publishMs: number[] = [];
        const selfStatus = async (instance: Instance, token: string) => (await call(instance.url, 'GET', '/accessTokens/self', `Bearer ${token}`)).status;
        const served = async (instance: Instance): Promise<string | undefined> => {
          const res = await call(instance.url, 'GET', '/workspaceConfig?fetchAll=true', workspaceAuth);
          for (const source of res.body?.sources ?? []) for (const destination of source.destinations ?? []) if (destination.id === 'dst-visibility') return destination.transformations?.[0]?.versionId;
          return undefined;
        };
        const pollUntil = async (check: () => Promise<boolean>, since: number): Promise<number> => {
          while (!(await check())) {
            if (Date.now() - since > VISIBILITY_BOUND_MS) return Infinity;
            await sleep(10);
          }
          return Date.now() - since;
        };
        for (let round = 0; round < ROUNDS; round++) {
          const writer = instances[round % instances.length]!;
          const others = instances.filter((instance) => instance !== writer);

          const issued = (await must('visibility token', call(writer.url, 'POST', '/accessTokens', workspaceAuth, { name: `revoke-${round}`, scopes: ['read'] }))).data;
          // Warm every cache with the live token first.
          for (const instance of instances) expect(await selfStatus(instance, issued.token)).toBe(200);
          await must('revoke', call(writer.url, 'DELETE', `/accessTokens/${issued.id}`, workspaceAuth));
          const revokedAt = Date.now();
          expect(await selfStatus(writer, issued.token)).toBe(401);
          revocationMs.push(...(await Promise.all(others.map((other) => pollUntil(async () => (await selfStatus(other, issued.token)) === 401, revokedAt)))));

          for (const instance of instances) await served(instance);
          const published = await must('visibility publish', call(writer.url, 'POST', `/transformations/${visibility.id}?publish=true`, api, { code: tagging(`v-${round + 1}`) }));
          const publishedAt = Date.now();
          expect(await served(writer)).toBe(published.versionId);
          publishMs.push(...(await Promise.all(others.map((other) => pollUntil(async () => (await served(other)) === published.versionId, publishedAt)))));
        }

        running = false;
        await Promise.all(clients);

        // (1) No acknowledged write lost: every instance lists every token and version acknowledged.
        for (const instance of instances) {
          const listed = await must(`list tokens on ${instance.name}`, call(instance.url, 'GET', '/accessTokens', workspaceAuth));
          const ids = new Set((listed as { id: string }[]).map((token) => token.id));
          expect(ackedTokens.filter((id) => !ids.has(id)), `tokens missing on ${instance.name}`).toEqual([]);
          for (const target of loadTransformations) {
            const versions = await must(`list versions on ${instance.name}`, call(instance.url, 'GET', `/transformations/${target.id}/versions?count=1000`, api));
            const have = new Set((versions.TransformationVersions as { versionId?: string; id?: string }[]).map((v) => v.versionId ?? v.id));
            expect(target.versions.length).toBeLessThan(1000);
            expect(target.versions.filter((id) => !have.has(id)), `versions of ${target.id} missing on ${instance.name}`).toEqual([]);
          }
        }

        // (2) Every batch answered 200 (every event transformed) or a status rudder-server retries.
        const batches = outcomes.filter((o) => o.op === 'batch');
        const okBatches = batches.filter((o) => o.status === 200 && o.detail === undefined);
        const retried = batches.filter((o) => retriedByRudder(o.status));
        const failed = batches.filter((o) => !(o.status === 200 && o.detail === undefined) && !retriedByRudder(o.status));

        // (3) Nothing failed, of any kind, from the SIGTERM until the rolled instance was back.
        const inWindow = outcomes.filter((o) => o.end >= sigtermAt && o.start <= rolledUpAt);
        const failedInWindow = inWindow.filter((o) => (o.status !== 200 && o.status !== 201) || o.detail !== undefined);
        const failedAll = outcomes.filter((o) => (o.status !== 200 && o.status !== 201) || o.detail !== undefined);

        const counters = await haproxy.backendCounters();
        const finite = (values: number[]) => values.filter(Number.isFinite);
        const fmt = (values: number[]) => `p50 ${percentile(finite(values), 50)} ms, p99 ${percentile(finite(values), 99)} ms (n=${values.length})`;
        console.log(
          `fleet: revocation p99 ${percentile(finite(revocationMs), 99)} ms (p50 ${percentile(finite(revocationMs), 50)}), publish p99 ${percentile(finite(publishMs), 99)} ms (p50 ${percentile(finite(publishMs), 50)}), ` +
            `batches ok ${okBatches.length}, retried ${retried.length}, failed ${failed.length}; requests ${outcomes.length}, not-ok ${failedAll.length} overall, ${failedInWindow.length} of ${inWindow.length} in the SIGTERM window (${rolledUpAt - sigtermAt} ms); ` +
            `acked tokens ${ackedTokens.length}, acked versions ${loadTransformations.reduce((n, t) => n + t.versions.length, 0)}`,
        );
        console.log(`fleet: revocation ${fmt(revocationMs)}; publish ${fmt(publishMs)}; HAProxy retries ${counters.retries}, redispatches ${counters.redispatches}`);
        if (failedAll.length > 0) console.log(`fleet: not-ok requests: ${JSON.stringify(failedAll.slice(0, 20).map((o) => ({ ...o, start: o.start - sigtermAt, end: o.end - sigtermAt })))}`);

        expect(failed.map((o) => `${o.status} ${o.detail}`), 'batches failed for good').toEqual([]);
        expect(failedInWindow.map((o) => `${o.op} ${o.status} ${o.detail} at +${o.start - sigtermAt} ms`), 'requests failed during the rolling restart').toEqual([]);
        // (4) Visible on every instance within 1 s at the p99 (a sample that never showed counts as Infinity).
        expect(percentile(revocationMs, 99), 'revocation p99 ms').toBeLessThanOrEqual(VISIBILITY_P99_MS);
        expect(percentile(publishMs, 99), 'publish p99 ms').toBeLessThanOrEqual(VISIBILITY_P99_MS);
        expect(okBatches.length).toBeGreaterThan(0);
      } finally {
        running = false;
        await Promise.all(clients);
      }
    },
    240_000,
  );
});
