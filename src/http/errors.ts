import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, type DomainErrorKind } from '../domain/errors.js';

const STATUS_BY_KIND: Record<DomainErrorKind, number> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_many_requests: 429,
  not_supported: 501,
  unavailable: 503,
};

/** The one error body: { success: false, error: { code, message, ...details }, requestId }. */
export function sendError(reply: FastifyReply, status: number, code: string, message: string, details?: Record<string, unknown>): FastifyReply {
  return reply
    .code(status)
    .type('application/json; charset=utf-8')
    .send(JSON.stringify({ success: false, error: { ...details, code, message }, requestId: reply.request.id }));
}

export const WWW_AUTHENTICATE = 'Basic realm="tiller"';

export function sendUnauthorized(reply: FastifyReply): FastifyReply {
  reply.header('WWW-Authenticate', WWW_AUTHENTICATE);
  return sendError(reply, 401, 'unauthorized', 'missing or invalid credentials');
}

interface AjvError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
}

/** Turns a schema failure into a message that names the field, e.g. "name is required". */
function describeValidation(error: FastifyError): { code: string; message: string; field: string } {
  const first = (error.validation as AjvError[] | undefined)?.[0];
  const context = error.validationContext ?? 'body';
  if (!first) return { code: 'invalid_request', message: error.message, field: '' };
  const path = first.instancePath.replace(/^\//, '').replace(/\//g, '.');
  if (first.keyword === 'required') {
    const field = [path, String(first.params.missingProperty)].filter(Boolean).join('.');
    return { code: 'missing_field', message: `${field} is required`, field };
  }
  if (!path && context === 'body' && first.keyword === 'type') {
    return { code: 'invalid_body', message: 'request body must be a JSON object', field: '' };
  }
  const field = path || context;
  const subject = path ? field : context === 'querystring' ? 'query' : context;
  const reasons: Record<string, string> = {
    type: `must be ${String(first.params.type).replace(',', ' or ')}`,
    minLength: `must be at least ${String(first.params.limit)} characters`,
    maxLength: `must be at most ${String(first.params.limit)} characters`,
    minimum: `must be at least ${String(first.params.limit)}`,
    maximum: `must be at most ${String(first.params.limit)}`,
    minItems: `must have at least ${String(first.params.limit)} items`,
    maxItems: `must have at most ${String(first.params.limit)} items`,
    enum: `must be one of ${((first.params.allowedValues as unknown[]) ?? []).map(String).join(', ')}`,
    additionalProperties: `has unknown property "${String(first.params.additionalProperty)}"`,
  };
  const anyOfMessage = first.keyword === 'anyOf' || first.keyword === 'const' ? 'has an invalid value' : undefined;
  return { code: 'invalid_field', message: `${subject} ${reasons[first.keyword] ?? anyOfMessage ?? first.message ?? 'is invalid'}`, field };
}

/** Maps everything thrown in Tiller to the envelope; a 5xx never shows its internals. */
export function handleError(error: FastifyError | DomainError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error instanceof DomainError) {
    const status = STATUS_BY_KIND[error.kind];
    if (status === 401) reply.header('WWW-Authenticate', WWW_AUTHENTICATE);
    // Every 503 clears by itself, so it always says when to try again (in 1 s unless the error knows
    // better); a 429 says so when the error knows.
    const retryAfter = error.retryAfterSeconds ?? (error.kind === 'unavailable' ? 1 : undefined);
    if (retryAfter !== undefined) reply.header('Retry-After', String(retryAfter));
    if (error.kind === 'unavailable') {
      // rudder-server retries a 503 without limit only when told to.
      reply.header('X-Rudder-Should-Retry', 'true');
      reply.header('X-Rudder-Error-Reason', error.code);
      if (error.cause !== undefined) request.log.warn({ err: error.cause, code: error.code }, 'answered 503: a dependency failed');
    }
    return sendError(reply, status, error.code, error.message, error.details);
  }
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) {
    const { code, message, field } = describeValidation(fastifyError);
    return sendError(reply, 400, code, message, field ? { field } : undefined);
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return sendError(reply, 400, 'invalid_json', 'request body is not valid JSON');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return sendError(reply, 413, 'body_too_large', 'request body is larger than this server accepts');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return sendError(reply, 415, 'unsupported_media_type', 'request body must be application/json');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return sendError(reply, 400, 'invalid_content_length', 'Content-Length does not match the body');
  }
  const status = fastifyError.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    return sendError(reply, status, 'bad_request', fastifyError.message);
  }
  request.log.error({ err: error }, 'request failed');
  return sendError(reply, 500, 'internal_error', 'something went wrong on the server; the request id identifies it in the server log');
}
