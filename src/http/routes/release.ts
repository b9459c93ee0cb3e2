import { Type } from '@sinclair/typebox';
import { CANARY_SCOPE, abortCanary, promoteCanary, startCanary, type Canary } from '../../domain/release/canary.js';
import { releaseState } from '../../domain/release/release-state.js';
import { shadowState, startShadow, stopShadow } from '../../domain/release/shadow.js';
import type { App } from '../app.js';
import { actorOf, workspaceIdOf } from '../auth.js';
import { IdParams, Nullable, errors } from '../schemas.js';

const Tags = ['releases'];

const Guards = Type.Object(
  {
    minEvents: Type.Integer({ minimum: 1, maximum: 1_000_000_000, description: 'Canary events (across instances) before any rule applies; default 200' }),
    maxFailureRateIncrease: Type.Number({ minimum: 0, maximum: 1, description: "Withdraw when the canary's failure rate is above the stable's by more than this; default 0.02 (2 points)" }),
    maxDropRateDifference: Type.Number({ minimum: 0, maximum: 1, description: 'Withdraw when the drop rates differ by more than this; default 0.05' }),
    maxP99Ratio: Type.Number({ minimum: 1, maximum: 1000, description: "Withdraw when the canary's p99 batch time (cold starts excluded) is above this many times the stable's; default 3" }),
    autoPromote: Nullable(
      Type.Object({
        afterSeconds: Type.Integer({ minimum: 60, maximum: 30 * 86_400 }),
        minEvents: Type.Integer({ minimum: 1, maximum: 1_000_000_000 }),
      }, { description: 'Promote by itself after this long and this many canary events without a trip; default null (never)' }),
    ),
  },
);

const CanarySchema = Type.Object({
  transformationId: Type.String(),
  stableVersionId: Type.String(),
  canaryVersionId: Type.String(),
  percent: Type.Integer(),
  guards: Guards,
  status: Type.Union([Type.Literal('running'), Type.Literal('promoted'), Type.Literal('aborted'), Type.Literal('rolled_back')]),
  startedAt: Type.String({ format: 'date-time' }),
  endedAt: Nullable(Type.String({ format: 'date-time' })),
  endReason: Nullable(Type.String({ description: 'Why it ended; for rolled_back, the guard and the figures that tripped it' })),
  scope: Type.String({ description: 'Where a canary splits traffic' }),
});

const Side = Type.Object({
  versionId: Type.String(),
  eventsIn: Type.Integer(),
  eventsOut: Type.Integer(),
  dropped: Type.Integer(),
  failed: Type.Integer(),
  failureRate: Type.Number(),
  dropRate: Type.Number(),
  p50Ms: Nullable(Type.Number()),
  p99Ms: Nullable(Type.Number()),
});

const Point = Type.Object({ start: Type.String({ format: 'date-time' }), eventsIn: Type.Integer(), eventsOut: Type.Integer(), dropped: Type.Integer(), failed: Type.Integer(), errorRate: Type.Number() }, { additionalProperties: true });

const ReleaseAnswer = Type.Object({
  transformationId: Type.String(),
  stableVersionId: Nullable(Type.String({ description: 'The published version' })),
  canary: Nullable(CanarySchema),
  sides: Nullable(Type.Object({ stable: Side, canary: Side }, { description: "Over the canary's life, across instances" })),
  series: Nullable(Type.Object({ stable: Type.Array(Point), canary: Type.Array(Point) }, { description: 'Per step since the canary started, from the stats rollups' })),
});

const answer = (canary: Canary) => ({ canary: { ...canary, scope: CANARY_SCOPE } });

const ShadowSchema = Type.Object({
  transformationId: Type.String(),
  stableVersionId: Type.String(),
  candidateVersionId: Type.String(),
  percent: Type.Integer({ description: 'Share of live batches copied' }),
  status: Type.Union([Type.Literal('running'), Type.Literal('stopped')]),
  startedAt: Type.String({ format: 'date-time' }),
  endedAt: Nullable(Type.String({ format: 'date-time' })),
});

const ShadowReportSchema = Type.Object({
  compared: Type.Integer(),
  identical: Type.Integer(),
  differing: Type.Integer(),
  failedOnlyInCandidate: Type.Integer(),
  dropsDiffer: Type.Integer(),
  notCompared: Type.Integer({ description: 'Events of batches whose candidate tried fetch or fetchV2, which a shadow does not make' }),
  shedBatches: Type.Integer({ description: 'Copies not run because the queue was full' }),
  diffs: Type.Array(Type.Object({ input: Type.String(), live: Type.String(), candidate: Type.String() }), { description: 'A bounded sample: JSON text, or "failed" / "dropped"' }),
});

