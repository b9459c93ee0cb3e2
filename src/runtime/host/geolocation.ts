// Host side of `geolocation(ip)` for user code. RudderStack's transformer validates the address and
// asks an external service (GEOLOCATION_URL/geoip/<ip>); Tiller instead reads a local MaxMind DB file
// (.mmdb: GeoLite2-City, GeoIP2-City, or any database in that format) named by a setting. Each
// sandbox host process reads the whole file into memory once (openGeolocation) and answers lookups
// synchronously from it: nothing is downloaded, and the file is not read again.
//
// What user code gets (the isolate side turns a GeolocationError into a rejection with its message):
//
//   input                                        result
//   '203.0.113.7', '2001:db8::1' in the DB       the record of the network holding it (below)
//   a valid address not in the DB                null (GeoLite2 has no private, loopback or reserved ranges)
//   IPv6 with a zone ('fe80::1%eth0')            looked up without the zone
//   IPv4-mapped IPv6 ('::ffff:203.0.113.7')      looked up as the IPv4 address
//   any IPv6 address, IPv4-only database         null
//   undefined, null, '', 0, false                'ip address is required'            (as RudderStack)
//   a string that is not an address              'invalid ip address: "<the string>"' (cut at 64 chars)
//   any other value (42, {}, [])                 'invalid ip address: expected a string, got a number'
//   a valid address, no database configured      'geolocation is not available right now' (as RudderStack)
//   a record the database cannot decode          'geolocation lookup failed'
//
// Addresses are checked strictly (node:net isIP): dotted-quad IPv4 without leading zeros, and IPv6.
// RudderStack's check (ipaddr.js isValid) also passes '127.1', '0x7f.0.0.1', '010.0.0.1' and
// '2130706433' to its service as written; here they are invalid, being ambiguous ('010' is octal to
// some parsers and decimal to others). The validation messages start with RudderStack's own, so code
// that matches on them keeps working.
//
// The result is the database's own record, not a reshaped one: for GeoLite2-City,
//   { city: { geoname_id, names: { en, de, ... } }, continent: { code, geoname_id, names },
//     country: { geoname_id, iso_code, names, is_in_european_union? }, location: { accuracy_radius,
//     latitude, longitude, time_zone, metro_code? }, postal: { code }, registered_country: { ... },
//     subdivisions: [{ geoname_id, iso_code, names }] }
// with fields missing where the database has nothing. It is copied into plain JSON data, since it
// crosses into the sandbox as JSON and the reader's cache shares decoded objects between lookups:
// uint64/uint128 become numbers (decimal strings past 2^53), bytes become base64 strings (as Go's
// encoding/json writes them), non-finite doubles become null.
//
// The file is not watched: replacing it takes a restart. A host started later (after a recycle or a
// crash) reads the file as it is then, so until the restart hosts may answer from different files.
// Watching would have every host re-read tens of MB at once, and could read a file still being copied.
// Each host holds its own copy of the file (GeoLite2-City: about 60 MB), counted in its RSS and in
// its external memory (`database.bytes`).

import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { LRUCache } from 'lru-cache';
import { Reader, type Response } from 'maxmind';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type GeolocationRecord = { [key: string]: JsonValue };

/** ip_required | invalid_ip: the code's fault; not_configured | lookup_failed: the operator's setup. */
export type GeolocationErrorCode = 'ip_required' | 'invalid_ip' | 'not_configured' | 'lookup_failed';

/** A failed lookup; `message` is written for the transformation's author. */
export class GeolocationError extends Error {
  constructor(
    readonly code: GeolocationErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'GeolocationError';
  }
}

/** What the host can log about the file it opened. */
export interface GeolocationDatabase {
  path: string;
  /** The metadata's database_type, e.g. 'GeoLite2-City'. */
  type: string;
  ipVersion: 4 | 6;
  /** When the file was built (ISO 8601), null if its build_epoch is unusable. */
  builtAt: string | null;
  languages: string[];
  /** The file's size, all of it held in memory. */
  bytes: number;
}

