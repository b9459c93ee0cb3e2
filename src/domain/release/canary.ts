import type { Kysely } from 'kysely';
import type { Store } from '../../store/db.js';
import type { Database, TransformationCanariesTable } from '../../store/schema.js';
import { recordAudit, versionLabel, type Actor } from '../audit.js';
import { conflict, invalid, notFound } from '../errors.js';
import { nowIso } from '../ids.js';
import { announceServedConfigChange } from '../served-config.js';

// A canary release: a version of a transformation that runs on a share of the events sent to its
// published (stable) version on /customTransform, chosen by a stable key of each event, watched by
// guard rules that withdraw it by themselves. This module holds the rules and the store writes;
// canary-router.ts splits live traffic and judges the guards.

export const CANARY_CHANNEL = 'tiller_canaries';

export interface CanaryGuards {
  /** Canary events counted (across instances) before any rule applies. */
  minEvents: number;
  /** Withdraw when the canary's failure rate is above the stable's by more than this (0.02: 2 points). */
  maxFailureRateIncrease: number;
  /** Withdraw when the drop rates differ by more than this, either way. */
  maxDropRateDifference: number;
  /** Withdraw when the canary's p99 batch time (cold starts excluded) is above this many times the stable's. */
  maxP99Ratio: number;
  /** Promote by itself once this long has passed and this many canary events ran without a trip. */
  autoPromote: { afterSeconds: number; minEvents: number } | null;
}

export const DEFAULT_GUARDS: CanaryGuards = { minEvents: 200, maxFailureRateIncrease: 0.02, maxDropRateDifference: 0.05, maxP99Ratio: 3, autoPromote: null };

export type CanaryStatus = 'running' | 'promoted' | 'aborted' | 'rolled_back';

export interface Canary {
  transformationId: string;
  workspaceId: string;
  stableVersionId: string;
  canaryVersionId: string;
  percent: number;
  guards: CanaryGuards;
  status: CanaryStatus;
  startedAt: string;
  endedAt: string | null;
  endReason: string | null;
}

export function canaryOf(row: TransformationCanariesTable): Canary {
  return {
    transformationId: row.transformation_id,
    workspaceId: row.workspace_id,
    stableVersionId: row.stable_version_id,
    canaryVersionId: row.canary_version_id,
    percent: Number(row.percent),
    guards: { ...DEFAULT_GUARDS, ...(JSON.parse(row.guards) as Partial<CanaryGuards>) },
    status: row.status as CanaryStatus,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    endReason: row.end_reason,
  };
}

function number(field: string, value: unknown, min: number, max: number, integer = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw invalid('invalid_field', `${field} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}`, { field });
  }
  return value;
}

/** Guards as asked, each checked, the rest defaults. */
export function validGuards(input: Partial<Record<keyof CanaryGuards, unknown>> | undefined): CanaryGuards {
  const guards = { ...DEFAULT_GUARDS };
  if (input === undefined) return guards;
  if (input.minEvents !== undefined) guards.minEvents = number('guards.minEvents', input.minEvents, 1, 1_000_000_000, true);
  if (input.maxFailureRateIncrease !== undefined) guards.maxFailureRateIncrease = number('guards.maxFailureRateIncrease', input.maxFailureRateIncrease, 0, 1);
  if (input.maxDropRateDifference !== undefined) guards.maxDropRateDifference = number('guards.maxDropRateDifference', input.maxDropRateDifference, 0, 1);
  if (input.maxP99Ratio !== undefined) guards.maxP99Ratio = number('guards.maxP99Ratio', input.maxP99Ratio, 1, 1000);
  if (input.autoPromote !== undefined && input.autoPromote !== null) {
    const auto = input.autoPromote as Record<string, unknown>;
    guards.autoPromote = {
      afterSeconds: number('guards.autoPromote.afterSeconds', auto.afterSeconds, 60, 30 * 86_400, true),
      minEvents: number('guards.autoPromote.minEvents', auto.minEvents, 1, 1_000_000_000, true),
    };
  }
  return guards;
}

async function liveTransformation(db: Kysely<Database>, workspaceId: string, id: string) {
  const row = await db.selectFrom('transformations').select(['id', 'published_version_id']).where('id', '=', id).where('workspace_id', '=', workspaceId).where('deleted_at', 'is', null).executeTakeFirst();
  if (!row) throw notFound('transformation');
  return row;
}

