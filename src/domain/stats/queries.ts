import type { Kysely } from 'kysely';
import type { Database } from '../../store/schema.js';
import { invalid, notFound } from '../errors.js';
import { STATS_RUN_MS_BUCKETS, bucketQuantile } from './live-stats.js';

// Reads of what live traffic did: time series summed across every instance's rollups, summaries
// for the lists, and the latest failed events.

export interface StatsFigures {
  eventsIn: number;
  eventsOut: number;
  dropped: number;
  failed: number;
  batches: number;
  /** failed / eventsIn (0 without events). */
  errorRate: number;
  coldStarts: number;
  limitKills: number;
  quarantined: number;
  /** Batch run time: the sum, and quantiles read from the merged histogram (bucket upper bounds). */
  runMs: { sum: number; p50: number | null; p95: number | null; p99: number | null };
}

export interface StatsPoint extends StatsFigures {
  start: string;
}

export interface StatsSeries {
  /** Null for the whole workspace. */
  transformationId: string | null;
  from: string;
  to: string;
  stepSeconds: number;
  totals: StatsFigures;
  series: StatsPoint[];
  /** Per version over the window, newest activity first. */
  versions: Array<{ versionId: string } & Pick<StatsFigures, 'eventsIn' | 'failed' | 'errorRate'>>;
}

const MINUTE = 60_000;
export const MAX_STATS_POINTS = 1440;

interface Sum {
  eventsIn: number;
  eventsOut: number;
  dropped: number;
  failed: number;
  batches: number;
  runMs: number;
  histogram: number[];
  coldStarts: number;
  limitKills: number;
  quarantined: number;
}

const emptySum = (): Sum => ({ eventsIn: 0, eventsOut: 0, dropped: 0, failed: 0, batches: 0, runMs: 0, histogram: new Array<number>(STATS_RUN_MS_BUCKETS.length + 1).fill(0), coldStarts: 0, limitKills: 0, quarantined: 0 });

type StatsRow = Pick<
  Database['transformation_stats'],
  'events_in' | 'events_out' | 'dropped' | 'failed' | 'batches' | 'run_ms' | 'run_ms_histogram' | 'cold_starts' | 'limit_kills' | 'quarantined'
>;

function add(sum: Sum, row: StatsRow): void {
  sum.eventsIn += Number(row.events_in);
  sum.eventsOut += Number(row.events_out);
  sum.dropped += Number(row.dropped);
  sum.failed += Number(row.failed);
  sum.batches += Number(row.batches);
  sum.runMs += Number(row.run_ms);
  sum.coldStarts += Number(row.cold_starts);
  sum.limitKills += Number(row.limit_kills);
  sum.quarantined += Number(row.quarantined);
  const histogram = JSON.parse(row.run_ms_histogram) as number[];
  for (let i = 0; i < sum.histogram.length; i++) sum.histogram[i]! += histogram[i] ?? 0;
}

function figures(sum: Sum): StatsFigures {
  return {
    eventsIn: sum.eventsIn,
    eventsOut: sum.eventsOut,
    dropped: sum.dropped,
    failed: sum.failed,
    batches: sum.batches,
    errorRate: sum.eventsIn === 0 ? 0 : sum.failed / sum.eventsIn,
    coldStarts: sum.coldStarts,
    limitKills: sum.limitKills,
    quarantined: sum.quarantined,
    runMs: { sum: Math.round(sum.runMs * 1000) / 1000, p50: bucketQuantile(sum.histogram, 0.5), p95: bucketQuantile(sum.histogram, 0.95), p99: bucketQuantile(sum.histogram, 0.99) },
  };
}

async function assertLiveTransformation(db: Kysely<Database>, workspaceId: string, id: string): Promise<void> {
  const row = await db.selectFrom('transformations').select('id').where('id', '=', id).where('workspace_id', '=', workspaceId).where('deleted_at', 'is', null).executeTakeFirst();
  if (!row) throw notFound('transformation');
}

/** The window a stats request asks for, checked: minute-aligned, `to` after `from`, at most MAX_STATS_POINTS steps. */
export function statsWindow(query: { from?: string | undefined; to?: string | undefined; step?: number | undefined }, now = Date.now()): { from: number; to: number; stepMs: number } {
  const time = (name: string, raw: string | undefined, fallback: number): number => {
    if (raw === undefined) return fallback;
    const ms = Date.parse(raw);
    if (!Number.isFinite(ms)) throw invalid('invalid_field', `${name} must be an ISO 8601 date-time`, { field: name });
    return ms;
  };
  const to = Math.ceil(time('to', query.to, now) / MINUTE) * MINUTE;
  const from = Math.floor(time('from', query.from, to - 24 * 60 * MINUTE) / MINUTE) * MINUTE;
  if (from >= to) throw invalid('invalid_field', 'from must be before to', { field: 'from' });
  const span = to - from;
  const stepMs = query.step !== undefined ? query.step * 1000 : Math.max(MINUTE, Math.ceil(span / 288 / MINUTE) * MINUTE);
  if (stepMs % MINUTE !== 0) throw invalid('invalid_field', 'step must be a whole number of minutes, in seconds (60, 300, 3600, ...)', { field: 'step' });
  if (span / stepMs > MAX_STATS_POINTS) throw invalid('invalid_field', `from, to and step make more than ${MAX_STATS_POINTS} points; take a larger step or a shorter window`, { field: 'step' });
  return { from, to, stepMs };
}

