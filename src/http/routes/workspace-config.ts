import { Type } from '@sinclair/typebox';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '../../domain/errors.js';
import { MAX_WORKSPACE_CONFIG_BYTES, exportWorkspaceConfig, importWorkspaceConfig, summarizeWorkspaceConfig } from '../../domain/workspace-config.js';
import type { App } from '../app.js';
import { actorOf, workspaceIdOf } from '../auth.js';
import { handleError } from '../errors.js';
import { Nullable, StoredLanguage, errors } from '../schemas.js';

// ext (spec section 8): the control plane of a self-hosted rudder-server. A workspace holds the
// ConfigT that rudder-server would read from its file in file mode; rudder-server, pointed at
// Tiller with CONFIG_BACKEND_URL and the workspace token, polls it with Tiller's parts filled in.

const Open = { additionalProperties: true } as const;

const TransformationEntry = Type.Object(
  {
    id: Type.String({ description: 'The transformation id' }),
    versionId: Type.String({ description: 'Its published version: what rudder-server sends as destination.Transformations[0].VersionID' }),
    config: Type.Object({}, { ...Open, description: 'Always {} here' }),
    language: StoredLanguage,
  },
  Open,
);

const Destination = Type.Object(
  {
    id: Type.String(),
    name: Type.Optional(Type.String()),
    enabled: Type.Optional(Type.Boolean()),
    config: Type.Optional(Type.Object({}, Open)),
    destinationDefinition: Type.Optional(Type.Object({}, Open)),
    isProcessorEnabled: Type.Optional(Type.Boolean()),
    transformations: Type.Optional(Type.Array(TransformationEntry, { description: 'Served: the connected transformation, else []. Imported: kept as given, not served.' })),
  },
  Open,
);

const Source = Type.Object(
  {
    id: Type.String(),
    name: Type.Optional(Type.String()),
    writeKey: Type.Optional(Type.String()),
    enabled: Type.Optional(Type.Boolean()),
    config: Type.Optional(Type.Object({}, Open)),
    sourceDefinition: Type.Optional(Type.Object({}, Open)),
    destinations: Type.Optional(Type.Array(Destination)),
  },
  Open,
);

/** What an import is checked against first; the domain checks the rest and names the path of a fault. */
const ImportBody = Type.Object(
  { sources: Type.Array(Type.Unknown(), { description: 'Each { id, name, writeKey, enabled, sourceDefinition, config, destinations: [ { id, name, enabled, config, destinationDefinition, ... } ] }' }) },
  { ...Open, description: 'rudder-server\'s ConfigT, as its workspaceConfig.json in file mode: every field is kept as given' },
);

const BaseConfig = Type.Object({ sources: Type.Array(Source) }, { ...Open, description: 'The configuration exactly as imported' });

const ServedConfigSchema = Type.Object(
  {
    workspaceId: Type.String({ description: "Tiller's workspace id (whatever the import said)" }),
    sources: Type.Array(Source),
    libraries: Type.Array(Type.Object({ versionId: Type.String() }), { description: 'The published version of every library the published transformations import' }),
    credentials: Type.Record(Type.String(), Type.Object({ key: Type.String(), value: Type.String(), isSecret: Type.Boolean() }), {
      description: 'The workspace credentials by key, secrets included: rudder-server hands them to user code',
    }),
    updatedAt: Type.String({ format: 'date-time', description: 'Moves on every change of the configuration, a publish, a connection or a credential' }),
  },
  { ...Open, description: 'The imported ConfigT with Tiller\'s parts filled in' },
);

const ImportSummary = Type.Object({
  success: Type.Literal(true),
  sources: Type.Integer(),
  destinations: Type.Integer({ description: 'Distinct destination ids' }),
  bytes: Type.Integer({ description: 'Size of the stored configuration' }),
  importedAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});

const EntrySummary = {
  id: Type.String(),
  name: Nullable(Type.String()),
  enabled: Nullable(Type.Boolean({ description: 'null when the configuration does not say' })),
  type: Nullable(Type.String({ description: "The definition's displayName, else its name" })),
};

const SummarySchema = Type.Object({
  sources: Type.Array(
    Type.Object({
      ...EntrySummary,
      destinations: Type.Array(Type.Object({ ...EntrySummary, transformationId: Nullable(Type.String({ description: 'The transformation connected to it, if any' })) })),
    }),
  ),
  importedAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time', description: 'As /workspaceConfig answers it' }),
});

const PollQuery = Type.Object({
  fetchAll: Type.Optional(Type.String({ description: 'rudder-server sends true; the answer is the whole configuration either way' })),
  region: Type.Optional(Type.String({ maxLength: 100, description: 'Sent by some rudder-server setups; ignored' })),
});

const Tags = ['workspace config'];

/** Whether If-None-Match names `etag` (a list, weak tags and * included, as RFC 9110 says). */
function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(',').some((tag) => {
    const trimmed = tag.trim();
    return trimmed === '*' || trimmed.replace(/^W\//, '') === etag;
  });
}