async function seqOf(db: Kysely<Database>, versionId: string): Promise<number> {
  return Number((await db.selectFrom('transformation_versions').select('seq').where('id', '=', versionId).executeTakeFirst())?.seq ?? 0);
}

export async function currentCanary(db: Kysely<Database>, workspaceId: string, transformationId: string): Promise<Canary | null> {
  const row = await db.selectFrom('transformation_canaries').selectAll().where('transformation_id', '=', transformationId).where('workspace_id', '=', workspaceId).executeTakeFirst();
  return row ? canaryOf(row) : null;
}

export interface StartCanaryInput {
  versionId: string;
  percent: number;
  guards?: Partial<Record<keyof CanaryGuards, unknown>>;
}

/** Starts a canary of `versionId` on `percent` of the published version's live events. */
export async function startCanary(store: Store, workspaceId: string, actor: Actor, transformationId: string, input: StartCanaryInput): Promise<Canary> {
  const percent = number('percent', input.percent, 1, 99, true);
  const guards = validGuards(input.guards);
  return store.db.transaction().execute(async (trx) => {
    const transformation = await liveTransformation(trx, workspaceId, transformationId);
    if (!transformation.published_version_id) throw conflict('not_published', 'publish a version first: a canary shares the published version\'s live traffic');
    const version = await trx.selectFrom('transformation_versions').select(['id', 'transformation_id', 'seq']).where('id', '=', input.versionId).where('workspace_id', '=', workspaceId).executeTakeFirst();
    if (!version || version.transformation_id !== transformationId) throw invalid('invalid_field', 'versionId must name a version of this transformation', { field: 'versionId' });
    if (version.id === transformation.published_version_id) throw invalid('invalid_field', 'versionId is the published version already; name another version of this transformation', { field: 'versionId' });
    const existing = await trx.selectFrom('transformation_canaries').select('status').where('transformation_id', '=', transformationId).executeTakeFirst();
    if (existing?.status === 'running') throw conflict('canary_running', 'a canary of this transformation is running: promote or abort it first');
    const row: TransformationCanariesTable = {
      transformation_id: transformationId,
      workspace_id: workspaceId,
      stable_version_id: transformation.published_version_id,
      canary_version_id: version.id,
      percent,
      guards: JSON.stringify(guards),
      status: 'running',
      started_at: nowIso(),
      ended_at: null,
      end_reason: null,
    };
    if (existing) {
      await trx.deleteFrom('transformation_canaries').where('transformation_id', '=', transformationId).execute();
      // The figures of the canary this one replaces can no longer be read: drop them with it.
      await trx.deleteFrom('canary_figures').where('transformation_id', '=', transformationId).execute();
    }
    await trx.insertInto('transformation_canaries').values(row).execute();
    const stableSeq = await seqOf(trx, transformation.published_version_id);
    await recordAudit(trx, workspaceId, actor, {
      action: 'transformation.canary_start',
      target: transformationId,
      reason: `${versionLabel(Number(version.seq), version.id)} on ${percent}% of the events of version ${stableSeq} (${transformation.published_version_id})`,
    });
    await store.announce(trx, CANARY_CHANNEL, transformationId);
    return canaryOf(row);
  });
}

/** Ends the running canary as `status`; the first ending wins (an instance's guard and a person may race). */
async function endCanary(
  trx: Kysely<Database>,
  store: Store,
  canary: Pick<Canary, 'transformationId' | 'startedAt'>,
  status: Exclude<CanaryStatus, 'running'>,
  reason: string,
): Promise<boolean> {
  const ended = await trx
    .updateTable('transformation_canaries')
    .set({ status, ended_at: nowIso(), end_reason: reason })
    .where('transformation_id', '=', canary.transformationId)
    .where('started_at', '=', canary.startedAt)
    .where('status', '=', 'running')
    .executeTakeFirst();
  if (Number(ended.numUpdatedRows) === 0) return false;
  await store.announce(trx, CANARY_CHANNEL, canary.transformationId);
  return true;
}

async function runningCanary(trx: Kysely<Database>, workspaceId: string, transformationId: string): Promise<Canary> {
  await liveTransformation(trx, workspaceId, transformationId);
  const canary = await currentCanary(trx, workspaceId, transformationId);
  if (!canary || canary.status !== 'running') throw conflict('no_canary', 'no canary of this transformation is running');
  return canary;
}

