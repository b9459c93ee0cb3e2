import { Type } from '@sinclair/typebox';
import { CREDENTIAL_KEY_RULE, MAX_CREDENTIALS_PER_WORKSPACE, createCredential, deleteCredential, getCredential, listCredentials, updateCredential } from '../../domain/credentials.js';
import type { App } from '../app.js';
import { actorOf, workspaceIdOf } from '../auth.js';
import { IdParams, errors } from '../schemas.js';

// ext: workspace credentials, read by user code with getCredential(key). A secret's value goes in
// and never comes out of this API again; the schemas below have no place to put one.

const CredentialSchema = Type.Object({
  id: Type.String(),
  key: Type.String({ description: 'What user code passes to getCredential' }),
  isSecret: Type.Boolean(),
  value: Type.Optional(Type.String({ description: 'Only for a non-secret; a secret\'s value is never answered, not even on create' })),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});

// The key rule and the value's byte size are checked by the domain, whose 400 says the rule in words.
const KeyField = Type.String({ description: `${CREDENTIAL_KEY_RULE}; unique in the workspace` });
const ValueField = Type.String({ description: 'At most 64 KiB as UTF-8; a workspace\'s values together at most 1 MiB' });

const Tags = ['credentials'];

export async function credentialRoutes(app: App): Promise<void> {
  const { credentials, store } = app.services;
  const ctx = credentials.context;

  app.post(
    '/credentials',
    {
      config: { auth: 'access' },
      schema: {
        summary: 'Create a workspace credential (ext)',
        description: `Needs the write scope. A secret (isSecret: true) is encrypted at rest and its value is never answered again, by any call. A key already in the workspace, or a workspace at ${MAX_CREDENTIALS_PER_WORKSPACE} credentials or 1 MiB of values, answers 409.`,
        tags: Tags,
        body: Type.Object({
          key: KeyField,
          value: ValueField,
          isSecret: Type.Optional(Type.Boolean({ description: 'Default false' })),
        }),
        response: { 201: CredentialSchema, ...errors(400, 401, 403, 409, 413, 415, 429) },
      },
    },
    async (request, reply) => {
      const created = await createCredential(ctx, workspaceIdOf(request), actorOf(request), request.body);
      return reply.code(201).send(created);
    },
  );

  app.get(
    '/credentials',
    {
      config: { auth: 'access' },
      schema: {
        summary: 'List workspace credentials (ext)',
        description: 'Every credential of the workspace, oldest first. Values of non-secrets only.',
        tags: Tags,
        response: { 200: Type.Object({ credentials: Type.Array(CredentialSchema) }), ...errors(401, 403, 429) },
      },
    },
    async (request) => ({ credentials: await listCredentials(store, workspaceIdOf(request)) }),
  );

  app.get(
    '/credentials/:id',
    {
      config: { auth: 'access' },
      schema: {
        summary: 'Get a workspace credential (ext)',
        tags: Tags,
        params: IdParams,
        response: { 200: CredentialSchema, ...errors(400, 401, 403, 404, 429) },
      },
    },
    async (request) => getCredential(store, workspaceIdOf(request), request.params.id),
  );

  app.patch(
    '/credentials/:id',
    {
      config: { auth: 'access' },
      schema: {
        summary: 'Replace a credential\'s value or change whether it is secret (ext)',
        description:
          'Needs the write scope. A secret can become a non-secret only with a new value (400 otherwise), because its value is never read back; a non-secret becomes a secret as it is. The key cannot change (400).',
        tags: Tags,
        params: IdParams,
        body: Type.Object({
          value: Type.Optional(ValueField),
          isSecret: Type.Optional(Type.Boolean()),
          key: Type.Optional(Type.String({ description: 'The current key, or left out: a credential\'s key cannot change' })),
        }),
        response: { 200: CredentialSchema, ...errors(400, 401, 403, 404, 409, 413, 415, 429) },
      },
    },
    async (request) => updateCredential(ctx, workspaceIdOf(request), actorOf(request), request.params.id, request.body),
  );

  app.delete(
    '/credentials/:id',
    {
      config: { auth: 'access' },
      schema: {
        summary: 'Delete a workspace credential (ext)',
        description: 'Needs the write scope. getCredential answers undefined for its key from then on.',
        tags: Tags,
        params: IdParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...errors(400, 401, 403, 404, 429) },
      },
    },
    async (request, reply) => {
      await deleteCredential(ctx, workspaceIdOf(request), actorOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );
}
