import { Type } from '@sinclair/typebox';
import type { FastifyError, FastifyReply, FastifyRequest, onSendHookHandler } from 'fastify';
import { DomainError, notFound } from '../../domain/errors.js';
import type { App } from '../app.js';
import { handleError } from '../errors.js';
import { StoredLanguage, errors } from '../schemas.js';

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
  language: StoredLanguage,
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
  language: StoredLanguage,
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

// How an external rudder-transformer reads these answers (its responseStatusHandler): 200 is the
// code; 401 and 403 make it answer rudder-server 503 with X-Rudder-Should-Retry (its own
// misconfiguration, retried until fixed); any status from 500 up makes it ask rudder-server to retry
// the request; every other status, 404 and 429 included, fails each event of the group for good.
// So a failure that will clear must be a 5xx here, never a 429, and says when to try again.

/** A store lookup that failed: 503 with Retry-After, which rudder-transformer retries. */
async function fromStore<T>(lookup: () => Promise<T>, what: string): Promise<T> {
  try {
    return await lookup();
  } catch (error) {
    throw new DomainError('unavailable', 'store_unavailable', `the store did not answer while looking up the ${what}; try again`, undefined, 1, error);
  }
}

/**
 * The failed-authentication throttle answers 429, which rudder-transformer would turn into a
 * permanent failure of every event: here it answers 503 instead, its Retry-After and body kept.
 * Wrong or missing secrets below the throttle's limit stay 401.
 */
const noThrottle429: onSendHookHandler = (_request, reply, payload, done) => {
  if (reply.statusCode === 429) {
    reply.code(503);
    if (!reply.hasHeader('Retry-After')) reply.header('Retry-After', '1');
    reply.header('X-Rudder-Should-Retry', 'true');
    reply.header('X-Rudder-Error-Reason', 'too_many_requests');
  }
  done(null, payload);
};

/**
 * Errors of these routes: a failure that is not the request's fault (a store lookup while checking
 * the credential, say) answers 503 with Retry-After instead of 500; the rest as everywhere.
 */
function configBackendErrors(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error instanceof DomainError) return handleError(error, request, reply);
  const status = (error as FastifyError).statusCode;
  if ((error as FastifyError).validation || (status !== undefined && status >= 400 && status < 500)) return handleError(error, request, reply);
  return handleError(new DomainError('unavailable', 'unavailable', 'the server could not answer this lookup for now; try again', undefined, 1, error), request, reply);
}

export async function configBackendRoutes(app: App): Promise<void> {
  const { resolver } = app.services;

  app.get(
    '/transformation/getByVersionId',
    {
      config: { auth: 'runtime' },
      onSend: noThrottle429,
      errorHandler: configBackendErrors,
      schema: {
        summary: 'A transformation version\'s code, for an external rudder-transformer (compat)',
        description:
          'Authenticate with Basic base64(<workspace or access token>:); only the credential\'s workspace is visible. No credentials are needed on the runtime listener. A store that does not answer, and an address throttled for failed authentications, answer 503 with Retry-After (never 429, which rudder-transformer would turn into a permanent failure of every event); a wrong secret answers 401, an unknown version 404.',
        tags: ['config backend'],
        querystring: VersionQuery,
        response: { 200: TransformationCode, 400: MissingVersionId, ...errors(401, 404, 503) },
      },
    },
    async (request, reply) => {
      const versionId = requiredVersionId(request.query.versionId, reply);
      if (versionId === undefined) return reply;
      const version = await fromStore(() => resolver.transformation(versionId), 'transformation version');
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
      onSend: noThrottle429,
      errorHandler: configBackendErrors,
      schema: {
        summary: 'A library version\'s code, for an external rudder-transformer (compat)',
        description: 'Authenticate as for /transformation/getByVersionId.',
        tags: ['config backend'],
        querystring: VersionQuery,
        response: { 200: LibraryCode, 400: MissingVersionId, ...errors(401, 404, 503) },
      },
    },
    async (request, reply) => {
      const versionId = requiredVersionId(request.query.versionId, reply);
      if (versionId === undefined) return reply;
      const library = await fromStore(() => resolver.library(versionId), 'library version');
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
