import type { Kysely } from 'kysely';
import type { EventOutcome, LibrarySource, RunOutput, Runtime } from '../../runtime/types.js';
import type { Store } from '../../store/db.js';
import type { Database, TransformationShadowsTable } from '../../store/schema.js';
import { recordAudit, versionLabel, type Actor } from '../audit.js';
import { runtimeLanguage } from '../code-checks.js';
import { conflict, invalid, notFound } from '../errors.js';
import { newId, nowIso } from '../ids.js';
import type { TransformationVersion } from '../versions.js';

// Shadow runs: a candidate version runs on a sampled copy of the published version's live
// batches after the live answer is computed, and the two answers are compared. The live answer is
// never changed or delayed: copies wait in a small queue (shed, and counted, when it is full) and
// run one at a time, with no fetch or fetchV2 made (events of a batch whose candidate tried one are
// "not compared"), so nothing happens twice.

export const SHADOW_CHANNEL = 'tiller_shadows';
/** Copies waiting per instance; past it new copies are shed. */
const QUEUE_LIMIT = 8;
/** Differences kept per instance and shadow (input, live output, candidate output). */
const MAX_DIFFS = 20;
/** Largest input or output kept in a difference sample, JSON characters. */
const MAX_SAMPLE_CHARS = 4096;

export interface Shadow {
  transformationId: string;
  workspaceId: string;
  stableVersionId: string;
  candidateVersionId: string;
  percent: number;
  status: 'running' | 'stopped';
  startedAt: string;
  endedAt: string | null;
}

export interface ShadowDiff {
  input: string;
  live: string;
  candidate: string;
}

export interface ShadowReport {
  /** Events both versions ran and whose answers were compared. */
  compared: number;
  identical: number;
  differing: number;
  /** Events the live version answered and the candidate failed. */
  failedOnlyInCandidate: number;
  /** Events one version dropped and the other did not. */
  dropsDiffer: number;
  /** Events of batches whose candidate tried an outbound call, which a shadow does not make. */
  notCompared: number;
  /** Copies not run because the queue was full (the live answer never waits for a shadow). */
  shedBatches: number;
  diffs: ShadowDiff[];
}

const emptyReport = (): ShadowReport => ({ compared: 0, identical: 0, differing: 0, failedOnlyInCandidate: 0, dropsDiffer: 0, notCompared: 0, shedBatches: 0, diffs: [] });

function shadowOf(row: TransformationShadowsTable): Shadow {
  return {
    transformationId: row.transformation_id,
    workspaceId: row.workspace_id,
    stableVersionId: row.stable_version_id,
    candidateVersionId: row.candidate_version_id,
    percent: Number(row.percent),
    status: row.status === 'running' ? 'running' : 'stopped',
    startedAt: row.started_at,
    endedAt: row.ended_at,
  };
}

async function seqOf(db: Kysely<Database>, versionId: string): Promise<number> {
  return Number((await db.selectFrom('transformation_versions').select('seq').where('id', '=', versionId).executeTakeFirst())?.seq ?? 0);
}

