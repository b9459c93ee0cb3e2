// Domain code fails only through these; src/http/errors.ts maps each kind to a status code and the
// error envelope. Messages are shown to API users, so they never carry internals or secrets.

export type DomainErrorKind =
  | 'invalid' // 400
  | 'unauthorized' // 401
  | 'forbidden' // 403
  | 'not_found' // 404
  | 'conflict' // 409
  | 'too_many_requests' // 429
  | 'unavailable'; // 503

export class DomainError extends Error {
  constructor(
    readonly kind: DomainErrorKind,
    /** Stable machine-readable code for the envelope, e.g. "missing_field". */
    readonly code: string,
    message: string,
    /** Extra public fields merged into the envelope's error object (e.g. line, column, failures). */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const invalid = (code: string, message: string, details?: Record<string, unknown>) => new DomainError('invalid', code, message, details);
export const notFound = (what: string) => new DomainError('not_found', 'not_found', `${what} not found`);
export const conflict = (code: string, message: string, details?: Record<string, unknown>) => new DomainError('conflict', code, message, details);
export const forbidden = (code: string, message: string) => new DomainError('forbidden', code, message);