export interface Geolocation {
  /**
   * The record for `ip` as plain JSON data, or null when the database holds none. Throws a
   * GeolocationError for a missing or invalid address, or when no database is open.
   */
  lookup(ip: unknown): GeolocationRecord | null;
  /** The open file, null when geolocation is not configured or closed. */
  readonly database: GeolocationDatabase | null;
  /** Lets go of the file's memory; later lookups answer 'geolocation is not available right now'. */
  close(): void;
}

/** How much of an invalid address an error message repeats (the longest IPv6 text is 45 characters). */
const MAX_SHOWN_CHARS = 64;
/** Decoded records and pointed-to values kept per host: maxmind.open's default. */
const CACHE_ENTRIES = 10_000;
// The metadata section starts after this marker ("\xAB\xCD\xEFMaxMind.com"), within the file's last 128 KiB.
const METADATA_MARKER = Buffer.from('abcdef4d61784d696e642e636f6d', 'hex');
const METADATA_MAX_BYTES = 128 * 1024;
/** Zero bytes between the search tree and the data section. */
const DATA_SECTION_SEPARATOR_BYTES = 16;

const notConfigured = () => new GeolocationError('not_configured', 'geolocation is not available right now');

/** Used when no database is configured: addresses are still checked first, as RudderStack does. */
export const geolocationUnavailable: Geolocation = {
  lookup(ip: unknown): never {
    addressOf(ip);
    throw notConfigured();
  },
  database: null,
  close() {},
};

/**
 * Reads the MaxMind DB at `path` into memory; call once per host process. Rejects with an Error
 * naming the file when it cannot be read or is not a MaxMind DB.
 */
export async function openGeolocation(path: string): Promise<Geolocation> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new Error(`cannot read the geolocation database ${path}: ${readFailure(error)}`, { cause: error });
  }
  return new MaxMindGeolocation(path, bytes);
}

class MaxMindGeolocation implements Geolocation {
  private reader: Reader<Response> | null;
  private readonly cache = new LRUCache<string | number, object>({ max: CACHE_ENTRIES });
  database: GeolocationDatabase | null;

  constructor(path: string, bytes: Buffer) {
    this.reader = readerOf(path, bytes, this.cache);
    const { metadata } = this.reader;
    const built = metadata.buildEpoch.getTime();
    this.database = {
      path,
      type: String(metadata.databaseType),
      ipVersion: metadata.ipVersion as 4 | 6,
      builtAt: Number.isFinite(built) ? new Date(built).toISOString() : null,
      languages: Array.isArray(metadata.languages) ? metadata.languages.map(String) : [],
      bytes: bytes.byteLength,
    };
  }

  lookup(ip: unknown): GeolocationRecord | null {
    const { family, address } = addressOf(ip);
    if (!this.reader || !this.database) throw notConfigured();
    // An IPv4 database's tree is 32 bits deep; the reader would walk it with an IPv6 address's bits.
    if (family === 6 && this.database.ipVersion === 4) return null;
    try {
      const record: unknown = this.reader.get(address);
      if (record === null) return null;
      const plain = plainJson(record);
      if (plain === null || typeof plain !== 'object' || Array.isArray(plain)) throw new TypeError('the record is not a map');
      return plain;
    } catch (error) {
      throw new GeolocationError('lookup_failed', 'geolocation lookup failed', { cause: error });
    }
  }

  close(): void {
    this.reader = null;
    this.database = null;
    this.cache.clear();
  }
}