export async function releaseRoutes(app: App): Promise<void> {
  const { store, canaries, shadows, workspaceConfigs } = app.services;

  app.post(
    '/transformations/:id/canary',
    {
      config: { auth: 'access' },
      schema: {
        summary: "Start a canary: run a version on a share of the published version's live events (ext)",
        description: `The share is chosen by each event's userId, else anonymousId, else messageId, so a user stays on one version across batches and instances. ${CANARY_SCOPE}`,
        tags: Tags,
        params: IdParams,
        body: Type.Object({
          versionId: Type.String({ minLength: 1, maxLength: 64 }),
          percent: Type.Integer({ minimum: 1, maximum: 99 }),
          guards: Type.Optional(Type.Partial(Guards)),
        }),
        response: { 200: Type.Object({ canary: CanarySchema }), ...errors(400, 401, 403, 404, 409, 413, 415, 429) },
      },
    },
    async (request) => {
      const canary = await startCanary(store, workspaceIdOf(request), actorOf(request), request.params.id, request.body);
      await canaries.reload();
      return answer(canary);
    },
  );

  app.post(
    '/transformations/:id/canary/promote',
    {
      config: { auth: 'access' },
      schema: {
        summary: 'Promote the running canary: it becomes the published version for all traffic (ext)',
        tags: Tags,
        params: IdParams,
        response: { 200: Type.Object({ canary: CanarySchema }), ...errors(401, 403, 404, 409, 429) },
      },
    },
    async (request) => {
      const workspaceId = workspaceIdOf(request);
      const canary = await promoteCanary(store, workspaceId, actorOf(request), request.params.id);
      workspaceConfigs.invalidate(workspaceId);
      await canaries.reload();
      return answer(canary);
    },
  );

  app.delete(
    '/transformations/:id/canary',
    {
      config: { auth: 'access' },
      schema: {
        summary: 'Abort the running canary: the published version serves all traffic again (ext)',
        tags: Tags,
        params: IdParams,
        response: { 200: Type.Object({ canary: CanarySchema }), ...errors(401, 403, 404, 409, 429) },
      },
    },
    async (request) => {
      const canary = await abortCanary(store, workspaceIdOf(request), actorOf(request), request.params.id);
      await canaries.reload();
      return answer(canary);
    },
  );

  app.post(
    '/transformations/:id/shadow',
    {
      config: { auth: 'access' },
      schema: {
        summary: "Shadow a version: run it on a sampled copy of the published version's live batches and compare (ext)",
        description: 'The copy runs after the live answer is computed, never changes or delays it, and makes no fetch or fetchV2 call. Copies are shed when the queue is full.',
        tags: Tags,
        params: IdParams,
        body: Type.Object({ versionId: Type.String({ minLength: 1, maxLength: 64 }), percent: Type.Integer({ minimum: 1, maximum: 100 }) }),
        response: { 200: Type.Object({ shadow: ShadowSchema }), ...errors(400, 401, 403, 404, 409, 413, 415, 429) },
      },
    },
    async (request) => {
      const shadow = await startShadow(store, workspaceIdOf(request), actorOf(request), request.params.id, request.body);
      await shadows.reload();
      return { shadow };
    },
  );

  app.delete(
    '/transformations/:id/shadow',
    {
      config: { auth: 'access' },
      schema: { summary: 'Stop the running shadow (ext)', tags: Tags, params: IdParams, response: { 200: Type.Object({ shadow: ShadowSchema }), ...errors(401, 403, 404, 409, 429) } },
    },
    async (request) => {
      const shadow = await stopShadow(store, workspaceIdOf(request), actorOf(request), request.params.id);
      await shadows.reload();
      return { shadow };
    },
  );

  app.get(
    '/transformations/:id/shadow',
    {
      config: { auth: 'access' },
      schema: {
        summary: 'The latest shadow and its comparison report, summed over every instance (ext)',
        tags: Tags,
        params: IdParams,
        response: { 200: Type.Object({ shadow: Nullable(ShadowSchema), report: Nullable(ShadowReportSchema) }), ...errors(401, 403, 404, 429) },
      },
    },
    async (request) => shadowState(store, workspaceIdOf(request), request.params.id, shadows),
  );

  app.get(
    '/transformations/:id/release',
    {
      config: { auth: 'access' },
      schema: {
        summary: 'Release state: the published version, its latest canary, and the two side by side (ext)',
        tags: Tags,
        params: IdParams,
        response: { 200: ReleaseAnswer, ...errors(401, 403, 404, 429) },
      },
    },
    async (request) => releaseState(store.db, store, canaries, workspaceIdOf(request), request.params.id),
  );
}
