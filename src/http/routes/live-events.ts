import { Type } from '@sinclair/typebox';
import { LIVE_EVENTS_KEPT, MAX_LIVE_EVENTS_BODY_BYTES, MAX_LIVE_EVENTS_PER_BATCH, MAX_LIVE_EVENT_SAMPLE_BYTES, getLiveEvents, recordLiveEvents, setLiveEvents } from '../../domain/live-events.js';
import type { App } from '../app.js';
import { actorOf, workspaceIdOf } from '../auth.js';
import { IdParams, Nullable, errors } from '../schemas.js';

// ext (spec section 8): rudder-server's transformation debugger. Turning live events on serves
// config.eventTransform: true on the transformation's entries of /workspaceConfig for a while;
// rudder-server then posts samples here, and the dashboard reads them back.

const Open = { additionalProperties: true } as const;
/** Go marshals a nil slice or pointer as null, so every field may come as null. */
const Maybe = <T extends Parameters<typeof Nullable>[0]>(schema: T) => Type.Optional(Nullable(schema));
const Id = Type.String({ maxLength: 64 });

const EventAfter = Type.Object({ eventName: Maybe(Type.String()), eventType: Maybe(Type.String()), payload: Type.Optional(Type.Unknown()) }, Open);

const Sample = Type.Object(
  {
    transformationId: Type.String({ minLength: 1, maxLength: 64 }),
    sourceId: Maybe(Id),
    destinationId: Maybe(Id),
    eventBefore: Maybe(Type.Object({ eventName: Maybe(Type.String()), eventType: Maybe(Type.String()), receivedAt: Maybe(Type.String()), payload: Type.Optional(Type.Unknown()) }, Open)),
    eventsAfter: Maybe(
      Type.Object(
        {
          receivedAt: Maybe(Type.String()),
          isDropped: Maybe(Type.Boolean()),
          error: Maybe(Type.String()),
          statusCode: Maybe(Type.Integer()),
          payload: Maybe(Type.Array(EventAfter)),
        },
        Open,
      ),
    ),
    error: Type.Optional(Type.Unknown({ description: 'Whether (or why) the transformation failed for this event, as rudder-server reports it' })),
  },
  Open,
);

const SamplesBody = Type.Object(
  { payload: Type.Array(Sample, { maxItems: MAX_LIVE_EVENTS_PER_BATCH }) },
  { ...Open, description: "rudder-server's TransformationStatus upload" },
);

const Recorded = Type.Object({
  success: Type.Literal(true),
  stored: Type.Integer(),
  skipped: Type.Array(
    Type.Object({
      index: Type.Integer({ description: 'Its place in payload' }),
      transformationId: Type.String(),
      reason: Type.Union([Type.Literal('unknown_transformation'), Type.Literal('too_large')]),
    }),
    { description: 'Samples not stored: of a transformation this workspace does not have, or over the sample size limit' },
  ),
});

const State = {
  enabled: Type.Boolean({ description: 'Whether the served configuration has config.eventTransform: true for it now' }),
  until: Nullable(Type.String({ format: 'date-time', description: 'When the window ends or ended; null when off' })),
};

const StoredSample = Type.Object({ ...Sample.properties, id: Type.String(), storedAt: Type.String({ format: 'date-time', description: 'When Tiller received it' }) }, Open);

const Tags = ['live events'];

export async function liveEventRoutes(app: App): Promise<void> {
  const { liveEvents } = app.services;

  app.post(
    '/dataplane/eventTransformStatus',
    {
      config: { auth: 'workspace' },
      bodyLimit: MAX_LIVE_EVENTS_BODY_BYTES,
      schema: {
        summary: "Receive live-event samples (ext, rudder-server's transformation debugger call)",
        description: `Workspace token (Basic), as rudder-server sends it while a transformation entry has config.eventTransform: true. Body at most ${MAX_LIVE_EVENTS_BODY_BYTES / 1024} KiB (413 above) and ${MAX_LIVE_EVENTS_PER_BATCH} samples; a sample of the wrong shape answers 400 naming its path and nothing of the batch is stored. A sample of a transformation this workspace does not have, or over ${MAX_LIVE_EVENT_SAMPLE_BYTES / 1024} KiB, is skipped and listed in the answer (rudder-server batches every transformation's samples, and one stale entry must not lose the others'). The ${LIVE_EVENTS_KEPT} newest samples of each transformation are kept.`,
        tags: Tags,
        body: SamplesBody,
        response: { 200: Recorded, ...errors(400, 401, 413, 415, 429) },
      },
    },
    async (request) => ({ success: true as const, ...(await recordLiveEvents(liveEvents, workspaceIdOf(request), request.body.payload)) }),
  );

  app.put(
    '/transformations/:id/liveEvents',
    {
      config: { auth: 'access' },
      schema: {
        summary: 'Turn live events on or off for a transformation (ext)',
        description: `Needs the write scope. enabled: true serves config.eventTransform: true on the transformation's entries of /workspaceConfig for ${app.services.config.liveEventsWindowMs / 1000} s (TILLER_LIVE_EVENTS_SECONDS, default 900) from now (again: the window starts over), then off by itself; rudder-server then posts samples of it for the destinations it is connected to. enabled: false ends the window now. Audited.`,
        tags: Tags,
        params: IdParams,
        body: Type.Object({ enabled: Type.Boolean() }),
        response: { 200: Type.Object(State), ...errors(400, 401, 403, 404, 415, 429) },
      },
    },
    async (request) => setLiveEvents(liveEvents, workspaceIdOf(request), actorOf(request), request.params.id, request.body.enabled),
  );

  app.get(
    '/transformations/:id/liveEvents',
    {
      config: { auth: 'access' },
      schema: {
        summary: "A transformation's live events (ext)",
        description: `Needs the read scope. Whether they are on, until when, and the ${LIVE_EVENTS_KEPT} newest samples rudder-server posted, newest first.`,
        tags: Tags,
        params: IdParams,
        response: { 200: Type.Object({ ...State, events: Type.Array(StoredSample) }), ...errors(400, 401, 403, 404, 429) },
      },
    },
    async (request, reply) => {
      reply.header('Cache-Control', 'no-store');
      return getLiveEvents(liveEvents, workspaceIdOf(request), request.params.id);
    },
  );
}
