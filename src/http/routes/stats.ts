import { Type } from '@sinclair/typebox';
import { recentErrors, statsWindow, transformationStats } from '../../domain/stats/queries.js';
import type { App } from '../app.js';
import { workspaceIdOf } from '../auth.js';
import { IdParams, Nullable, errors } from '../schemas.js';

const Tags = ['transformations'];

const Figures = {
  eventsIn: Type.Integer(),
  eventsOut: Type.Integer({ description: 'Output events (a fan-out counts each)' }),
  dropped: Type.Integer(),
  failed: Type.Integer(),
  batches: Type.Integer(),
  errorRate: Type.Number({ description: 'failed / eventsIn' }),
  coldStarts: Type.Integer({ description: 'Batches that compiled their version first' }),
  limitKills: Type.Integer({ description: 'Batches stopped by a CPU, wall-clock, memory or output limit, or that crashed their sandbox process' }),
  quarantined: Type.Integer({ description: 'Batches refused because the version was quarantined' }),
  runMs: Type.Object(
    { sum: Type.Number(), p50: Nullable(Type.Number()), p95: Nullable(Type.Number()), p99: Nullable(Type.Number()) },
    { description: 'Batch run time in ms: the sum, and quantiles as the upper bound of their histogram bucket' },
  ),
};

const StatsAnswer = Type.Object({
  transformationId: Nullable(Type.String({ description: 'Null for the whole workspace' })),
  from: Type.String({ format: 'date-time' }),
  to: Type.String({ format: 'date-time' }),
  stepSeconds: Type.Integer(),
  totals: Type.Object(Figures),
  series: Type.Array(Type.Object({ start: Type.String({ format: 'date-time' }), ...Figures })),
  versions: Type.Array(Type.Object({ versionId: Type.String(), eventsIn: Type.Integer(), failed: Type.Integer(), errorRate: Type.Number() })),
});

const RecentErrorSchema = Type.Object({
  id: Type.String(),
  at: Type.String({ format: 'date-time' }),
  versionId: Type.String(),
  error: Type.String(),
  line: Nullable(Type.Integer({ description: "The line of the user's code the error names" })),
  event: Type.Unknown({ description: 'The failing event, secrets masked; null when it was too large to keep whole' }),
  eventPreview: Nullable(Type.String({ description: 'The start of an event too large to keep whole (JSON text)' })),
});

export async function statsRoutes(app: App): Promise<void> {
  const { db } = app.services.store;

  const StatsQuery = Type.Object({
    from: Type.Optional(Type.String({ maxLength: 40, description: 'ISO 8601; default: 24 hours before `to`' })),
    to: Type.Optional(Type.String({ maxLength: 40, description: 'ISO 8601; default: now' })),
    step: Type.Optional(Type.Integer({ minimum: 60, maximum: 30 * 86_400, description: 'Seconds per point, a whole number of minutes' })),
  });

  app.get(
    '/stats',
    {
      config: { auth: 'access' },
      schema: {
        summary: "What live traffic did across the workspace's transformations, as a time series (ext)",
        description: 'As GET /transformations/{id}/stats, summed over every transformation; `versions` lists each version that had traffic.',
        tags: Tags,
        querystring: StatsQuery,
        response: { 200: StatsAnswer, ...errors(400, 401, 403, 429) },
      },
    },
    async (request) => transformationStats(db, workspaceIdOf(request), null, statsWindow(request.query)),
  );

  app.get(
    '/transformations/:id/stats',
    {
      config: { auth: 'access' },
      schema: {
        summary: 'What live traffic did, as a time series summed over every instance (ext)',
        description: 'Per minute rollups of /customTransform batches, written by each instance every TILLER_STATS_FLUSH_SECONDS. Default window: the last 24 hours, in about 288 steps.',
        tags: Tags,
        params: IdParams,
        querystring: StatsQuery,
        response: { 200: StatsAnswer, ...errors(400, 401, 403, 404, 429) },
      },
    },
    async (request) => transformationStats(db, workspaceIdOf(request), request.params.id, statsWindow(request.query)),
  );

  app.get(
    '/transformations/:id/errors',
    {
      config: { auth: 'access' },
      schema: {
        summary: 'The latest failed events of live traffic, newest first (ext)',
        tags: Tags,
        params: IdParams,
        querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 1000, default: 50 }) }),
        response: { 200: Type.Object({ errors: Type.Array(RecentErrorSchema) }), ...errors(400, 401, 403, 404, 429) },
      },
    },
    async (request) => ({ errors: await recentErrors(db, workspaceIdOf(request), request.params.id, request.query.limit) }),
  );
}