/** Sends JSON already serialized (stored or cached as text), past the response serializer. */
function sendJsonText(reply: FastifyReply, text: string): FastifyReply {
  return reply.type('application/json; charset=utf-8').send(text);
}

/**
 * A non-200 makes rudder-server keep its previous configuration, so a failure that is not the
 * request's fault (the store away) answers an honest 503 with Retry-After rather than a 500.
 */
function pollErrors(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error instanceof DomainError) return handleError(error, request, reply);
  const status = (error as FastifyError).statusCode;
  if ((error as FastifyError).validation || (status !== undefined && status >= 400 && status < 500)) return handleError(error, request, reply);
  return handleError(new DomainError('unavailable', 'unavailable', 'the configuration could not be read for now; try again', undefined, 1, error), request, reply);
}

export async function workspaceConfigRoutes(app: App): Promise<void> {
  const { store, workspaceConfigs } = app.services;

  app.put(
    '/workspaceConfig/base',
    {
      config: { auth: 'workspace' },
      bodyLimit: MAX_WORKSPACE_CONFIG_BYTES,
      schema: {
        summary: "Import the workspace's rudder-server configuration (ext)",
        description: `Workspace token. The body is the JSON file rudder-server reads in file mode (ConfigT: sources with their destinations, and the rest), at most ${MAX_WORKSPACE_CONFIG_BYTES / 1024 / 1024} MiB; it replaces the workspace's configuration whole. A fault answers 400 naming its path (e.g. "sources[2].destinations[0].id is required"); a source id twice, or a destination id twice in one source, is refused (the same destination id under two sources is one destination connected to both). A configuration that leaves out a destination a transformation is connected to answers 409. libraries, credentials, updatedAt and the destinations' transformations are kept for export but served from Tiller's own state.`,
        tags: Tags,
        body: ImportBody,
        response: { 200: ImportSummary, ...errors(400, 401, 409, 413, 415, 429) },
      },
    },
    async (request) => ({ success: true as const, ...(await importWorkspaceConfig(workspaceConfigs.context, workspaceIdOf(request), actorOf(request), request.body)) }),
  );

  app.get(
    '/workspaceConfig/base',
    {
      config: { auth: 'workspace' },
      schema: {
        summary: "Export the workspace's rudder-server configuration as imported (ext)",
        description: 'Workspace token. The last import, unchanged (destination configs included, which may hold API keys). 404 until one is imported.',
        tags: Tags,
        response: { 200: BaseConfig, ...errors(401, 404, 429) },
      },
    },
    async (request, reply) => {
      const text = await exportWorkspaceConfig(store, workspaceIdOf(request));
      reply.header('Cache-Control', 'no-store');
      return sendJsonText(reply, text);
    },
  );

  app.get(
    '/workspaceConfig/sources',
    {
      config: { auth: 'any' },
      schema: {
        summary: "The configuration's sources and destinations, without their configs (ext)",
        description:
          'Workspace token, or an access token with the read scope. Names, ids, enabled and type of every source and destination, and the transformation connected to each destination: what the dashboard lists. Configs, which may hold API keys, are left out. 404 until a configuration is imported.',
        tags: Tags,
        response: { 200: SummarySchema, ...errors(401, 403, 404, 429) },
      },
    },
    async (request) => summarizeWorkspaceConfig(store, workspaceIdOf(request)),
  );

  app.get(
    '/workspaceConfig',
    {
      config: { auth: 'workspace' },
      errorHandler: pollErrors,
      schema: {
        summary: "The configuration rudder-server polls (ext, rudder-server's config-backend call)",
        description:
          "What rudder-server's single-workspace mode reads every 5 s from CONFIG_BACKEND_URL with Basic base64(<workspace token>:): the imported ConfigT, each destination's transformations set to its connected transformation's published version ([] when none), the libraries those transformations import, the workspace's credentials and updatedAt. Served from memory with an ETag; If-None-Match with it answers 304. 404 until a configuration is imported; 503 when the store does not answer (rudder-server keeps its previous configuration on any non-200).",
        tags: Tags,
        querystring: PollQuery,
        response: { 200: ServedConfigSchema, 304: Type.Null({ description: 'Not modified: If-None-Match named the current ETag' }), ...errors(401, 404, 429, 503) },
      },
    },
    async (request, reply) => {
      const served = await workspaceConfigs.get(workspaceIdOf(request));
      // no-cache: a proxy may keep it, but must ask again each time (a publish changes it).
      reply.header('ETag', served.etag).header('Cache-Control', 'private, no-cache');
      // Nothing at all, not the JSON null the schema's type asks for: a 304 carries no body.
      if (matches(request.headers['if-none-match'], served.etag)) return reply.code(304).send(undefined as unknown as null);
      return sendJsonText(reply, served.body);
    },
  );
}
