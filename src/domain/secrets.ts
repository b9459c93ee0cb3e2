import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { randomBase62, toBase62 } from './ids.js';

// Secret layout: <prefix><30 random base62 characters (178 bits)><6-character base62 CRC32 of the
// random part>. The prefix tells people and secret scanners what leaked; the checksum lets Tiller
// reject typos and random guesses without touching storage.
export const WORKSPACE_TOKEN_PREFIX = 'tlr_ws_';
export const ACCESS_TOKEN_PREFIX = 'tlr_at_';
const RANDOM_LENGTH = 30;
const CHECKSUM_LENGTH = 6;
const BODY = new RegExp(`^[0-9A-Za-z]{${RANDOM_LENGTH + CHECKSUM_LENGTH}}$`);

export type SecretKind = 'workspace' | 'access';

function checksum(random: string): string {
  return toBase62(crc32(random), CHECKSUM_LENGTH);
}

export function generateSecret(kind: SecretKind): string {
  const random = randomBase62(RANDOM_LENGTH);
  return prefixOf(kind) + random + checksum(random);
}

function prefixOf(kind: SecretKind): string {
  return kind === 'workspace' ? WORKSPACE_TOKEN_PREFIX : ACCESS_TOKEN_PREFIX;
}

/** The kind of a well-formed secret whose checksum holds, or null. Never throws. */
export function secretKind(candidate: string): SecretKind | null {
  let kind: SecretKind;
  if (candidate.startsWith(WORKSPACE_TOKEN_PREFIX)) kind = 'workspace';
  else if (candidate.startsWith(ACCESS_TOKEN_PREFIX)) kind = 'access';
  else return null;
  const body = candidate.slice(prefixOf(kind).length);
  if (!BODY.test(body)) return null;
  const random = body.slice(0, RANDOM_LENGTH);
  return body.slice(RANDOM_LENGTH) === checksum(random) ? kind : null;
}

// Importing the raw pepper on every call costs more than the HMAC itself; key objects are reused.
const pepperKeys = new WeakMap<Buffer, KeyObject>();

/** Keyed digest stored instead of the secret (hex HMAC-SHA-256 with the server's pepper). */
export function digestSecret(pepper: Buffer, secret: string): string {
  let key = pepperKeys.get(pepper);
  if (!key) pepperKeys.set(pepper, (key = createSecretKey(pepper)));
  return createHmac('sha256', key).update(secret, 'utf8').digest('hex');
}

export function digestsEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

/** What lists show instead of the secret: the prefix plus the last four characters. */
export function secretHint(secret: string): string {
  const prefix = secret.startsWith(WORKSPACE_TOKEN_PREFIX) ? WORKSPACE_TOKEN_PREFIX : ACCESS_TOKEN_PREFIX;
  return `${prefix}…${secret.slice(-4)}`;
}

const SECRET_PATTERN = /tlr_(at|ws)_[0-9A-Za-z]+/g;

/** Text fit for a log line: anything shaped like a Tiller secret (e.g. pasted into a URL) is masked. */
export function redactSecrets(text: string): string {
  return text.includes('tlr_') ? text.replace(SECRET_PATTERN, 'tlr_$1_[redacted]') : text;
}