export async function startShadow(store: Store, workspaceId: string, actor: Actor, transformationId: string, input: { versionId: string; percent: number }): Promise<Shadow> {
  if (!Number.isInteger(input.percent) || input.percent < 1 || input.percent > 100) throw invalid('invalid_field', 'percent must be a whole number from 1 to 100', { field: 'percent' });
  return store.db.transaction().execute(async (trx) => {
    const transformation = await trx.selectFrom('transformations').select(['published_version_id']).where('id', '=', transformationId).where('workspace_id', '=', workspaceId).where('deleted_at', 'is', null).executeTakeFirst();
    if (!transformation) throw notFound('transformation');
    if (!transformation.published_version_id) throw conflict('not_published', "publish a version first: a shadow copies the published version's live traffic");
    const version = await trx.selectFrom('transformation_versions').select(['id', 'transformation_id', 'seq']).where('id', '=', input.versionId).where('workspace_id', '=', workspaceId).executeTakeFirst();
    if (!version || version.transformation_id !== transformationId) throw invalid('invalid_field', 'versionId must name a version of this transformation', { field: 'versionId' });
    if (version.id === transformation.published_version_id) throw invalid('invalid_field', 'versionId is the published version; a shadow compares another version with it', { field: 'versionId' });
    const existing = await trx.selectFrom('transformation_shadows').select('status').where('transformation_id', '=', transformationId).executeTakeFirst();
    if (existing?.status === 'running') throw conflict('shadow_running', 'a shadow of this transformation is running: stop it first');
    const row: TransformationShadowsTable = {
      transformation_id: transformationId,
      workspace_id: workspaceId,
      stable_version_id: transformation.published_version_id,
      candidate_version_id: version.id,
      percent: input.percent,
      status: 'running',
      started_at: nowIso(),
      ended_at: null,
    };
    if (existing) {
      await trx.deleteFrom('transformation_shadows').where('transformation_id', '=', transformationId).execute();
      // The reports of the shadow this one replaces can no longer be read: drop them with it.
      await trx.deleteFrom('shadow_reports').where('transformation_id', '=', transformationId).execute();
    }
    await trx.insertInto('transformation_shadows').values(row).execute();
    await recordAudit(trx, workspaceId, actor, {
      action: 'transformation.shadow_start',
      target: transformationId,
      reason: `${versionLabel(Number(version.seq), version.id)} on a copy of ${input.percent}% of the live batches of version ${await seqOf(trx, transformation.published_version_id)} (${transformation.published_version_id})`,
    });
    await store.announce(trx, SHADOW_CHANNEL, transformationId);
    return shadowOf(row);
  });
}

export async function stopShadow(store: Store, workspaceId: string, actor: Actor, transformationId: string): Promise<Shadow> {
  return store.db.transaction().execute(async (trx) => {
    const row = await trx.selectFrom('transformation_shadows').selectAll().where('transformation_id', '=', transformationId).where('workspace_id', '=', workspaceId).executeTakeFirst();
    const live = await trx.selectFrom('transformations').select('id').where('id', '=', transformationId).where('workspace_id', '=', workspaceId).where('deleted_at', 'is', null).executeTakeFirst();
    if (!live) throw notFound('transformation');
    if (!row || row.status !== 'running') throw conflict('no_shadow', 'no shadow of this transformation is running');
    const endedAt = nowIso();
    await trx.updateTable('transformation_shadows').set({ status: 'stopped', ended_at: endedAt }).where('transformation_id', '=', transformationId).where('status', '=', 'running').execute();
    await recordAudit(trx, workspaceId, actor, { action: 'transformation.shadow_stop', target: transformationId, reason: `${versionLabel(await seqOf(trx, row.candidate_version_id), row.candidate_version_id)} no longer shadowed` });
    await store.announce(trx, SHADOW_CHANNEL, transformationId);
    return { ...shadowOf(row), status: 'stopped' as const, endedAt };
  });
}

/** The latest shadow of a transformation with every instance's report summed (diff samples: the first few). */
export async function shadowState(store: Store, workspaceId: string, transformationId: string, runner: ShadowRunner): Promise<{ shadow: Shadow | null; report: ShadowReport | null }> {
  const live = await store.db.selectFrom('transformations').select('id').where('id', '=', transformationId).where('workspace_id', '=', workspaceId).where('deleted_at', 'is', null).executeTakeFirst();
  if (!live) throw notFound('transformation');
  const row = await store.db.selectFrom('transformation_shadows').selectAll().where('transformation_id', '=', transformationId).executeTakeFirst();
  if (!row) return { shadow: null, report: null };
  await runner.sync();
  const reports = await store.db.selectFrom('shadow_reports').select('report').where('transformation_id', '=', transformationId).where('started_at', '=', row.started_at).execute();
  const total = emptyReport();
  for (const { report } of reports) addReport(total, JSON.parse(report) as ShadowReport);
  return { shadow: shadowOf(row), report: total };
}

function addReport(into: ShadowReport, from: ShadowReport): void {
  into.compared += from.compared;
  into.identical += from.identical;
  into.differing += from.differing;
  into.failedOnlyInCandidate += from.failedOnlyInCandidate;
  into.dropsDiffer += from.dropsDiffer;
  into.notCompared += from.notCompared;
  into.shedBatches += from.shedBatches;
  for (const diff of from.diffs) if (into.diffs.length < MAX_DIFFS) into.diffs.push(diff);
}

