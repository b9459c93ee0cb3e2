import { Type } from '@sinclair/typebox';
import { MAX_GRACE_SECONDS, accessCacheKey, accessTokenStatus, deleteAccessTokensByName, describeAccessToken, type AccessTokenRecord, issueAccessToken, listAccessTokens, revokeAccessToken, rotateAccessToken, type IssuedToken } from '../../domain/access-tokens.js';
import { MAX_TOKEN_NAME_CHARS } from '../../domain/names.js';
import type { App } from '../app.js';
import { actorOf, principalOf, workspaceIdOf } from '../auth.js';
import { IdParams, NameField, SuccessTrue, errors } from '../schemas.js';

const Scope = Type.Union([Type.Literal('read'), Type.Literal('write')]);

// Nullable as a type list rather than anyOf: the serializer then checks a type instead of running
// a validator per field, which matters on GET /accessTokens/self (every CI check calls it).
// OpenAPI 3.0 output still says `nullable: true`.
const NullableString = (options: { format?: 'date-time'; description?: string } = {}) => Type.Unsafe<string | null>({ type: ['string', 'null'], ...options });

const AccessTokenEntry = Type.Object({
  name: Type.String(),
  description: Type.String({ description: 'Empty string when none' }),
  userId: Type.String(),
  id: Type.String({ description: 'ext' }),
  hint: Type.String({ description: 'ext: the prefix and last four characters; never the secret' }),
  scopes: Type.Array(Scope, { description: 'ext' }),
  createdAt: Type.String({ format: 'date-time', description: 'ext' }),
  expiresAt: NullableString({ format: 'date-time', description: 'ext' }),
  lastUsedAt: NullableString({ format: 'date-time', description: 'ext; written at most once a minute' }),
  lastUsedIp: NullableString({ description: 'ext' }),
  status: Type.Union([Type.Literal('active'), Type.Literal('expired'), Type.Literal('rotating')], { description: 'ext' }),
  graceUntil: NullableString({ format: 'date-time', description: 'ext: when a rotated secret (status rotating) stops working; null for one not rotated' }),
  allowedIps: Type.Unsafe<string[] | null>({ type: ['array', 'null'], items: { type: 'string' }, description: 'ext: CIDRs allowed to use the token, or null for any address' }),
  email: Type.String({ description: 'ext: the member the token is for' }),
});

const IssuedTokenBody = Type.Object({
  success: Type.Literal(true),
  data: Type.Object({
    token: Type.String({ description: 'The secret. Shown only in this response.' }),
    id: Type.String(),
    name: Type.String(),
    description: Type.String(),
    scopes: Type.Array(Scope),
    hint: Type.String(),
    createdAt: Type.String({ format: 'date-time' }),
    expiresAt: NullableString({ format: 'date-time' }),
    replaced: Type.Optional(
      Type.Object(
        { id: Type.String(), graceUntil: Type.String({ format: 'date-time', description: 'When the old secret stops working (now, for a zero grace period)' }) },
        { description: 'ext, rotations only: the secret this one replaced' },
      ),
    ),
  }),
});

function issuedBody(issued: IssuedToken) {
  const { view } = issued;
  return {
    success: true as const,
    data: {
      token: issued.token,
      id: view.id,
      name: view.name,
      description: view.description,
      scopes: view.scopes,
      hint: view.hint,
      createdAt: view.createdAt,
      expiresAt: view.expiresAt,
      ...(issued.replaced ? { replaced: issued.replaced } : {}),
    },
  };
}

/** GET /accessTokens/self answers, serialized, per verified credential (dropped with it). */
const selfAnswers = new WeakMap<AccessTokenRecord, { stamp: string; json: string }>();

