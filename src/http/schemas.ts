import { Type, type TSchema } from '@sinclair/typebox';

// The shared-schema module: every schema more than one route file uses (a schema only one file
// uses stays in that file), the error envelope and the error responses a route declares.

export const ErrorEnvelope = Type.Object(
  {
    success: Type.Literal(false),
    error: Type.Object({ code: Type.String(), message: Type.String() }, { additionalProperties: true }),
    requestId: Type.String(),
  },
  { description: 'Every non-2xx answer has this body.' },
);

const errorDescriptions: Record<number, string> = {
  400: 'Malformed JSON, a missing or invalid field, or code that does not compile',
  401: 'No valid credentials',
  403: 'The credential is valid but its scopes do not allow this call',
  404: 'No such resource in the caller\'s workspace',
  409: 'The call conflicts with the current state',
  413: 'Body over the configured limit',
  415: 'Body is not application/json',
  297: 'Mirror only: the batch\'s code makes outbound calls, which a mirror run does not make; rudder-server leaves it uncompared',
  429: 'Too many failed authentication attempts; see Retry-After',
  501: 'A call of rudder-server that Tiller does not serve; the message names the setting that stops it',
  503: 'Not available for now (the store, a sandbox process or the runtime is busy or down); try again later',
};

/** Response schemas for the error codes a route can answer. */
export function errors(...codes: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {};
  for (const code of codes) out[code] = { ...ErrorEnvelope, description: errorDescriptions[code] ?? 'Error' };
  return out;
}

export const SuccessTrue = Type.Object({ success: Type.Literal(true) });
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/**
 * A user-supplied name (token, transformation, library). No maxLength: the one name rule in
 * src/domain/names.ts counts characters after trimming and answers every kind of bad name with the
 * same error, which a schema limit on the untrimmed text would pre-empt with another.
 */
export const NameField = (maxChars: number, more = '') =>
  Type.String({ description: `1 to ${maxChars} characters after trimming, printable Unicode without control or format characters${more}` });

/** The description field of a transformation or library body. */
export const Description = Nullable(Type.String({ description: 'At most 5000 characters; null means none' }));
/**
 * A language on input: checked by the domain (src/domain/code-checks.ts), so that an unsupported
 * value answers 400 unsupported_language rather than a schema error.
 */
export const LanguageField = (more = '') =>
  Type.String({
    maxLength: 100,
    description: `"javascript" (the default) or "pythonfaas" (Python; "python" is accepted as an alias and stored and answered as "pythonfaas"). Other values answer 400 unsupported_language.${more}`,
    examples: ['javascript', 'pythonfaas'],
  });
export const Language = LanguageField();

/** A stored language, as answers carry it. */
export const StoredLanguage = Type.String({ description: '"javascript" or "pythonfaas"', examples: ['javascript', 'pythonfaas'] });

/** An analytics event as clients send it; any properties, kept as given. */
export const EventSchema = Type.Object({}, { additionalProperties: true, description: 'An event (the message), e.g. a track call' });
export const EventsSchema = Type.Array(EventSchema, { maxItems: 10_000 });

/** Credentials sent with a run, in rudder-server's shape; getCredential(key) reads them. */
export const RequestCredentials = Type.Array(
  Type.Object(
    {
      id: Type.Optional(Type.String({ maxLength: 100 })),
      key: Type.String({ minLength: 1, maxLength: 100 }),
      value: Type.String({ maxLength: 65_536 }),
      isSecret: Type.Optional(Type.Boolean()),
    },
    { additionalProperties: true },
  ),
  { maxItems: 1000, description: "What getCredential(key) returns in this run, over the workspace's own credentials (the same key: this one wins)" },
);

export const PublishQuery = Type.Object({
  publish: Type.Optional(
    Type.Boolean({
      description:
        'true publishes the new version right away (after the same tests a publish call runs). An explicit false saves a draft: on transformations, imports of libraries that do not exist yet are then allowed (reported under warnings) and checked at test and publish time. Default false.',
    }),
  ),
});

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });
export const VersionParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }), versionId: Type.String({ minLength: 1, maxLength: 64 }) });

export const VersionsQuery = Type.Object({
  count: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 5, description: 'How many versions (1 to 1000, default 5)' })),
  orderBy: Type.Optional(Type.String({ enum: ['asc', 'desc', 'ASC', 'DESC'], default: 'asc', description: 'By creation time; asc (default) lists the oldest first' })),
});

/** The paging a versions list asked for, with the compat defaults (5, oldest first). */
export function versionsPage(query: { count?: number; orderBy?: string }): { count: number; order: 'asc' | 'desc' } {
  return { count: query.count ?? 5, order: (query.orderBy ?? 'asc').toLowerCase() === 'desc' ? 'desc' : 'asc' };
}
