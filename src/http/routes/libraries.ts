import { Type } from '@sinclair/typebox';
import { createLibrary, deleteLibrary, getLibrary, getLibraryVersion, listLibraries, listLibraryVersions, updateLibrary } from '../../domain/libraries.js';
import { MAX_NAME_CHARS } from '../../domain/names.js';
import type { App } from '../app.js';
import { actorOf, workspaceIdOf } from '../auth.js';
import { Description, IdParams, Language, NameField, StoredLanguage, Nullable, PublishQuery, SuccessTrue, VersionParams, VersionsQuery, errors, versionsPage } from '../schemas.js';

const LibraryFields = {
  id: Type.String(),
  versionId: Type.String({ description: 'The version shown: the latest one for a library' }),
  name: Type.String(),
  description: Type.String(),
  code: Type.String(),
  language: StoredLanguage,
  importName: Type.String({ description: 'lodash-style camelCase of the name; transformations import the library by it' }),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  publishedVersionId: Nullable(Type.String({ description: 'ext: null until a version is published' })),
};

const LibrarySchema = Type.Object(LibraryFields);
const LibraryVersionSchema = Type.Object({ ...LibraryFields, isPublished: Type.Boolean({ description: 'ext' }) });

const Tags = ['libraries'];

export async function libraryRoutes(app: App): Promise<void> {
  const ctx = app.services.catalog;
  const { db } = ctx.store;

  app.post(
    '/libraries',
    {
      config: { auth: 'access' },
      schema: {
        summary: 'Create a library (compat)',
        description: 'The code must compile as an ES module and may not import other modules. Two libraries whose names give the same importName conflict (409).',
        tags: Tags,
        querystring: PublishQuery,
        body: Type.Object({
          name: NameField(MAX_NAME_CHARS, '; must give a non-empty importName'),
          code: Type.String({ description: 'At most the configured code size (1 MiB by default)' }),
          description: Type.Optional(Description),
          language: Type.Optional(Language),
        }),
        response: { 200: LibrarySchema, ...errors(400, 401, 403, 409, 413, 415, 429) },
      },
    },
    async (request) => createLibrary(ctx, workspaceIdOf(request), actorOf(request), request.body, { publish: request.query.publish ?? false }),
  );

  app.get(
    '/libraries',
    {
      config: { auth: 'access' },
      schema: {
        summary: 'List libraries (compat)',
        description: 'Every live library of the workspace at its latest version, oldest first.',
        tags: Tags,
        response: { 200: Type.Object({ libraries: Type.Array(LibrarySchema) }), ...errors(401, 403, 429) },
      },
    },
    async (request) => ({ libraries: await listLibraries(db, workspaceIdOf(request)) }),
  );

  app.get(
    '/libraries/:id',
    {
      config: { auth: 'access' },
      schema: {
        summary: 'Get a library at its latest version (compat)',
        tags: Tags,
        params: IdParams,
        response: { 200: LibrarySchema, ...errors(400, 401, 403, 404, 429) },
      },
    },
    async (request) => getLibrary(db, workspaceIdOf(request), request.params.id),
  );

  app.post(
    '/libraries/:id',
    {
      config: { auth: 'access' },
      schema: {
        summary: 'Update a library: save a new version (compat)',
        description: 'The name and language cannot change (400); a name equal to the current one is accepted. Fields left out keep their latest values.',
        tags: Tags,
        params: IdParams,
        querystring: PublishQuery,
        body: Type.Object({
          name: Type.Optional(Type.String({ description: 'The current name, or left out: a library\'s name cannot change' })),
          code: Type.Optional(Type.String()),
          description: Type.Optional(Description),
          language: Type.Optional(Language),
        }),
        response: { 200: LibrarySchema, ...errors(400, 401, 403, 404, 413, 415, 429) },
      },
    },
    async (request) => updateLibrary(ctx, workspaceIdOf(request), actorOf(request), request.params.id, request.body, { publish: request.query.publish ?? false }),
  );

  app.delete(
    '/libraries/:id',
    {
      config: { auth: 'access' },
      schema: {
        summary: 'Delete a library (compat)',
        description: 'Refused (409) while the latest or published version of any live transformation imports it. Versions are kept.',
        tags: Tags,
        params: IdParams,
        response: { 200: SuccessTrue, ...errors(400, 401, 403, 404, 409, 429) },
      },
    },
    async (request) => {
      await deleteLibrary(ctx, workspaceIdOf(request), actorOf(request), request.params.id);
      return { success: true as const };
    },
  );

  app.get(
    '/libraries/:id/versions',
    {
      config: { auth: 'access' },
      schema: {
        summary: 'List versions of a library (compat)',
        tags: Tags,
        params: IdParams,
        querystring: VersionsQuery,
        response: { 200: Type.Object({ libraryVersions: Type.Array(LibraryVersionSchema) }), ...errors(400, 401, 403, 404, 429) },
      },
    },
    async (request) => ({
      libraryVersions: await listLibraryVersions(db, workspaceIdOf(request), request.params.id, versionsPage(request.query)),
    }),
  );

  app.get(
    '/libraries/:id/versions/:versionId',
    {
      config: { auth: 'access' },
      schema: {
        summary: 'Get one version of a library (compat)',
        tags: Tags,
        params: VersionParams,
        response: { 200: LibraryVersionSchema, ...errors(400, 401, 403, 404, 429) },
      },
    },
    async (request) => getLibraryVersion(db, workspaceIdOf(request), request.params.id, request.params.versionId),
  );
}
