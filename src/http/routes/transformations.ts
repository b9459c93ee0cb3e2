import { Type } from '@sinclair/typebox';
import { MAX_NAME_CHARS } from '../../domain/names.js';
import {
  createTransformation,
  deleteTransformation,
  getTransformation,
  getTransformationVersion,
  listTransformationVersions,
  listTransformations,
  setTransformationDestinations,
  updateTransformation,
} from '../../domain/transformations.js';
import { lastDaySummaries } from '../../domain/stats/queries.js';
import type { App } from '../app.js';
import { actorOf, workspaceIdOf } from '../auth.js';
import { Description, EventsSchema, IdParams, Language, NameField, StoredLanguage, Nullable, PublishQuery, SuccessTrue, VersionParams, VersionsQuery, errors, versionsPage } from '../schemas.js';


const TransformationFields = {
  id: Type.String(),
  versionId: Type.String({ description: 'The version shown: the latest one for a transformation' }),
  name: Type.String(),
  description: Type.String(),
  code: Type.String(),
  codeVersion: Type.String({ description: 'Always "1"' }),
  language: StoredLanguage,
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  workspaceId: Type.String(),
  destinations: Type.Array(
    Type.Object(
      {
        id: Type.String(),
        name: Type.Optional(Type.String({ description: "From the workspace's rudder-server configuration" })),
        enabled: Type.Optional(Type.Boolean({ description: "From the workspace's rudder-server configuration" })),
      },
      { additionalProperties: true },
    ),
    { description: 'Destinations connected with destinationIds; [] when none' },
  ),
  imports: Type.Array(Type.String(), { description: 'Library import names the code uses' }),
  publishedVersionId: Nullable(Type.String({ description: 'ext: null until a version is published' })),
  quarantinedUntil: Nullable(
    Type.String({
      format: 'date-time',
      description:
        'ext: a version whose batch crashed a sandbox process is quarantined (not run; its events fail with a per-event error) until this time, which doubles on each repeat up to an hour. On a transformation: the latest end among its versions; on a version: its own. null when none is.',
    }),
  ),
};

const Warnings = Type.Optional(
  Type.Array(Type.Object({ code: Type.String(), message: Type.String(), imports: Type.Array(Type.String()) }), {
    description: 'ext: present when a draft save (publish=false) imports libraries that do not exist yet; test and publish refuse the version until they do',
  }),
);

export const TransformationSchema = Type.Object(TransformationFields);
const SavedTransformationSchema = Type.Object({ ...TransformationFields, warnings: Warnings });
export const TransformationVersionSchema = Type.Object({ ...TransformationFields, isPublished: Type.Boolean({ description: 'ext' }) });

const Tags = ['transformations'];

const DESTINATION_IDS =
  "Only with publish=true (a destination runs the published version). Each must be a destination of the workspace's rudder-server configuration (PUT /workspaceConfig/base; else 400 naming it) that no other transformation is connected to (else 409 naming the holder)";

const Stats24h = Type.Object(
  { eventsIn: Type.Integer(), eventsOut: Type.Integer(), dropped: Type.Integer(), failed: Type.Integer(), errorRate: Type.Number() },
  { description: 'Live traffic of the last 24 hours, summed over every instance' },
);

