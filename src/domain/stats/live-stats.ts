import type { Kysely } from 'kysely';
import type { Database, TransformationErrorsTable, TransformationStatsTable } from '../../store/schema.js';
import type { BatchReport } from '../../runtime/types.js';
import { newId, nowIso } from '../ids.js';
import { maskedEventJson } from './mask.js';

// What live traffic (/customTransform) does, per transformation version and minute, kept in
// memory on the request path (a map lookup and a few additions per batch) and written to the store
// in the background: each instance replaces its own rows every flush, so the store is written
// once per version-minute per flush however busy the instance is, never once per request.

/** Upper bounds (ms) of the run-time histogram's buckets; one more bucket counts what is above the last. */
export const STATS_RUN_MS_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000] as const;

/** The upper bound of the histogram bucket holding quantile q (above the last bound: the last bound, a floor); null when empty. */
export function bucketQuantile(histogram: readonly number[], q: number): number | null {
  const total = histogram.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    seen += histogram[i]!;
    if (seen >= q * total) return STATS_RUN_MS_BUCKETS[Math.min(i, STATS_RUN_MS_BUCKETS.length - 1)]!;
  }
  return STATS_RUN_MS_BUCKETS[STATS_RUN_MS_BUCKETS.length - 1]!;
}

/** Whole-batch failure codes that mean a limit stopped the code. */
const LIMIT_KILLS = new Set(['cpu_limit', 'wall_limit', 'memory_limit', 'output_limit', 'sandbox_crashed']);

/** The runtime's figures of one batch (BatchReport), credited to the transformation it served. */
export interface LiveBatch extends Omit<BatchReport, 'outbound'> {
  transformationId: string;
}

/** A failed event as the errors list keeps it; `event` is masked and bounded when it is recorded. */
export interface LiveError {
  error: string;
  event: unknown;
  /** Values that must never be stored (the run's credentials). */
  secrets: readonly unknown[];
}

export interface LiveStatsOptions {
  /** How often rollups and errors go to the store. */
  flushMs: number;
  /** How long rollups and errors are kept. */
  retentionMs: number;
  /** Failed events kept per transformation. */
  errorsPerTransformation: number;
  /** Largest stored event, JSON characters. */
  maxEventChars: number;
  onError?: (err: unknown) => void;
  now?: () => number;
}

interface Rollup extends Omit<TransformationStatsTable, 'run_ms_histogram'> {
  histogram: number[];
  dirty: boolean;
}

const MINUTE = 60_000;

export class LiveStats {
  readonly instanceId = newId();
  readonly #db: Kysely<Database>;
  readonly #options: LiveStatsOptions;
  readonly #now: () => number;
  readonly #rollups = new Map<string, Rollup>();
  #errors: TransformationErrorsTable[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #lastPrune = 0;

  constructor(db: Kysely<Database>, options: LiveStatsOptions) {
    this.#db = db;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.flush().catch((err: unknown) => this.#options.onError?.(err)), this.#options.flushMs);
    this.#timer.unref();
  }

  /** Writes what is left and stops the timer. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }

  /** One finished batch of live traffic. */
  record(batch: LiveBatch): void {
    const minuteStart = Math.floor(this.#now() / MINUTE) * MINUTE;
    const key = `${batch.versionId}|${minuteStart}`;
    let rollup = this.#rollups.get(key);
    if (rollup === undefined) {
      rollup = {
        instance_id: this.instanceId,
        version_id: batch.versionId,
        minute: new Date(minuteStart).toISOString(),
        workspace_id: batch.workspaceId,
        transformation_id: batch.transformationId,
        events_in: 0,
        events_out: 0,
        dropped: 0,
        failed: 0,
        batches: 0,
        run_ms: 0,
        histogram: new Array<number>(STATS_RUN_MS_BUCKETS.length + 1).fill(0),
        cold_starts: 0,
        limit_kills: 0,
        quarantined: 0,
        dirty: true,
      };
      this.#rollups.set(key, rollup);
    }
    rollup.events_in += batch.eventsIn;
    rollup.events_out += batch.eventsOut;
    rollup.dropped += batch.dropped;
    rollup.failed += batch.failed;
    rollup.batches += 1;
    rollup.run_ms += batch.durationMs;
    let bucket = 0;
    while (bucket < STATS_RUN_MS_BUCKETS.length && batch.durationMs > STATS_RUN_MS_BUCKETS[bucket]!) bucket++;
    rollup.histogram[bucket]! += 1;
    if (batch.coldStart) rollup.cold_starts += 1;
    if (LIMIT_KILLS.has(batch.outcome)) rollup.limit_kills += 1;
    if (batch.outcome === 'quarantined') rollup.quarantined += 1;
    rollup.dirty = true;
  }

