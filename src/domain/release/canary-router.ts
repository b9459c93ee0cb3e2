import type { Store } from '../../store/db.js';
import { systemActor } from '../audit.js';
import { newId } from '../ids.js';
import { STATS_RUN_MS_BUCKETS, bucketQuantile } from '../stats/live-stats.js';
import { CANARY_CHANNEL, canaryOf, promoteCanary, rollBackCanary, type Canary } from './canary.js';

// Per instance: which live requests a running canary takes, what each side did since the canary
// started (this instance's counts, plus the other instances' as they last wrote them), and the
// guards judged on those totals after every batch. A trip withdraws the canary here at once and,
// through the store's change channel, on every other instance within a moment.

/** What one side of a canary did since it started. */
export interface SideFigures {
  eventsIn: number;
  eventsOut: number;
  dropped: number;
  failed: number;
  batches: number;
  /** Batches that compiled their version first: left out of the run-time histogram. */
  coldBatches: number;
  /** Batch counts per STATS_RUN_MS_BUCKETS bound, warm batches only; the last counts what is above every bound. */
  histogram: number[];
}

export type Side = 'stable' | 'canary';

const emptySide = (): SideFigures => ({ eventsIn: 0, eventsOut: 0, dropped: 0, failed: 0, batches: 0, coldBatches: 0, histogram: new Array<number>(STATS_RUN_MS_BUCKETS.length + 1).fill(0) });

export function addSide(into: SideFigures, from: SideFigures): void {
  into.eventsIn += from.eventsIn;
  into.eventsOut += from.eventsOut;
  into.dropped += from.dropped;
  into.failed += from.failed;
  into.batches += from.batches;
  into.coldBatches += from.coldBatches;
  for (let i = 0; i < into.histogram.length; i++) into.histogram[i]! += from.histogram[i] ?? 0;
}

export const p99Of = (histogram: readonly number[]) => bucketQuantile(histogram, 0.99);

const rate = (part: number, whole: number) => (whole === 0 ? 0 : part / whole);

/** The first guard the totals trip, as a sentence with the figures; null when none does. */
export function trippedGuard(canary: Canary, stable: SideFigures, candidate: SideFigures): string | null {
  const { guards } = canary;
  if (candidate.eventsIn < guards.minEvents) return null;
  const pct = (value: number) => `${(value * 100).toFixed(1)}%`;
  const failure = [rate(candidate.failed, candidate.eventsIn), rate(stable.failed, stable.eventsIn)] as const;
  if (failure[0] - failure[1] > guards.maxFailureRateIncrease) {
    return `failure rate ${pct(failure[0])} (${candidate.failed} of ${candidate.eventsIn}) against the stable version's ${pct(failure[1])} (${stable.failed} of ${stable.eventsIn}), more than ${pct(guards.maxFailureRateIncrease)} above`;
  }
  const drop = [rate(candidate.dropped, candidate.eventsIn), rate(stable.dropped, stable.eventsIn)] as const;
  if (Math.abs(drop[0] - drop[1]) > guards.maxDropRateDifference) {
    return `drop rate ${pct(drop[0])} against the stable version's ${pct(drop[1])}, more than ${pct(guards.maxDropRateDifference)} apart`;
  }
  const p99 = [p99Of(candidate.histogram), p99Of(stable.histogram)] as const;
  if (p99[0] !== null && p99[1] !== null && p99[0] > guards.maxP99Ratio * p99[1]) {
    return `p99 batch time ≤ ${p99[0]} ms against the stable version's ≤ ${p99[1]} ms, more than ${guards.maxP99Ratio} times`;
  }
  return null;
}

/** FNV-1a: the same key lands on the same side on every instance, in every batch. */
function bucketOf(transformationId: string, key: string): number {
  let hash = 0x811c9dc5;
  const text = `${transformationId}\u0000${key}`;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % 10_000;
}

/** userId, else anonymousId, else messageId; undefined when the event carries none. */
export function stickyKeyOf(message: unknown): string | undefined {
  if (message === null || typeof message !== 'object') return undefined;
  const event = message as Record<string, unknown>;
  for (const field of ['userId', 'anonymousId', 'messageId']) {
    const value = event[field];
    if ((typeof value === 'string' && value !== '') || typeof value === 'number') return String(value);
  }
  return undefined;
}