/** One live batch copied for the candidate: its inputs and the live outcomes, as JSON text per input. */
export interface Copy {
  shadow: Shadow;
  libraries: LibrarySource[];
  credentials: Record<string, unknown> | undefined;
  events: unknown[];
  metadata: Record<string, unknown>[];
  live: RunOutput;
}

type Answer = { kind: 'outputs'; json: string } | { kind: 'failed' } | { kind: 'dropped' };

const cut = (text: string) => (text.length > MAX_SAMPLE_CHARS ? `${text.slice(0, MAX_SAMPLE_CHARS)}…` : text);

/** Each input's answer: its outputs' JSON (in order), a failure, or a drop. */
function answersOf(output: RunOutput, count: number, outputJson: (outcome: EventOutcome) => string): Answer[] {
  const outputs: string[][] = Array.from({ length: count }, () => []);
  const failed = new Set<number>();
  for (const outcome of output.results) {
    if (outcome.index >= count) continue;
    if (outcome.statusCode === 200) outputs[outcome.index]!.push(outputJson(outcome));
    else failed.add(outcome.index);
  }
  const dropped = new Set(output.dropped);
  return outputs.map((json, i) => (failed.has(i) ? { kind: 'failed' } : dropped.has(i) && json.length === 0 ? { kind: 'dropped' } : { kind: 'outputs', json: `[${json.join(',')}]` }));
}

export interface ShadowRunnerOptions {
  runtime: Runtime;
  /** The candidate's code, by version id (the serving cache). */
  versionNamed: (versionId: string) => Promise<TransformationVersion | undefined>;
  outputJson: (outcome: EventOutcome) => string;
  syncMs: number;
  onShed?: () => void;
  onError?: (err: unknown) => void;
}

export class ShadowRunner {
  readonly instanceId = newId();
  readonly #store: Store;
  readonly #options: ShadowRunnerOptions;
  readonly #byStable = new Map<string, { shadow: Shadow; report: ShadowReport; dirty: boolean }>();
  readonly #queue: Copy[] = [];
  #working = false;
  #timer: NodeJS.Timeout | undefined;
  #reloading: Promise<void> | undefined;

  constructor(store: Store, options: ShadowRunnerOptions) {
    this.#store = store;
    this.#options = options;
  }