/** One transformation's series (or one version's of it), or with `transformationId` null the whole workspace's. */
export async function transformationStats(
  db: Kysely<Database>,
  workspaceId: string,
  transformationId: string | null,
  window: { from: number; to: number; stepMs: number },
  options: { versionId?: string } = {},
): Promise<StatsSeries> {
  if (transformationId !== null) await assertLiveTransformation(db, workspaceId, transformationId);
  let query = db.selectFrom('transformation_stats').selectAll().where('workspace_id', '=', workspaceId);
  if (transformationId !== null) query = query.where('transformation_id', '=', transformationId);
  if (options.versionId !== undefined) query = query.where('version_id', '=', options.versionId);
  const rows = await query
    .where('minute', '>=', new Date(window.from).toISOString())
    .where('minute', '<', new Date(window.to).toISOString())
    .execute();
  const points = Math.ceil((window.to - window.from) / window.stepMs);
  const sums = Array.from({ length: points }, emptySum);
  const total = emptySum();
  const byVersion = new Map<string, { sum: Sum; last: string }>();
  for (const row of rows) {
    const index = Math.floor((Date.parse(row.minute) - window.from) / window.stepMs);
    add(sums[index]!, row);
    add(total, row);
    const version = byVersion.get(row.version_id) ?? { sum: emptySum(), last: row.minute };
    add(version.sum, row);
    if (row.minute > version.last) version.last = row.minute;
    byVersion.set(row.version_id, version);
  }
  return {
    transformationId,
    from: new Date(window.from).toISOString(),
    to: new Date(window.to).toISOString(),
    stepSeconds: window.stepMs / 1000,
    totals: figures(total),
    series: sums.map((sum, i) => ({ start: new Date(window.from + i * window.stepMs).toISOString(), ...figures(sum) })),
    versions: [...byVersion.entries()]
      .sort((a, b) => (a[1].last < b[1].last ? 1 : -1))
      .map(([versionId, { sum }]) => {
        const f = figures(sum);
        return { versionId, eventsIn: f.eventsIn, failed: f.failed, errorRate: f.errorRate };
      }),
  };
}

/** The last 24 hours of every listed transformation, for the list pages. */
export async function lastDaySummaries(db: Kysely<Database>, workspaceId: string, now = Date.now()): Promise<Map<string, Pick<StatsFigures, 'eventsIn' | 'eventsOut' | 'dropped' | 'failed' | 'errorRate'>>> {
  const rows = await db
    .selectFrom('transformation_stats')
    .select(['transformation_id'])
    .select((eb) => [
      eb.fn.sum<number>('events_in').as('events_in'),
      eb.fn.sum<number>('events_out').as('events_out'),
      eb.fn.sum<number>('dropped').as('dropped'),
      eb.fn.sum<number>('failed').as('failed'),
    ])
    .where('workspace_id', '=', workspaceId)
    .where('minute', '>=', new Date(now - 24 * 60 * MINUTE).toISOString())
    .groupBy('transformation_id')
    .execute();
  return new Map(
    rows.map((r) => {
      const eventsIn = Number(r.events_in);
      const failed = Number(r.failed);
      return [r.transformation_id, { eventsIn, eventsOut: Number(r.events_out), dropped: Number(r.dropped), failed, errorRate: eventsIn === 0 ? 0 : failed / eventsIn }] as const;
    }),
  );
}

export interface RecentError {
  id: string;
  at: string;
  versionId: string;
  error: string;
  line: number | null;
  /** The event (secrets masked); when it was larger than the kept size, `eventPreview` holds its start instead. */
  event: unknown;
  eventPreview: string | null;
}

export async function recentErrors(db: Kysely<Database>, workspaceId: string, transformationId: string, limit: number): Promise<RecentError[]> {
  await assertLiveTransformation(db, workspaceId, transformationId);
  const rows = await db
    .selectFrom('transformation_errors')
    .selectAll()
    .where('transformation_id', '=', transformationId)
    .where('workspace_id', '=', workspaceId)
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    at: r.at,
    versionId: r.version_id,
    error: r.error,
    line: r.line === null ? null : Number(r.line),
    event: Number(r.event_truncated) === 1 ? null : (JSON.parse(r.event) as unknown),
    eventPreview: Number(r.event_truncated) === 1 ? r.event : null,
  }));
}
