import { Type, type TSchema } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { invalid } from '../../domain/errors.js';
import { runStoredVersion } from '../../domain/serving/developer-runs.js';
import { serveWireBatch, wantsFilteredEvents } from '../../domain/serving/wire.js';
import { outputJsonOf } from '../../runtime/index.js';
import type { App, Surface } from '../app.js';
import { callerMayWrite, workspaceIdOf } from '../auth.js';
import { sendError } from '../errors.js';
import { parseEventBodies } from '../event-bodies.js';
import { IdParams, RequestCredentials, VersionParams, errors } from '../schemas.js';

// Live traffic (POST /customTransform, rudder-server's wire protocol) and developer runs of stored
// versions (the run endpoints). The wire route is the hot path: see src/domain/serving/wire.ts.

const AnyObject = Type.Object({}, { additionalProperties: true });

const WireEvent = Type.Object(
  {
    message: Type.Object({}, { additionalProperties: true, description: 'The event to transform' }),
    metadata: Type.Object(
      {
        sourceId: Type.Optional(Type.String()),
        destinationId: Type.Optional(Type.String()),
        workspaceId: Type.Optional(Type.String()),
        messageId: Type.Optional(Type.String()),
      },
      { additionalProperties: true, description: 'Returned unchanged with every answer for this event; `metadata(event)` in the code returns it' },
    ),
    destination: Type.Object(
      { Transformations: Type.Array(Type.Object({ VersionID: Type.String() }, { additionalProperties: true }), { minItems: 1, description: 'The first entry names the version to run' }) },
      { additionalProperties: true },
    ),
    libraries: Type.Optional(Type.Array(Type.Object({ VersionID: Type.String() }, { additionalProperties: true }), { description: 'Library versions to link; only the first event\'s list counts' })),
    credentials: Type.Optional(Type.Array(Type.Unknown(), { description: "{ id, key, value, isSecret } entries getCredential(key) reads, over the workspace's own credentials; only the first event's list counts" })),
  },
  { additionalProperties: true },
);