interface Running {
  canary: Canary;
  own: Record<Side, SideFigures>;
  /** The other instances' figures as they last wrote them. */
  others: Record<Side, SideFigures>;
  ending: boolean;
}

export interface CanaryRouterOptions {
  /** How often this instance writes its figures and reads the others'. */
  syncMs: number;
  onTrip?: (canary: Canary, reason: string) => void;
  onError?: (err: unknown) => void;
  /** When a canary promoted itself, so this instance's served configuration is rebuilt at once. */
  onPromoted?: (workspaceId: string) => void;
}

export class CanaryRouter {
  readonly instanceId = newId();
  readonly #store: Store;
  readonly #options: CanaryRouterOptions;
  /** Running canaries by the stable version id requests name. */
  readonly #byStable = new Map<string, Running>();
  /** The same, by either side's version id, for counting outcomes. */
  readonly #byVersion = new Map<string, { running: Running; side: Side }>();
  #timer: NodeJS.Timeout | undefined;
  #reloading: Promise<void> | undefined;

  constructor(store: Store, options: CanaryRouterOptions) {
    this.#store = store;
    this.#options = options;
  }

  async start(): Promise<void> {
    await this.#store.listen(CANARY_CHANNEL, () => void this.reload(), () => void this.reload());
    await this.reload();
    this.#timer = setInterval(() => void this.sync().catch((err: unknown) => this.#options.onError?.(err)), this.#options.syncMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.sync().catch((err: unknown) => this.#options.onError?.(err));
  }

  /** Whether any canary runs: the wire path skips splitting altogether when none does. */
  get active(): boolean {
    return this.#byStable.size > 0;
  }

  /** The running canary for requests naming this stable version, if any. */
  forStableVersion(versionId: string): Canary | undefined {
    return this.#byStable.get(versionId)?.canary;
  }

  /** Which side an event goes to. */
  sideOf(canary: Canary, message: unknown): Side {
    const key = stickyKeyOf(message);
    return key !== undefined && bucketOf(canary.transformationId, key) < canary.percent * 100 ? 'canary' : 'stable';
  }

  /** Counts a finished batch of either side and judges the guards on the new totals. */
  observe(versionId: string, batch: { eventsIn: number; eventsOut: number; dropped: number; failed: number; durationMs: number; coldStart: boolean }): void {
    const entry = this.#byVersion.get(versionId);
    if (!entry || entry.running.ending) return;
    const own = entry.running.own[entry.side];
    own.eventsIn += batch.eventsIn;
    own.eventsOut += batch.eventsOut;
    own.dropped += batch.dropped;
    own.failed += batch.failed;
    own.batches += 1;
    if (batch.coldStart) own.coldBatches += 1;
    else {
      let bucket = 0;
      while (bucket < STATS_RUN_MS_BUCKETS.length && batch.durationMs > STATS_RUN_MS_BUCKETS[bucket]!) bucket++;
      own.histogram[bucket]! += 1;
    }
    this.#judge(entry.running);
  }

  /** Totals across instances: this one's now, the others' as last written. */
  figures(transformationId: string): Record<Side, SideFigures> | undefined {
    const running = [...this.#byStable.values()].find((r) => r.canary.transformationId === transformationId);
    if (!running) return undefined;
    return this.#totals(running);
  }

  #totals(running: Running): Record<Side, SideFigures> {
    const total = { stable: emptySide(), canary: emptySide() };
    for (const side of ['stable', 'canary'] as const) {
      addSide(total[side], running.own[side]);
      addSide(total[side], running.others[side]);
    }
    return total;
  }

