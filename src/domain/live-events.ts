// Live events (spec section 8): while a transformation's served entry says
// config.eventTransform: true, rudder-server posts samples of what went into it and what came out
// to /dataplane/eventTransformStatus. Tiller keeps the most recent ones per transformation and
// shows them in the dashboard. Turning them on stores an expiry time, not a flag, so the served
// configuration turns them off by itself on every instance without anyone writing.
//
// Samples are users' events: they are stored and answered to the workspace's own callers only,
// never put in a log line, an audit entry or an error message (ids, counts and sizes only).

import type { Kysely } from 'kysely';
import type { Store } from '../store/db.js';
import type { Database } from '../store/schema.js';
import { recordAudit, type Actor } from './audit.js';
import { notFound } from './errors.js';
import { randomBase62, toBase62 } from './ids.js';
import { announceServedConfigChange } from './served-config.js';

/** Samples kept per transformation: enough to debug with, small enough to read in one answer. */
export const LIVE_EVENTS_KEPT = 100;
/** The largest sample stored (its JSON text); a larger one is skipped, never truncated into something it was not. */
export const MAX_LIVE_EVENT_SAMPLE_BYTES = 64 * 1024;
/** The body limit of the samples route: rudder-server sends small batches every few seconds. */
export const MAX_LIVE_EVENTS_BODY_BYTES = 1024 * 1024;
export const MAX_LIVE_EVENTS_PER_BATCH = 1000;

/** One sample as rudder-server's transformation debugger sends it; unknown fields are kept. */
export interface LiveEventSample {
  transformationId: string;
  sourceId?: string | null | undefined;
  destinationId?: string | null | undefined;
  eventBefore?: Record<string, unknown> | null | undefined;
  eventsAfter?: Record<string, unknown> | null | undefined;
  error?: unknown;
  [field: string]: unknown;
}

export interface SkippedSample {
  /** Its place in the batch's payload array. */
  index: number;
  transformationId: string;
  reason: 'unknown_transformation' | 'too_large';
}

export interface RecordedSamples {
  stored: number;
  skipped: SkippedSample[];
}

export interface LiveEventsState {
  enabled: boolean;
  /** When the window ends (or ended); null when never turned on or turned off. */
  until: string | null;
}

export interface StoredSample extends LiveEventSample {
  id: string;
  /** When Tiller received it. */
  storedAt: string;
}

export interface LiveEventsContext {
  store: Store;
  /** How long turning them on lasts. */
  windowMs: number;
  now(): number;
  /** Runs once a change has committed, so this instance's served configuration follows at once. */
  onServedConfigChange(workspaceId: string): void;
}

/** Ids that sort by arrival: milliseconds, then the place in the batch (a batch shares its millisecond). */
function sampleId(ms: number, index: number): string {
  return toBase62(ms, 8) + toBase62(index, 4) + randomBase62(15);
}

/**
 * Stores a batch of samples. Samples naming a transformation this workspace does not have (never
 * had, or deleted since rudder-server polled) and samples over MAX_LIVE_EVENT_SAMPLE_BYTES are
 * skipped and listed in the answer, not refused with the batch: rudder-server batches the samples
 * of every transformation of the workspace, and one stale entry must not lose the others'.
 */
export async function recordLiveEvents(ctx: LiveEventsContext, workspaceId: string, samples: LiveEventSample[]): Promise<RecordedSamples> {
  const ids = [...new Set(samples.map((sample) => sample.transformationId))];
  const { db } = ctx.store;
  const known = new Set(
    ids.length === 0
      ? []
      : (await db.selectFrom('transformations').select('id').where('workspace_id', '=', workspaceId).where('deleted_at', 'is', null).where('id', 'in', ids).execute()).map((row) => row.id),
  );
  const ms = ctx.now();
  const receivedAt = new Date(ms).toISOString();
  const skipped: SkippedSample[] = [];
  const rows: Database['live_event_samples'][] = [];
  samples.forEach((sample, index) => {
    if (!known.has(sample.transformationId)) return void skipped.push({ index, transformationId: sample.transformationId, reason: 'unknown_transformation' });
    const text = JSON.stringify(sample);
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > MAX_LIVE_EVENT_SAMPLE_BYTES) return void skipped.push({ index, transformationId: sample.transformationId, reason: 'too_large' });
    rows.push({ id: sampleId(ms, index), workspace_id: workspaceId, transformation_id: sample.transformationId, received_at: receivedAt, sample: text, sample_bytes: bytes });
  });
  if (rows.length > 0) {
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('live_event_samples').values(rows).execute();
      for (const transformationId of new Set(rows.map((row) => row.transformation_id))) await prune(trx, transformationId);
    });
  }
  return { stored: rows.length, skipped };
}

