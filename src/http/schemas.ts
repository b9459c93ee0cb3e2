import { Type, type TSchema } from '@sinclair/typebox';

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
  429: 'Too many failed authentication attempts; see Retry-After',
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
