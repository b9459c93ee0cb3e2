import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { notFound } from '../../domain/errors.js';
import type { App } from '../app.js';
import { errors } from '../schemas.js';

// What an external rudder-transformer fetches from its config backend (CONFIG_BACKEND_URL): a
// transformation's code by version id, then each imported library's code by version id. Versions
// are immutable and served from the same in-memory cache as live traffic.

const VersionQuery = Type.Object({ versionId: Type.Optional(Type.String({ maxLength: 200, description: 'The version id (required)' })) });

/** The 400 body rudder-transformer's config backend answers; `error` is a string here, unlike the envelope. */
const MissingVersionId = Type.Object(
  {
    success: Type.Literal(false),
    error: Type.Literal('versionId is required'),
    code: Type.Literal('missing_field'),
    requestId: Type.String(),
  },
  { description: 'versionId is missing or empty (compat body: `error` is the message itself)' },
);

const TransformationCode = Type.Object({
  id: Type.String({ description: 'The transformation id' }),
  versionId: Type.String(),
  name: Type.String(),
  description: Type.String({ description: 'ext' }),
  code: Type.String(),
  codeVersion: Type.String({ description: 'Always "1"' }),
  language: Type.String(),
  workspaceId: Type.String(),
  imports: Type.Array(Type.String(), { description: 'Import names of the libraries the code uses' }),
  createdAt: Type.String({ format: 'date-time', description: 'ext: when this version was created' }),
});

const LibraryCode = Type.Object({
  id: Type.String({ description: 'The library id' }),
  versionId: Type.String(),
  name: Type.String(),
  importName: Type.String({ description: 'What transformations import it as (lodash camelCase of name)' }),
  description: Type.String({ description: 'ext' }),
  code: Type.String(),
  language: Type.String(),
  workspaceId: Type.String({ description: 'ext' }),
  createdAt: Type.String({ format: 'date-time', description: 'ext: when this version was created' }),
});

/** The version id a request names, or undefined after answering the compat 400. */
function requiredVersionId(given: string | undefined, reply: FastifyReply): string | undefined {
  const versionId = given?.trim();
  if (versionId) return versionId;
  void reply
    .code(400)
    .type('application/json; charset=utf-8')
    .send(JSON.stringify({ success: false, error: 'versionId is required', code: 'missing_field', requestId: reply.request.id }));
  return undefined;
}

/** With a credential only its own workspace's versions exist; without one (open runtime surface) every version does. */
function visible(request: FastifyRequest, workspaceId: string): boolean {
  return request.principal === null || request.principal.workspaceId === workspaceId;
}

// Immutable content, but per credential: caches may keep it privately.
const IMMUTABLE = 'private, max-age=86400, immutable';

export async function configBackendRoutes(app: App): Promise<void> {
  const { resolver } = app.services;

  app.get(
    '/transformation/getByVersionId',
    {
      config: { auth: 'runtime' },
      schema: {
        summary: 'A transformation version\'s code, for an external rudder-transformer (compat)',
        description: 'Authenticate with Basic base64(<workspace or access token>:); only the credential\'s workspace is visible. No credentials are needed on the runtime listener.',
        tags: ['config backend'],
        querystring: VersionQuery,
        response: { 200: TransformationCode, 400: MissingVersionId, ...errors(401, 404, 429) },
      },
    },
    async (request, reply) => {
      const versionId = requiredVersionId(request.query.versionId, reply);
      if (versionId === undefined) return reply;
      const version = await resolver.transformation(versionId);
      if (!version || !visible(request, version.workspaceId)) throw notFound('transformation version');
      reply.header('Cache-Control', IMMUTABLE);
      return {
        id: version.transformationId,
        versionId: version.versionId,
        name: version.name,
        description: version.description,
        code: version.code,
        codeVersion: version.codeVersion,
        language: version.language,
        workspaceId: version.workspaceId,
        imports: version.imports,
        createdAt: version.createdAt,
      };
    },
  );

  app.get(
    '/transformationLibrary/getByVersionId',
    {
      config: { auth: 'runtime' },
      schema: {
        summary: 'A library version\'s code, for an external rudder-transformer (compat)',
        description: 'Authenticate as for /transformation/getByVersionId.',
        tags: ['config backend'],
        querystring: VersionQuery,
        response: { 200: LibraryCode, 400: MissingVersionId, ...errors(401, 404, 429) },
      },
    },
    async (request, reply) => {
      const versionId = requiredVersionId(request.query.versionId, reply);
      if (versionId === undefined) return reply;
      const library = await resolver.library(versionId);
      if (!library || !visible(request, library.workspaceId)) throw notFound('library version');
      reply.header('Cache-Control', IMMUTABLE);
      return {
        id: library.libraryId,
        versionId: library.versionId,
        name: library.name,
        importName: library.importName,
        description: library.description,
        code: library.code,
        language: library.language,
        workspaceId: library.workspaceId,
        createdAt: library.createdAt,
      };
    },
  );
}