  /** Failed events of one batch; only the latest few per transformation are kept until the next flush. */
  recordErrors(batch: Pick<LiveBatch, 'workspaceId' | 'transformationId' | 'versionId'>, errors: readonly LiveError[]): void {
    const at = nowIso();
    for (const failure of errors.slice(0, this.#options.errorsPerTransformation)) {
      const { json, truncated } = maskedEventJson(failure.event, failure.secrets, this.#options.maxEventChars);
      this.#errors.push({
        id: newId(),
        workspace_id: batch.workspaceId,
        transformation_id: batch.transformationId,
        version_id: batch.versionId,
        at,
        error: failure.error.slice(0, 4000),
        line: userLineOf(failure.error),
        event: json,
        event_truncated: truncated ? 1 : 0,
      });
    }
    // Bounded between flushes whatever the traffic: the newest win, as the list shows only those.
    const cap = this.#options.errorsPerTransformation * 20;
    if (this.#errors.length > cap) this.#errors = this.#errors.slice(-cap);
  }

  /** Writes changed rollups and pending errors; one flush at a time. */
  flush(): Promise<void> {
    this.#flushing ??= this.#write().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  async #write(): Promise<void> {
    const now = this.#now();
    const dirty = [...this.#rollups.values()].filter((r) => r.dirty);
    for (const r of dirty) r.dirty = false;
    // Rollups of minutes that are over are final once written: forget them.
    const currentMinute = Math.floor(now / MINUTE) * MINUTE;
    for (const [key, r] of this.#rollups) if (!r.dirty && Date.parse(r.minute) < currentMinute - MINUTE) this.#rollups.delete(key);
    const errors = this.#errors;
    this.#errors = [];
    try {
      for (let i = 0; i < dirty.length; i += 200) {
        const rows = dirty.slice(i, i + 200).map(({ histogram, dirty: _dirty, ...r }) => ({ ...r, run_ms_histogram: JSON.stringify(histogram) }));
        await this.#db
          .insertInto('transformation_stats')
          .values(rows)
          .onConflict((oc) =>
            oc.columns(['instance_id', 'version_id', 'minute']).doUpdateSet((eb) => ({
              events_in: eb.ref('excluded.events_in'),
              events_out: eb.ref('excluded.events_out'),
              dropped: eb.ref('excluded.dropped'),
              failed: eb.ref('excluded.failed'),
              batches: eb.ref('excluded.batches'),
              run_ms: eb.ref('excluded.run_ms'),
              run_ms_histogram: eb.ref('excluded.run_ms_histogram'),
              cold_starts: eb.ref('excluded.cold_starts'),
              limit_kills: eb.ref('excluded.limit_kills'),
              quarantined: eb.ref('excluded.quarantined'),
            })),
          )
          .execute();
      }
    } catch (err) {
      // Written next time: the rollups stay in memory, marked changed again.
      for (const r of dirty) {
        r.dirty = true;
        this.#rollups.set(`${r.version_id}|${Date.parse(r.minute)}`, r);
      }
      throw err;
    }
    if (errors.length > 0) await this.#writeErrors(errors);
    if (now - this.#lastPrune > 60 * MINUTE) {
      this.#lastPrune = now;
      await prune(this.#db, new Date(now - this.#options.retentionMs).toISOString());
    }
  }

  async #writeErrors(errors: TransformationErrorsTable[]): Promise<void> {
    const keep = this.#options.errorsPerTransformation;
    const byTransformation = new Map<string, TransformationErrorsTable[]>();
    for (const e of errors) byTransformation.set(e.transformation_id, [...(byTransformation.get(e.transformation_id) ?? []), e]);
    for (const [transformationId, list] of byTransformation) {
      await this.#db.transaction().execute(async (trx) => {
        await trx.insertInto('transformation_errors').values(list.slice(-keep)).execute();
        // Keep the newest `keep`: the id of the keep-th newest is the cut.
        const cut = await trx.selectFrom('transformation_errors').select('id').where('transformation_id', '=', transformationId).orderBy('id', 'desc').offset(keep).limit(1).executeTakeFirst();
        if (cut) await trx.deleteFrom('transformation_errors').where('transformation_id', '=', transformationId).where('id', '<=', cut.id).execute();
      });
    }
  }
}

/** Drops rollups and errors older than `before` (ISO time). */
export async function prune(db: Kysely<Database>, before: string): Promise<void> {
  await db.deleteFrom('transformation_stats').where('minute', '<', before).execute();
  await db.deleteFrom('transformation_errors').where('at', '<', before).execute();
}

/** The line of the user's code an error's first stack frame names: `at transformEvent (Name:3:15)`. */
export function userLineOf(error: string): number | null {
  const frame = /\n\s+at [^\n]*?:(\d+):\d+\)?/.exec(error);
  return frame ? Number(frame[1]) : null;
}