export async function accessTokenRoutes(app: App): Promise<void> {
  const { store, config, verifier } = app.services;
  // The change was announced to every instance, but the announcement reaches this one only after
  // a round trip through the database: evict here at once so the next request already sees it.
  const forgetAccessTokens = (ids: string[]) => {
    for (const id of ids) verifier.evict(accessCacheKey(id));
  };

  app.post(
    '/accessTokens',
    {
      config: { auth: 'workspace' },
      schema: {
        summary: 'Generate an access token (compat)',
        description: 'Authenticate with Basic base64(<workspace token>:). The secret is in the answer once and never again.',
        tags: ['access tokens'],
        body: Type.Object({
          name: NameField(MAX_TOKEN_NAME_CHARS, '; names need not be unique'),
          description: Type.Optional(Type.String({ maxLength: 1000, description: 'At most 1000 characters' })),
          scopes: Type.Optional(Type.Array(Type.String({ maxLength: 16 }), { maxItems: 10, description: 'ext: subset of read, write (default both)' })),
          expiresAt: Type.Optional(Type.String({ maxLength: 64, description: 'ext: ISO-8601 date-time in the future; give this or expiresInDays' })),
          expiresInDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650, description: 'ext' })),
          allowedIps: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 100, description: 'ext: IPv4/IPv6 CIDRs allowed to use the token' })),
          email: Type.Optional(Type.String({ maxLength: 254, description: 'ext: the member the token is for (default: the workspace owner)' })),
        }),
        response: { 200: IssuedTokenBody, ...errors(400, 401, 413, 415, 429) },
      },
    },
    async (request) => issuedBody(await issueAccessToken(store, config.pepper, workspaceIdOf(request), actorOf(request), request.body)),
  );

  app.get(
    '/accessTokens',
    {
      config: { auth: 'workspace' },
      schema: {
        summary: 'List access tokens (compat)',
        description: 'A bare JSON array of the workspace\'s live tokens. Secrets are never listed.',
        tags: ['access tokens'],
        response: { 200: Type.Array(AccessTokenEntry), ...errors(401, 429) },
      },
    },
    async (request) => listAccessTokens(store, workspaceIdOf(request)),
  );

  app.delete(
    '/accessTokens',
    {
      config: { auth: 'workspace' },
      schema: {
        summary: 'Delete every access token with a name (compat)',
        tags: ['access tokens'],
        querystring: Type.Object({ name: Type.String({ minLength: 1, maxLength: 1000 }) }),
        response: { 200: Type.Object({ success: Type.Literal(true), deleted: Type.Integer({ description: 'ext: how many tokens were deleted' }) }), ...errors(400, 401, 404, 413, 415, 429) },
      },
    },
    async (request) => {
      const ids = await deleteAccessTokensByName(store, workspaceIdOf(request), actorOf(request), request.query.name);
      forgetAccessTokens(ids);
      return { success: true as const, deleted: ids.length };
    },
  );

  app.get(
    '/accessTokens/self',
    {
      config: { auth: 'access', scope: 'read' },
      schema: {
        summary: 'The calling access token\'s own metadata (ext)',
        description: 'Lets CI check a token without side effects.',
        tags: ['access tokens'],
        response: { 200: AccessTokenEntry, ...errors(401, 403, 429) },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      if (principal.kind !== 'access') throw new Error('unreachable: access policy');
      // The verifier just read (or cached, and keeps current) this very token: no second lookup.
      // CI polls this call, so its answer is kept serialized per credential and rebuilt only when
      // a field that can change (status, last use) has changed.
      const record = principal.record;
      const stamp = `${accessTokenStatus(record)}|${record.last_used_at}|${record.last_used_ip}`;
      let answer = selfAnswers.get(record);
      if (answer?.stamp !== stamp) selfAnswers.set(record, (answer = { stamp, json: reply.serialize(describeAccessToken(record)) as string }));
      // A string with a JSON content type is sent as it is (the type provider expects the object).
      return reply.type('application/json; charset=utf-8').send(answer.json as never);
    },
  );

  app.delete(
    '/accessTokens/:id',
    {
      config: { auth: 'workspace' },
      schema: {
        summary: 'Revoke one access token (ext)',
        description: 'Also revokes every secret of its rotation chain whose grace period has not ended (the secrets it replaced, and those that replaced it).',
        tags: ['access tokens'],
        params: IdParams,
        response: { 200: SuccessTrue, ...errors(401, 404, 429) },
      },
    },
    async (request) => {
      // The token, and the secrets of its rotation chain still in grace.
      forgetAccessTokens(await revokeAccessToken(store, workspaceIdOf(request), actorOf(request), request.params.id));
      return { success: true as const };
    },
  );

  app.post(
    '/accessTokens/:id/rotate',
    {
      config: { auth: 'workspace' },
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
      schema: {
        summary: 'Rotate an access token (ext)',
        description: 'Issues a new secret with the same name, scopes and expiry. The old secret keeps working during the grace period only.',
        tags: ['access tokens'],
        params: IdParams,
        body: Type.Object({ gracePeriodSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_GRACE_SECONDS, default: 0 })) }),
        response: { 200: IssuedTokenBody, ...errors(400, 401, 404, 409, 413, 415, 429) },
      },
    },
    async (request) => {
      const issued = await rotateAccessToken(store, config.pepper, workspaceIdOf(request), actorOf(request), request.params.id, request.body.gracePeriodSeconds ?? 0);
      forgetAccessTokens([request.params.id]);
      return issuedBody(issued);
    },
  );
}
