// Domain code fails only through these; src/http/errors.ts maps each kind to a status code and the
// error envelope. Messages are shown to API users, so they never carry internals or secrets.

import { RETRYABLE_RUN_ERRORS, type RunError } from '../runtime/types.js';

export type DomainErrorKind =
  | 'invalid' // 400
  | 'unauthorized' // 401
  | 'forbidden' // 403
  | 'not_found' // 404
  | 'conflict' // 409
  | 'too_many_requests' // 429
  | 'not_supported' // 501
  | 'unavailable'; // 503

export class DomainError extends Error {
  constructor(
    readonly kind: DomainErrorKind,
    /** Stable machine-readable code for the envelope, e.g. "missing_field". */
    readonly code: string,
    message: string,
    /** Extra public fields merged into the envelope's error object (e.g. line, column, failures). */
    readonly details?: Record<string, unknown>,
    /** For unavailable and too_many_requests: when to try again (the Retry-After header). */
    readonly retryAfterSeconds?: number,
    /** What went wrong underneath, for the server log (never shown to the caller). */
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const invalid = (code: string, message: string, details?: Record<string, unknown>) => new DomainError('invalid', code, message, details);
export const notFound = (what: string) => new DomainError('not_found', 'not_found', `${what} not found`);
export const conflict = (code: string, message: string, details?: Record<string, unknown>) => new DomainError('conflict', code, message, details);
export const forbidden = (code: string, message: string) => new DomainError('forbidden', code, message);

/**
 * A failed run of user code as a domain error. Tiller's own state (overloaded, a sandbox process
 * lost under the batch) is 503, worth retrying; a workspace whose test code keeps crashing sandbox
 * processes is 429; everything else is the code's fault: 400 with the code and the logs.
 */
export function runFailureOf(error: RunError): DomainError {
  if (RETRYABLE_RUN_ERRORS.has(error.code)) return new DomainError('unavailable', error.code, error.message, undefined, error.retryAfterSeconds ?? 1);
  if (error.code === 'crash_limited') return new DomainError('too_many_requests', error.code, error.message, undefined, error.retryAfterSeconds ?? 60);
  return invalid(error.code, error.message, { logs: error.logs });
}