  #judge(running: Running): void {
    const { canary } = running;
    const totals = this.#totals(running);
    const reason = trippedGuard(canary, totals.stable, totals.canary);
    if (reason !== null) {
      this.#withdraw(running);
      this.#options.onTrip?.(canary, reason);
      rollBackCanary(this.#store, canary, reason, systemActor).catch((err: unknown) => this.#options.onError?.(err));
      return;
    }
    const auto = canary.guards.autoPromote;
    if (auto && totals.canary.eventsIn >= auto.minEvents && Date.now() - Date.parse(canary.startedAt) >= auto.afterSeconds * 1000) {
      this.#withdraw(running);
      promoteCanary(this.#store, canary.workspaceId, systemActor, canary.transformationId, `by itself after ${auto.afterSeconds} s and ${totals.canary.eventsIn} canary events without a guard tripping`)
        .then(() => this.#options.onPromoted?.(canary.workspaceId))
        .catch((err: unknown) => this.#options.onError?.(err));
    }
  }

  /** Stops splitting at once on this instance; the store's answer follows for the others. */
  #withdraw(running: Running): void {
    running.ending = true;
    this.#byStable.delete(running.canary.stableVersionId);
    this.#byVersion.delete(running.canary.stableVersionId);
    this.#byVersion.delete(running.canary.canaryVersionId);
  }

  /** Reads the running canaries again (on start, on every change announced, after a reconnect). */
  reload(): Promise<void> {
    this.#reloading ??= (async () => {
      try {
        const rows = await this.#store.db.selectFrom('transformation_canaries').selectAll().where('status', '=', 'running').execute();
        const previous = new Map([...this.#byStable.values()].map((r) => [`${r.canary.transformationId}|${r.canary.startedAt}`, r]));
        this.#byStable.clear();
        this.#byVersion.clear();
        for (const row of rows) {
          const canary = canaryOf(row);
          const kept = previous.get(`${canary.transformationId}|${canary.startedAt}`);
          const running: Running = kept && !kept.ending ? { ...kept, canary } : { canary, own: { stable: emptySide(), canary: emptySide() }, others: { stable: emptySide(), canary: emptySide() }, ending: false };
          this.#byStable.set(canary.stableVersionId, running);
          this.#byVersion.set(canary.stableVersionId, { running, side: 'stable' });
          this.#byVersion.set(canary.canaryVersionId, { running, side: 'canary' });
        }
      } finally {
        this.#reloading = undefined;
      }
    })();
    return this.#reloading;
  }

  /** Writes this instance's figures of every running canary and reads the other instances'. */
  async sync(): Promise<void> {
    const running = [...this.#byStable.values()];
    if (running.length === 0) return;
    for (const r of running) {
      const rows = (['stable', 'canary'] as const).map((side) => ({
        transformation_id: r.canary.transformationId,
        started_at: r.canary.startedAt,
        instance_id: this.instanceId,
        side,
        figures: JSON.stringify(r.own[side]),
      }));
      await this.#store.db
        .insertInto('canary_figures')
        .values(rows)
        .onConflict((oc) => oc.columns(['transformation_id', 'started_at', 'instance_id', 'side']).doUpdateSet((eb) => ({ figures: eb.ref('excluded.figures') })))
        .execute();
      const others = await this.#store.db
        .selectFrom('canary_figures')
        .select(['side', 'figures'])
        .where('transformation_id', '=', r.canary.transformationId)
        .where('started_at', '=', r.canary.startedAt)
        .where('instance_id', '!=', this.instanceId)
        .execute();
      const sum = { stable: emptySide(), canary: emptySide() };
      for (const row of others) if (row.side === 'stable' || row.side === 'canary') addSide(sum[row.side], JSON.parse(row.figures) as SideFigures);
      r.others = sum;
      if (!r.ending) this.#judge(r);
    }
  }
}

/** Every instance's figures of one canary, summed (the release route's "over the canary's life"). */
export async function storedCanaryFigures(store: Store, canary: Pick<Canary, 'transformationId' | 'startedAt'>): Promise<Record<Side, SideFigures>> {
  const rows = await store.db.selectFrom('canary_figures').select(['side', 'figures']).where('transformation_id', '=', canary.transformationId).where('started_at', '=', canary.startedAt).execute();
  const sum = { stable: emptySide(), canary: emptySide() };
  for (const row of rows) if (row.side === 'stable' || row.side === 'canary') addSide(sum[row.side], JSON.parse(row.figures) as SideFigures);
  return sum;
}