/** Makes the canary the published version for all traffic (and what /workspaceConfig serves). */
export async function promoteCanary(store: Store, workspaceId: string, actor: Actor, transformationId: string, why = 'promoted'): Promise<Canary> {
  const canary = await store.db.transaction().execute(async (trx) => {
    await announceServedConfigChange(trx, store, workspaceId);
    const running = await runningCanary(trx, workspaceId, transformationId);
    const [canarySeq, stableSeq] = [await seqOf(trx, running.canaryVersionId), await seqOf(trx, running.stableVersionId)];
    const reason = `${versionLabel(canarySeq, running.canaryVersionId)} replaces version ${stableSeq} (${running.stableVersionId}) on all traffic (${why})`;
    if (!(await endCanary(trx, store, running, 'promoted', reason))) throw conflict('no_canary', 'the canary ended meanwhile');
    await trx.updateTable('transformations').set({ published_version_id: running.canaryVersionId }).where('id', '=', transformationId).execute();
    await recordAudit(trx, workspaceId, actor, { action: 'transformation.canary_promote', target: transformationId, reason });
    return { ...running, status: 'promoted' as const, endReason: reason };
  });
  return canary;
}

export async function abortCanary(store: Store, workspaceId: string, actor: Actor, transformationId: string): Promise<Canary> {
  return store.db.transaction().execute(async (trx) => {
    const running = await runningCanary(trx, workspaceId, transformationId);
    const reason = `aborted; version ${await seqOf(trx, running.stableVersionId)} (${running.stableVersionId}) serves all traffic`;
    if (!(await endCanary(trx, store, running, 'aborted', reason))) throw conflict('no_canary', 'the canary ended meanwhile');
    await recordAudit(trx, workspaceId, actor, { action: 'transformation.canary_abort', target: transformationId, reason: `${versionLabel(await seqOf(trx, running.canaryVersionId), running.canaryVersionId)} ${reason}` });
    return { ...running, status: 'aborted' as const, endReason: reason };
  });
}

/** A guard tripped: withdraws the canary, audited by the system with the figures that tripped it. */
export async function rollBackCanary(store: Store, canary: Canary, reason: string, actor: Actor): Promise<boolean> {
  return store.db.transaction().execute(async (trx) => {
    if (!(await endCanary(trx, store, canary, 'rolled_back', reason))) return false;
    await recordAudit(trx, canary.workspaceId, actor, {
      action: 'transformation.canary_rollback',
      target: canary.transformationId,
      reason: `${versionLabel(await seqOf(trx, canary.canaryVersionId), canary.canaryVersionId)} withdrawn: ${reason}`,
    });
    return true;
  });
}

/** How a canary's side reads in the release state. */
export interface SideSummary {
  versionId: string;
  eventsIn: number;
  eventsOut: number;
  dropped: number;
  failed: number;
  failureRate: number;
  dropRate: number;
  /** Batch run time quantiles (upper bounds of histogram buckets), cold starts excluded; null before any warm batch. */
  p50Ms: number | null;
  p99Ms: number | null;
}

/** Where a canary can split traffic, said in every answer about one (spec: config-backend mode cannot). */
export const CANARY_SCOPE =
  'Splits traffic only where Tiller runs the code (POST /customTransform). A rudder-transformer that reads code from Tiller\'s config backend, and /workspaceConfig itself, keep running the stable version for every event.';

/**
 * A publish or a delete ends a running canary of that transformation: the split keys on the
 * published version, so once another version is published (or none) the canary would run on no
 * traffic yet still read as running.
 */
export async function supersedeCanary(
  trx: Kysely<Database>,
  store: Store,
  workspaceId: string,
  actor: Actor,
  transformationId: string,
  why: string,
  /** The version now published; publishing the canary's stable version again changes nothing. */
  publishedVersionId: string | null = null,
): Promise<void> {
  const row = await trx.selectFrom('transformation_canaries').select(['started_at', 'canary_version_id', 'stable_version_id']).where('transformation_id', '=', transformationId).where('status', '=', 'running').executeTakeFirst();
  if (!row || row.stable_version_id === publishedVersionId) return;
  const reason = `ended: ${why}`;
  if (!(await endCanary(trx, store, { transformationId, startedAt: row.started_at }, 'aborted', reason))) return;
  await recordAudit(trx, workspaceId, actor, { action: 'transformation.canary_abort', target: transformationId, reason: `${versionLabel(await seqOf(trx, row.canary_version_id), row.canary_version_id)} ${reason}` });
}
