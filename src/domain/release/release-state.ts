import type { Kysely } from 'kysely';
import type { Store } from '../../store/db.js';
import type { Database } from '../../store/schema.js';
import { notFound } from '../errors.js';
import { bucketQuantile } from '../stats/live-stats.js';
import { transformationStats, type StatsPoint } from '../stats/queries.js';
import { CANARY_SCOPE, currentCanary, type Canary, type SideSummary } from './canary.js';
import { p99Of, storedCanaryFigures, type CanaryRouter, type Side, type SideFigures } from './canary-router.js';

// A transformation's release state: the stable version, its latest canary, and the two side by
// side over the canary's life (guard figures, across instances) and per minute (the stats rollups).

export interface ReleaseState {
  transformationId: string;
  stableVersionId: string | null;
  canary: (Canary & { scope: string }) | null;
  sides: Record<Side, SideSummary> | null;
  series: Record<Side, StatsPoint[]> | null;
}

function summary(versionId: string, f: SideFigures): SideSummary {
  const rate = (part: number) => (f.eventsIn === 0 ? 0 : part / f.eventsIn);
  return { versionId, eventsIn: f.eventsIn, eventsOut: f.eventsOut, dropped: f.dropped, failed: f.failed, failureRate: rate(f.failed), dropRate: rate(f.dropped), p50Ms: bucketQuantile(f.histogram, 0.5), p99Ms: p99Of(f.histogram) };
}

export async function releaseState(db: Kysely<Database>, store: Store, router: CanaryRouter, workspaceId: string, transformationId: string): Promise<ReleaseState> {
  const transformation = await db.selectFrom('transformations').select(['published_version_id']).where('id', '=', transformationId).where('workspace_id', '=', workspaceId).where('deleted_at', 'is', null).executeTakeFirst();
  if (!transformation) throw notFound('transformation');
  const canary = await currentCanary(db, workspaceId, transformationId);
  if (!canary) return { transformationId, stableVersionId: transformation.published_version_id, canary: null, sides: null, series: null };
  // Running here: this instance's figures are live; otherwise what every instance last wrote.
  const figures = (canary.status === 'running' ? router.figures(transformationId) : undefined) ?? (await storedCanaryFigures(store, canary));
  const from = Math.floor(Date.parse(canary.startedAt) / 60_000) * 60_000;
  const to = Math.ceil(Date.parse(canary.endedAt ?? new Date().toISOString()) / 60_000) * 60_000 + 60_000;
  const stepMs = Math.max(60_000, Math.ceil((to - from) / 288 / 60_000) * 60_000);
  const window = { from, to, stepMs };
  const [stableSeries, canarySeries] = await Promise.all([
    transformationStats(db, workspaceId, transformationId, window, { versionId: canary.stableVersionId }),
    transformationStats(db, workspaceId, transformationId, window, { versionId: canary.canaryVersionId }),
  ]);
  return {
    transformationId,
    stableVersionId: transformation.published_version_id,
    canary: { ...canary, scope: CANARY_SCOPE },
    sides: { stable: summary(canary.stableVersionId, figures.stable), canary: summary(canary.canaryVersionId, figures.canary) },
    series: { stable: stableSeries.series, canary: canarySeries.series },
  };
}
