import { Type } from '@sinclair/typebox';
import { testInlineCode } from '../../domain/publish/inline-test.js';
import { publishVersions } from '../../domain/publish/publish.js';
import { compatTestResult, testSuiteResult } from '../../domain/publish/test-answers.js';
import { testVersions } from '../../domain/publish/version-tests.js';
import type { App } from '../app.js';
import { actorOf, callerMayWrite, workspaceIdOf } from '../auth.js';
import { parseEventBodies } from '../event-bodies.js';
import { EventsSchema, LanguageField, Nullable, RequestCredentials, errors } from '../schemas.js';

const VersionId = Type.String({ minLength: 1, maxLength: 64 });

const TestCase = Type.Object({
  id: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Number()])),
  name: Type.Optional(Type.String({ maxLength: 200 })),
  description: Type.Optional(Type.String({ maxLength: 2000 })),
  input: EventsSchema,
  expectedOutput: Type.Optional(Type.Array(Type.Unknown(), { description: 'Compared with the output events by deep equality (key order does not matter)' })),
});

const TestBody = Type.Object({
  transformations: Type.Optional(
    Type.Array(
      Type.Object({
        versionId: VersionId,
        testInput: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }), { maxItems: 10_000, description: 'Plain events (the message), as CI actions send them' })),
        testSuite: Type.Optional(Type.Array(TestCase, { maxItems: 100 })),
      }),
      { maxItems: 100, description: 'Transformation versions to test; without testInput or testSuite, a sample track event is used' },
    ),
  ),
  libraries: Type.Optional(Type.Array(Type.Object({ versionId: VersionId }), { maxItems: 100, description: 'Library versions to link (and publish); other imports use the published versions' })),
  commitId: Type.Optional(Nullable(Type.String({ maxLength: 200, description: 'Recorded in the audit log' }))),
});

const EventError = Type.Object({
  index: Type.Optional(Type.Integer({ description: 'Input index of the failed event; absent for a whole-batch failure' })),
  code: Type.Optional(Type.String({ description: 'Whole-batch failures: cpu_limit, wall_limit, memory_limit, code_error, batch_error, link_error, unknown_import, unpublished_import, output_mismatch, ...' })),
  message: Type.String(),
});

const Logs = Type.Array(Type.String());
const OutputEvents = Type.Array(Type.Unknown());

const CompatFailure = Type.Object({
  id: Type.String({ description: 'The transformation id' }),
  name: Type.String(),
  transformerVersionID: Type.String({ description: 'ext' }),
  result: Type.Object({
    message: Type.String(),
    errors: Type.Array(Type.Object({ ...EventError.properties, caseId: Type.Union([Type.String(), Type.Number()]) })),
    logs: Logs,
    output: Type.Object({ transformedEvents: OutputEvents }),
  }),
});

const CompatTestAnswer = Type.Object({
  result: Type.Object({
    successTestResults: Type.Array(
      Type.Object({
        transformerVersionID: Type.String(),
        id: Type.String({ description: 'ext: the transformation id' }),
        name: Type.String({ description: 'ext' }),
        result: Type.Object({
          output: Type.Object({ transformedEvents: OutputEvents, dropped: Type.Array(Type.Integer(), { description: 'ext: input indexes the code dropped' }) }),
          logs: Logs,
        }),
      }),
    ),
    failedTestResults: Type.Array(CompatFailure),
  }),
});

const Status = Type.Union([Type.Literal('passed'), Type.Literal('failed')]);

const SuiteAnswer = Type.Object({
  pass: Type.Boolean(),
  validationOutput: Type.Object({
    transformations: Type.Array(
      Type.Object({
        id: Type.String(),
        name: Type.String(),
        versionId: Type.String(),
        pass: Type.Boolean(),
        testResult: Type.Object({
          status: Status,
          results: Type.Array(
            Type.Object({
              id: Type.Union([Type.String(), Type.Number()]),
              name: Type.String(),
              status: Status,
              actualOutput: Type.Optional(OutputEvents),
              expectedOutput: Type.Optional(OutputEvents),
              errors: Type.Optional(Type.Array(EventError)),
              dropped: Type.Array(Type.Integer(), { description: 'ext' }),
              logs: Type.Array(Type.String(), { description: 'ext' }),
            }),
          ),
        }),
      }),
    ),
    libraries: Type.Array(Type.Object({ id: Type.String(), name: Type.String(), handleName: Type.String(), versionId: Type.String(), pass: Type.Boolean() })),
  }),
});

const InlineAnswer = Type.Object({
  results: Type.Array(
    Type.Object({
      index: Type.Integer(),
      statusCode: Type.Integer(),
      output: Type.Optional(Type.Unknown()),
      error: Type.Optional(Type.String()),
    }),
  ),
  dropped: Type.Array(Type.Integer()),
  logs: Logs,
});