const WireAnswer = Type.Object(
  {
    output: Type.Optional(Type.Object({}, { additionalProperties: true, description: 'The transformed event (statusCode 200)' })),
    metadata: AnyObject,
    statusCode: Type.Integer({ description: '200 transformed, 298 dropped (with X-Feature-Filter-Code), 400 failed, 404 unknown version' }),
    error: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);

const RunResult = Type.Object({
  statusCode: Type.Integer({ description: '200 or 400' }),
  index: Type.Integer({ description: 'Position of the input event; a fan-out repeats it' }),
  output: Type.Optional(AnyObject),
  error: Type.Optional(Type.String()),
});

const RunBody = Type.Object({
  events: Type.Array(AnyObject, { minItems: 1, maxItems: 10_000 }),
  metadata: Type.Optional(Type.Array(AnyObject, { maxItems: 10_000, description: 'metadata[i] is what `metadata(events[i])` returns' })),
  libraries: Type.Optional(
    Type.Array(Type.Object({ versionId: Type.String({ minLength: 1, maxLength: 64 }) }), {
      maxItems: 100,
      description: 'ext: library versions to link instead of the published ones',
    }),
  ),
  credentials: Type.Optional(RequestCredentials),
});

const RunAnswer = Type.Object({
  results: Type.Array(RunResult, { description: 'Outcomes in input order; dropped events have none' }),
  dropped: Type.Array(Type.Integer(), { description: 'ext: indexes of the input events the code dropped' }),
  logs: Type.Array(Type.String()),
});

/** rudder-server refuses a 200 whose apiVersion header is not the one it speaks. */
const WIRE_API_VERSION = '2';

export async function runtimeRoutes(app: App, options: { surface: Surface }): Promise<void> {
  const { surface } = options;
  const { services } = app;
  const { runtime, store, resolver, runtimeMetrics: metrics, credentials } = services;
  // Four groups' worth of output per answer (each group's is bounded by maxOutputChars).
  const wireDeps = {
    runtime,
    resolver,
    outputJson: outputJsonOf,
    maxAnswerChars: 4 * services.config.runtime.maxOutputChars,
    workspaceCredentials: (workspaceId: string, options: { secrets: boolean }) => credentials.valuesFor(workspaceId, options),
    stats: services.liveStats,
    canaries: services.canaries,
    shadows: services.shadows,
  };
  parseEventBodies(app);

  // rudder-server's mirror (USER_TRANSFORM_MIRROR_URL=http://<tiller>/mirror) sends a sample of
  // live batches here and compares the answers with its live transformer's. Nothing may happen
  // twice, so no fetch or fetchV2 is made: a batch whose code tries one answers 297 (spec 7.6),
  // which rudder-server treats as "not compared" on its mirror URL only; /customTransform itself
  // never answers 297. Mirror traffic counts in no stats and takes no part in a canary.
  const mirrorDeps = { ...wireDeps, stats: undefined, canaries: undefined, shadows: undefined };

  for (const path of ['/customTransform', '/mirror/customTransform'] as const) {
    const mirror = path === '/mirror/customTransform';
    app.post(
      path,
      {
        // Transforming events changes nothing stored, so a read-scoped access token is enough.
        config: { auth: 'runtime', scope: 'read' },
        // rudder-server batches events with their destination config, so its bodies outgrow the API's limit.
        bodyLimit: services.config.runtimeBodyLimitBytes,
        // Entries are checked one by one in the handler: a malformed entry fails alone (statusCode 400
        // in its answer) instead of failing the batch, and large batches skip a second validation pass.
        validatorCompiler: () => () => true,
        schema: mirror
          ? {
              summary: "rudder-server's mirror target: /customTransform without side effects (ext)",
              description:
                'As POST /customTransform, for USER_TRANSFORM_MIRROR_URL=http://<tiller>/mirror. No fetch or fetchV2 is made; a batch whose code tries one answers HTTP 297 with the error envelope (code outbound_not_made), so rudder-server leaves it uncompared. Mirror traffic counts in no stats and takes no part in a canary.',
              tags: ['runtime'],
              headers: Type.Object({ 'x-feature-filter-code': Type.Optional(Type.String({ description: 'true or ?1: answer dropped events with statusCode 298' })) }),
              body: Type.Array(WireEvent),
              response: { 200: Type.Array(WireAnswer), ...errors(297, 400, 401, 413, 415, 429, 503) },
            }
          : {
              summary: 'Transform a batch of events (compat: rudder-server wire protocol)',
              description: [
                'The body is a JSON array of events. Events are grouped by metadata.destinationId and metadata.sourceId; each group runs the',
                'transformation version its first event names in destination.Transformations[0].VersionID, linked against the library versions',
                'in the first event\'s `libraries`. The answer is a JSON array in input order with one or more entries per event:',
                '{ output, metadata, statusCode: 200 } per output event, { statusCode: 400, error, metadata } for a failed or malformed event,',
                '{ statusCode: 404, error, metadata } when the version does not exist (or belongs to another workspace than the credential\'s).',
                'Dropped events are left out, or answered { statusCode: 298, metadata } when the request carries X-Feature-Filter-Code: true (or ?1).',
                'The answer carries the header apiVersion: 2. When the runtime is saturated or a sandbox process was lost under the batch, the whole request',
                'answers 503 with Retry-After and X-Rudder-Should-Retry: true, which rudder-server retries until it succeeds. A quarantined version answers',
                'per-event statusCode 400 entries. Authentication: an access or workspace token, or none on the runtime listener.',
              ].join(' '),
              tags: ['runtime'],
              headers: Type.Object({ 'x-feature-filter-code': Type.Optional(Type.String({ description: 'true or ?1: answer dropped events with statusCode 298' })) }),
              body: Type.Array(WireEvent),
              response: { 200: Type.Array(WireAnswer), ...errors(400, 401, 413, 415, 429, 503) },
            },
      },
      async (request, reply) => {
        const body: unknown = request.body;
        if (!Array.isArray(body)) throw invalid('invalid_body', 'request body must be a JSON array of { message, metadata, destination } events');
        const served = await serveWireBatch(mirror ? mirrorDeps : wireDeps, body, {
          workspaceId: request.principal?.workspaceId,
          filterDropped: wantsFilteredEvents(request.headers['x-feature-filter-code']),
          readOnlyCaller: !callerMayWrite(request),
          ...(mirror ? { sideEffects: false } : {}),
        });
        const { tally } = served;
        if (tally.malformed > 0) metrics.rejectedEvents.inc({ reason: 'malformed' }, tally.malformed);
        if (tally.versionNotFound > 0) metrics.rejectedEvents.inc({ reason: 'version_not_found' }, tally.versionNotFound);
        if (mirror && tally.outboundSkipped > 0) {
          return sendError(reply as FastifyReply, 297, 'outbound_not_made', 'the code makes outbound calls, which a mirror run does not make so that nothing happens twice; this batch cannot be compared');
        }
        // The answer is already JSON text: sent as is, never through the response serializer.
        return (reply as FastifyReply).header('apiVersion', WIRE_API_VERSION).type('application/json; charset=utf-8').send(served.json);
      },
    );
  }

  // Developer runs need an access token and belong to the main listener only.
  if (surface !== 'main') return;

  const runSchema = <P extends TSchema>(summary: string, description: string, params: P) => ({
    summary,
    description,
    tags: ['runtime'],
    params,
    body: RunBody,
    response: { 200: RunAnswer, ...errors(400, 401, 403, 404, 409, 413, 415, 429, 503) },
  });

  const answer = (request: FastifyRequest, transformationId: string, versionId: string | undefined, body: typeof RunBody.static) =>
    runStoredVersion(
      { db: store.db, runtime, resolver, credentials },
      {
        workspaceId: workspaceIdOf(request),
        transformationId,
        versionId,
        events: body.events,
        metadata: body.metadata,
        libraryVersionIds: body.libraries?.map((l) => l.versionId),
        credentials: body.credentials,
        callerMayWrite: callerMayWrite(request),
      },
    );

  app.post(
    '/transformations/:id/run',
    {
      config: { auth: 'access', scope: ['read', 'write'] },
      schema: runSchema(
        'Run the published version on events (ext)',
        'Runs the transformation\'s published version, linked against the workspace\'s published libraries (or the listed ones), and answers every outcome with the logs. A transformation that was never published answers 409. A failure of the whole batch (transformBatch threw, a limit was hit) answers 400 with the error code and the logs.',
        IdParams,
      ),
    },
    async (request) => answer(request, request.params.id, undefined, request.body),
  );

  app.post(
    '/transformations/:id/versions/:versionId/run',
    {
      config: { auth: 'access', scope: ['read', 'write'] },
      schema: runSchema(
        'Run one version on events (ext)',
        'Runs the given version of the transformation (published or not), linked against the workspace\'s published libraries (or the listed ones). Answers as POST /transformations/{id}/run.',
        VersionParams,
      ),
    },
    async (request) => answer(request, request.params.id, request.params.versionId, request.body),
  );
}