/** A Reader over `bytes`, after the checks that turn a wrong file into a message naming it. */
function readerOf(path: string, bytes: Buffer, cache: LRUCache<string | number, object>): Reader<Response> {
  const notMaxMind = (why: string, cause?: unknown) => new Error(`the geolocation database ${path} is not a MaxMind DB file: ${why}`, { cause });
  // MaxMind's downloads come as .tar.gz (or .mmdb.gz), the commonest wrong file to point at.
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) throw notMaxMind('it is gzip-compressed; extract the .mmdb file from the download');
  if (bytes.toString('latin1', 257, 262) === 'ustar') throw notMaxMind('it is a tar archive; extract the .mmdb file from it');
  const markerAt = bytes.lastIndexOf(METADATA_MARKER);
  // Without the marker the reader would decode from an arbitrary offset rather than fail.
  if (markerAt === -1 || bytes.length - markerAt > METADATA_MAX_BYTES + METADATA_MARKER.length) throw notMaxMind('no metadata section');
  let reader: Reader<Response>;
  try {
    reader = new Reader<Response>(bytes, { cache });
  } catch (error) {
    throw notMaxMind(`unreadable metadata or search tree (${error instanceof Error ? error.message : String(error)})`, error);
  }
  const { metadata } = reader;
  if (metadata.binaryFormatMajorVersion !== 2) throw notMaxMind(`binary format version ${String(metadata.binaryFormatMajorVersion)}, not 2`);
  if (metadata.ipVersion !== 4 && metadata.ipVersion !== 6) throw notMaxMind(`ip_version ${String(metadata.ipVersion)}`);
  const treeEnd = metadata.searchTreeSize + DATA_SECTION_SEPARATOR_BYTES;
  if (!Number.isSafeInteger(metadata.nodeCount) || metadata.nodeCount < 1 || treeEnd > markerAt) throw notMaxMind(`node_count ${String(metadata.nodeCount)} does not fit the file`);
  if (bytes.subarray(metadata.searchTreeSize, treeEnd).some((byte) => byte !== 0)) throw notMaxMind('no data section separator after the search tree');
  return reader;
}

function readFailure(error: unknown): string {
  switch ((error as NodeJS.ErrnoException | undefined)?.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a directory';
    default:
      return error instanceof Error ? error.message : String(error);
  }
}

/** The address to look up, canonical, or a GeolocationError in RudderStack's words. */
function addressOf(ip: unknown): { family: 4 | 6; address: string } {
  if (!ip) throw new GeolocationError('ip_required', 'ip address is required');
  if (typeof ip !== 'string') throw new GeolocationError('invalid_ip', `invalid ip address: expected a string, got ${kindOf(ip)}`);
  const family = isIP(ip);
  if (family === 4) return { family, address: ip };
  const canonical = family === 6 ? canonicalIPv6(ip) : null;
  if (canonical !== null) {
    const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
    if (!mapped) return { family: 6, address: canonical };
    // Not every database aliases ::ffff:0:0/96 to its IPv4 networks (GeoLite2 does), so look up the IPv4 address.
    const high = parseInt(mapped[1]!, 16);
    const low = parseInt(mapped[2]!, 16);
    return { family: 4, address: `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}` };
  }
  const shown = ip.length > MAX_SHOWN_CHARS ? `${ip.slice(0, MAX_SHOWN_CHARS)}...` : ip;
  throw new GeolocationError('invalid_ip', `invalid ip address: ${JSON.stringify(shown)}`);
}

/** Lower case, '::' compressed, no dotted quad, no zone: how WHATWG URL parsing writes a host. */
function canonicalIPv6(ip: string): string | null {
  const zone = ip.indexOf('%');
  try {
    return new URL(`http://[${zone === -1 ? ip : ip.slice(0, zone)}]/`).hostname.slice(1, -1);
  } catch {
    return null;
  }
}

function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  const type = typeof value;
  return type === 'object' ? 'an object' : `a ${type}`;
}

/** A copy of a decoded value made only of JSON data, sharing nothing with the reader's cache. */
function plainJson(value: unknown): JsonValue {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      // + 0 turns -0 into 0, which is what the value reads back as from JSON.
      return Number.isFinite(value) ? value + 0 : null;
    case 'bigint':
      return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
  }
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (Array.isArray(value)) return value.map(plainJson);
  if (value !== null && typeof value === 'object') {
    // fromEntries defines properties, so even a '__proto__' key stays an ordinary own key.
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, plainJson(item)]));
  }
  throw new TypeError(`a ${typeof value} in a geolocation record`);
}