/**
 * Keeps the LIVE_EVENTS_KEPT newest samples of a transformation. Two concurrent batches may each
 * leave a few more on PostgreSQL; the next insert prunes them, so the bound holds to within a batch.
 */
async function prune(trx: Kysely<Database>, transformationId: string): Promise<void> {
  await trx
    .deleteFrom('live_event_samples')
    .where('transformation_id', '=', transformationId)
    .where('id', 'not in', (eb) => eb.selectFrom('live_event_samples').select('id').where('transformation_id', '=', transformationId).orderBy('id', 'desc').limit(LIVE_EVENTS_KEPT))
    .execute();
}

function stateOf(until: string | null, nowMs: number): LiveEventsState {
  return { enabled: until !== null && Date.parse(until) > nowMs, until };
}

async function liveRow(db: Kysely<Database>, workspaceId: string, transformationId: string): Promise<{ live_events_until: string | null }> {
  const row = await db.selectFrom('transformations').select('live_events_until').where('id', '=', transformationId).where('workspace_id', '=', workspaceId).where('deleted_at', 'is', null).executeTakeFirst();
  if (!row) throw notFound('transformation');
  return row;
}

/**
 * Turns live events on for ctx.windowMs from now (again: the window starts over), or off. The
 * served configuration carries config.eventTransform: true on the transformation's entries until
 * then; it only reaches rudder-server for destinations the transformation is connected to.
 */
export async function setLiveEvents(ctx: LiveEventsContext, workspaceId: string, actor: Actor, transformationId: string, enabled: boolean): Promise<LiveEventsState> {
  const nowMs = ctx.now();
  const until = enabled ? new Date(nowMs + ctx.windowMs).toISOString() : null;
  await ctx.store.db.transaction().execute(async (trx) => {
    // First in the transaction: it takes the configuration's row lock before the transformation's.
    await announceServedConfigChange(trx, ctx.store, workspaceId);
    const updated = await trx
      .updateTable('transformations')
      .set({ live_events_until: until })
      .where('id', '=', transformationId)
      .where('workspace_id', '=', workspaceId)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 0) throw notFound('transformation');
    await recordAudit(trx, workspaceId, actor, { action: enabled ? 'transformation.live_events_on' : 'transformation.live_events_off', target: transformationId, ...(until ? { reason: `until ${until}` } : {}) });
  });
  ctx.onServedConfigChange(workspaceId);
  return stateOf(until, nowMs);
}

/** Whether live events are on, until when, and the kept samples, newest first. */
export async function getLiveEvents(ctx: LiveEventsContext, workspaceId: string, transformationId: string): Promise<LiveEventsState & { events: StoredSample[] }> {
  const { db } = ctx.store;
  const row = await liveRow(db, workspaceId, transformationId);
  const samples = await db
    .selectFrom('live_event_samples')
    .select(['id', 'received_at', 'sample'])
    .where('transformation_id', '=', transformationId)
    .where('workspace_id', '=', workspaceId)
    .orderBy('id', 'desc')
    .limit(LIVE_EVENTS_KEPT)
    .execute();
  return {
    ...stateOf(row.live_events_until, ctx.now()),
    events: samples.map((sample) => ({ ...(JSON.parse(sample.sample) as LiveEventSample), id: sample.id, storedAt: sample.received_at })),
  };
}