const PUBLISH_PATHS = ['/transformations/libraries/publish', '/libraries/publish', '/transformations/publish'];
const Tags = ['publish and test'];

export async function publishRoutes(app: App): Promise<void> {
  const ctx = app.services.catalog;
  // Every route here carries test events, which may hold any key a real event does.
  parseEventBodies(app);

  for (const path of PUBLISH_PATHS) {
    app.post(
      path,
      {
        config: { auth: 'access' },
        schema: {
          summary: `Publish transformation and library versions (compat)${path === PUBLISH_PATHS[0] ? '' : '; same as /transformations/libraries/publish'}`,
          description:
            'Runs every listed transformation version on its test input and test suite (or a sample track event) against the listed library versions, else the published ones; an import whose library has neither a listed nor a published version fails the test (unpublished_import). If any test fails, nothing is published (400 test_failed with failedTestResults). Otherwise every listed version is published in one transaction. Publishing an older version id rolls back. Unknown version ids, or versions of deleted transformations or libraries, answer 404 naming them; two versions of one transformation or library answer 400.',
          tags: Tags,
          body: TestBody,
          response: { 200: Type.Object({ published: Type.Literal(true) }), ...errors(400, 401, 403, 404, 413, 415, 429, 503) },
        },
      },
      async (request) => {
        await publishVersions(ctx, workspaceIdOf(request), actorOf(request), request.body);
        return { published: true as const };
      },
    );
  }

  app.post(
    '/transformations/libraries/test',
    {
      config: { auth: 'access', scope: 'read' },
      schema: {
        summary: 'Test transformation and library versions (compat)',
        description:
          'Same body as publish; nothing is saved or published. Imports link the listed library versions, else the published ones, else (for a library never published) the latest. Failed tests are reported in failedTestResults with status 200; transformedEvents are the output events, in order. Unknown version ids answer 404 naming them.',
        tags: Tags,
        body: TestBody,
        response: { 200: CompatTestAnswer, ...errors(400, 401, 403, 404, 413, 415, 429, 503) },
      },
    },
    async (request) => compatTestResult(await testVersions(ctx, workspaceIdOf(request), request.body)),
  );

  app.post(
    '/transformations/tests/run',
    {
      config: { auth: 'access', scope: 'read' },
      schema: {
        summary: 'Run test suites of transformation versions (compat)',
        description:
          'Each case runs its input; with expectedOutput the output events must equal it (deep equality; key order does not matter). testInput, when given, runs as a case of its own; a transformation with neither runs the sample track event. Libraries link as in /transformations/libraries/test. Nothing is saved.',
        tags: Tags,
        body: TestBody,
        response: { 200: SuiteAnswer, ...errors(400, 401, 403, 404, 413, 415, 429, 503) },
      },
    },
    async (request) => testSuiteResult(await testVersions(ctx, workspaceIdOf(request), request.body)),
  );

  app.post(
    '/transformations/test',
    {
      config: { auth: 'access', scope: 'read' },
      schema: {
        summary: 'Run unsaved code on events (ext)',
        description:
          'Runs `code` (in `language`, default javascript) on `events` (a sample track event when absent; none with `events: []`, which only compiles and links), linking the given library versions or unsaved library code and, for other imports, the published (else latest) library versions. Nothing is saved. Answers like the run endpoints: per-event outcomes with the logs, or 400 with the error code and logs when the whole batch failed (a limit was hit, transformBatch threw).',
        tags: Tags,
        body: Type.Object({
          code: Type.String(),
          language: Type.Optional(LanguageField(' Unsaved libraries in `libraries` are in the same language; linked saved libraries must be too (else 400 library_language_mismatch).')),
          libraries: Type.Optional(
            Type.Array(
              Type.Union([
                VersionId,
                Type.Object({ versionId: VersionId }),
                Type.Object(
                  { name: Type.String({ minLength: 1, maxLength: 200 }), code: Type.String(), importName: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) },
                  { description: 'Unsaved library code, checked and linked by importName (default: derived from name, as on save)' },
                ),
              ]),
              { maxItems: 100, description: 'Libraries to link: version ids (strings or { versionId }), or unsaved { name, code }, which wins over a saved library of the same import name' },
            ),
          ),
          events: Type.Optional(EventsSchema),
          metadata: Type.Optional(Type.Array(Type.Object({}, { additionalProperties: true }), { maxItems: 10_000, description: 'metadata[i] is what metadata(events[i]) returns' })),
          name: Type.Optional(Type.String({ maxLength: 200, description: 'The name error frames show for this code: `at transformEvent (<name>:3:11)` (default "transformation")' })),
          credentials: Type.Optional(RequestCredentials),
        }),
        response: { 200: InlineAnswer, ...errors(400, 401, 403, 404, 413, 415, 429, 503) },
      },
    },
    async (request) => testInlineCode(ctx, workspaceIdOf(request), request.body, { mayWrite: callerMayWrite(request) }),
  );
}