export async function transformationRoutes(app: App): Promise<void> {
  const ctx = app.services.catalog;
  const { db } = ctx.store;

  app.post(
    '/transformations',
    {
      config: { auth: 'access' },
      schema: {
        summary: 'Create a transformation (compat)',
        description:
          'The code must compile as an ES module exporting exactly one of transformEvent or transformBatch, and every import must name a library of the workspace. With events, the code must run on them without error (against published libraries, else their latest versions), or nothing is saved.',
        tags: Tags,
        querystring: PublishQuery,
        body: Type.Object({
          name: NameField(MAX_NAME_CHARS),
          code: Type.String({ description: 'At most the configured code size (1 MiB by default)' }),
          description: Type.Optional(Description),
          language: Type.Optional(Language),
          events: Type.Optional(EventsSchema),
          destinationIds: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 1000, description: DESTINATION_IDS })),
        }),
        response: { 200: SavedTransformationSchema, ...errors(400, 401, 403, 409, 413, 415, 429, 503) },
      },
    },
    async (request) => createTransformation(ctx, workspaceIdOf(request), actorOf(request), request.body, { publish: request.query.publish ?? false, draft: request.query.publish === false }),
  );

  app.get(
    '/transformations',
    {
      config: { auth: 'access' },
      schema: {
        summary: 'List transformations (compat)',
        description: 'Every live transformation of the workspace at its latest version, oldest first. With include=stats, each carries stats24h: what live traffic did in the last 24 hours.',
        tags: Tags,
        querystring: Type.Object({ include: Type.Optional(Type.Literal('stats', { description: 'stats: add stats24h to each transformation' })) }),
        response: {
          200: Type.Object({ transformations: Type.Array(Type.Composite([TransformationSchema, Type.Object({ stats24h: Type.Optional(Stats24h) })])) }),
          ...errors(400, 401, 403, 429),
        },
      },
    },
    async (request) => {
      const workspaceId = workspaceIdOf(request);
      const transformations = await listTransformations(db, workspaceId);
      if (request.query.include !== 'stats') return { transformations };
      const summaries = await lastDaySummaries(db, workspaceId);
      const none = { eventsIn: 0, eventsOut: 0, dropped: 0, failed: 0, errorRate: 0 };
      return { transformations: transformations.map((t) => ({ ...t, stats24h: summaries.get(t.id) ?? none })) };
    },
  );

  app.get(
    '/transformations/:id',
    {
      config: { auth: 'access' },
      schema: {
        summary: 'Get a transformation at its latest version (compat)',
        tags: Tags,
        params: IdParams,
        response: { 200: TransformationSchema, ...errors(400, 401, 403, 404, 429) },
      },
    },
    async (request) => getTransformation(db, workspaceIdOf(request), request.params.id),
  );

  app.post(
    '/transformations/:id',
    {
      config: { auth: 'access' },
      schema: {
        summary: 'Update a transformation: save a new version (compat)',
        description: 'Fields left out keep their latest values. The language cannot change. Every call appends a new immutable version.',
        tags: Tags,
        params: IdParams,
        querystring: PublishQuery,
        body: Type.Object({
          name: Type.Optional(NameField(MAX_NAME_CHARS)),
          code: Type.Optional(Type.String()),
          description: Type.Optional(Description),
          language: Type.Optional(Language),
          events: Type.Optional(EventsSchema),
          destinationIds: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 1000, description: `${DESTINATION_IDS}; replaces the connected destinations ([] disconnects them all)` })),
        }),
        response: { 200: SavedTransformationSchema, ...errors(400, 401, 403, 404, 409, 413, 415, 429, 503) },
      },
    },
    async (request) => updateTransformation(ctx, workspaceIdOf(request), actorOf(request), request.params.id, request.body, { publish: request.query.publish ?? false, draft: request.query.publish === false }),
  );

  app.put(
    '/transformations/:id/destinations',
    {
      config: { auth: 'access' },
      schema: {
        summary: 'Connect a transformation to destinations, or disconnect it (ext)',
        description:
          "Needs the write scope. Sets the connected destinations to exactly destinationIds ([] disconnects them all) without saving a version: the destinations run the published version, so connecting an unpublished transformation answers 409. Unknown destination ids answer 400 and a destination connected to another transformation 409, as destinationIds on create and update do.",
        tags: Tags,
        params: IdParams,
        body: Type.Object({ destinationIds: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 1000, description: "Destinations of the workspace's rudder-server configuration" }) }),
        response: { 200: TransformationSchema, ...errors(400, 401, 403, 404, 409, 413, 415, 429) },
      },
    },
    async (request) => setTransformationDestinations(ctx, workspaceIdOf(request), actorOf(request), request.params.id, request.body.destinationIds),
  );

  app.delete(
    '/transformations/:id',
    {
      config: { auth: 'access' },
      schema: {
        summary: 'Delete a transformation (compat)',
        description: 'The id stops resolving; its versions are kept for audit and for pipelines that run them by version id. A transformation connected to destinations answers 409: disconnect it first.',
        tags: Tags,
        params: IdParams,
        response: { 200: SuccessTrue, ...errors(400, 401, 403, 404, 409, 429) },
      },
    },
    async (request) => {
      await deleteTransformation(ctx, workspaceIdOf(request), actorOf(request), request.params.id);
      return { success: true as const };
    },
  );

  app.get(
    '/transformations/:id/versions',
    {
      config: { auth: 'access' },
      schema: {
        summary: 'List versions of a transformation (compat)',
        tags: Tags,
        params: IdParams,
        querystring: VersionsQuery,
        response: { 200: Type.Object({ TransformationVersions: Type.Array(TransformationVersionSchema) }), ...errors(400, 401, 403, 404, 429) },
      },
    },
    async (request) => ({
      TransformationVersions: await listTransformationVersions(db, workspaceIdOf(request), request.params.id, versionsPage(request.query)),
    }),
  );

  app.get(
    '/transformations/:id/versions/:versionId',
    {
      config: { auth: 'access' },
      schema: {
        summary: 'Get one version of a transformation (compat)',
        tags: Tags,
        params: VersionParams,
        response: { 200: TransformationVersionSchema, ...errors(400, 401, 403, 404, 429) },
      },
    },
    async (request) => getTransformationVersion(db, workspaceIdOf(request), request.params.id, request.params.versionId),
  );
}
