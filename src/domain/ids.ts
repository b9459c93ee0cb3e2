import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Base62 text of `length` characters drawn without modulo bias from a CSPRNG. */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      // 248 = 62 * 4: bytes at or above it would skew the distribution.
      if (byte < 248) out += ALPHABET[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

export function toBase62(value: number, width: number): string {
  let out = '';
  let rest = value;
  do {
    out = ALPHABET[rest % 62] + out;
    rest = Math.floor(rest / 62);
  } while (rest > 0);
  return out.padStart(width, '0');
}

/**
 * Opaque 27-character ids (the length RudderStack clients are used to) that sort by creation time:
 * 8 characters of milliseconds since the epoch, then 19 random ones (about 113 bits).
 */
export function newId(): string {
  return toBase62(Date.now(), 8) + randomBase62(19);
}

/** ISO-8601 UTC with milliseconds: the one time format Tiller stores and answers. */
export function nowIso(): string {
  return new Date().toISOString();
}