  async start(): Promise<void> {
    await this.#store.listen(SHADOW_CHANNEL, () => void this.reload(), () => void this.reload());
    await this.reload();
    this.#timer = setInterval(() => void this.sync().catch((err: unknown) => this.#options.onError?.(err)), this.#options.syncMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#queue.length = 0;
    await this.sync().catch((err: unknown) => this.#options.onError?.(err));
  }

  get active(): boolean {
    return this.#byStable.size > 0;
  }

  /** The running shadow of live batches naming this version, if any. */
  forStableVersion(versionId: string): Shadow | undefined {
    return this.#byStable.get(versionId)?.shadow;
  }

  /** Whether to copy this batch: `percent` of batches, at random. */
  sampled(shadow: Shadow): boolean {
    return Math.random() * 100 < shadow.percent;
  }

  /** Queues a copy of a live batch, after its answer is computed; sheds it when the queue is full. */
  offer(copy: Copy): void {
    const entry = this.#byStable.get(copy.shadow.stableVersionId);
    if (!entry) return;
    if (this.#queue.length >= QUEUE_LIMIT) {
      entry.report.shedBatches++;
      entry.dirty = true;
      this.#options.onShed?.();
      return;
    }
    this.#queue.push(copy);
    if (!this.#working) void this.#work();
  }

  /** Runs the queued copies one at a time, off the request path. */
  async #work(): Promise<void> {
    this.#working = true;
    try {
      for (let copy = this.#queue.shift(); copy; copy = this.#queue.shift()) await this.#compare(copy);
    } finally {
      this.#working = false;
    }
  }

  async #compare(copy: Copy): Promise<void> {
    const entry = this.#byStable.get(copy.shadow.stableVersionId);
    if (!entry || entry.shadow.startedAt !== copy.shadow.startedAt) return;
    const { report } = entry;
    const count = copy.events.length;
    let candidate: RunOutput;
    try {
      const version = await this.#options.versionNamed(copy.shadow.candidateVersionId);
      if (!version) return;
      candidate = await this.#options.runtime.run({
        workspaceId: copy.shadow.workspaceId,
        transformation: { versionId: version.versionId, code: version.code, codeVersion: version.codeVersion, name: version.name, ...runtimeLanguage(version.language) },
        libraries: copy.libraries,
        events: copy.events,
        metadata: copy.metadata,
        captureLogs: false,
        ...(copy.credentials ? { credentials: copy.credentials } : {}),
        outbound: 'skip',
      });
    } catch {
      // The whole candidate batch failed (a limit, a throw in transformBatch): every event the live version answered failed only here.
      const live = answersOf(copy.live, count, this.#options.outputJson);
      report.compared += count;
      report.failedOnlyInCandidate += live.filter((a) => a.kind !== 'failed').length;
      report.differing += live.filter((a) => a.kind !== 'failed').length;
      report.identical += live.filter((a) => a.kind === 'failed').length;
      entry.dirty = true;
      return;
    }
    if (candidate.outbound && Object.values(candidate.outbound).some((byOutcome) => (byOutcome?.skipped ?? 0) > 0)) {
      report.notCompared += count;
      entry.dirty = true;
      return;
    }
    const live = answersOf(copy.live, count, this.#options.outputJson);
    const shadow = answersOf(candidate, count, this.#options.outputJson);
    for (let i = 0; i < count; i++) {
      const [a, b] = [live[i]!, shadow[i]!];
      report.compared++;
      const same = a.kind === b.kind && (a.kind !== 'outputs' || a.json === (b as { json: string }).json);
      if (same) {
        report.identical++;
        continue;
      }
      report.differing++;
      if (b.kind === 'failed' && a.kind !== 'failed') report.failedOnlyInCandidate++;
      if ((a.kind === 'dropped') !== (b.kind === 'dropped')) report.dropsDiffer++;
      if (report.diffs.length < MAX_DIFFS) {
        const show = (answer: Answer) => (answer.kind === 'outputs' ? cut(answer.json) : answer.kind);
        report.diffs.push({ input: cut(JSON.stringify(copy.events[i]) ?? 'null'), live: show(a), candidate: show(b) });
      }
    }
    entry.dirty = true;
  }

  /** Reads the running shadows again (on start, on every change announced, after a reconnect). */
  reload(): Promise<void> {
    this.#reloading ??= (async () => {
      try {
        // What a shadow that is about to go away counted must reach the store first.
        await this.sync().catch((err: unknown) => this.#options.onError?.(err));
        const rows = await this.#store.db.selectFrom('transformation_shadows').selectAll().where('status', '=', 'running').execute();
        const previous = new Map([...this.#byStable.values()].map((e) => [`${e.shadow.transformationId}|${e.shadow.startedAt}`, e]));
        this.#byStable.clear();
        for (const row of rows) {
          const shadow = shadowOf(row);
          const kept = previous.get(`${shadow.transformationId}|${shadow.startedAt}`);
          this.#byStable.set(shadow.stableVersionId, kept ? { ...kept, shadow } : { shadow, report: emptyReport(), dirty: false });
        }
      } finally {
        this.#reloading = undefined;
      }
    })();
    return this.#reloading;
  }

  /** Writes this instance's changed reports. */
  async sync(): Promise<void> {
    for (const entry of this.#byStable.values()) {
      if (!entry.dirty) continue;
      entry.dirty = false;
      await this.#store.db
        .insertInto('shadow_reports')
        .values({ transformation_id: entry.shadow.transformationId, started_at: entry.shadow.startedAt, instance_id: this.instanceId, report: JSON.stringify(entry.report) })
        .onConflict((oc) => oc.columns(['transformation_id', 'started_at', 'instance_id']).doUpdateSet((eb) => ({ report: eb.ref('excluded.report') })))
        .execute();
    }
  }

  /** Copies still waiting (tests and benchmarks wait for the queue to drain). */
  get pending(): number {
    return this.#queue.length + (this.#working ? 1 : 0);
  }
}
