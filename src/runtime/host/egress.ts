// Outbound HTTP for user code's fetch/fetchV2 (spec 7.5), made in the sandbox host process under a
// deny-by-default egress policy. capabilities.ts checks what the isolate sent and calls this.
//
//   const egress = createEgress({ allow: parseEgressAllowList('10.1.0.0/16'), timeoutMs: 5000 });
//   const response = await egress.request({ url, method: 'POST', headers, body }, batchSignal);
//   // { status, url (after redirects), headers (lower-case names), body (utf-8 text) }
//   await egress.close();
//
// Every failure is an EgressError whose `code` says what happened and whose message a user can act
// on: invalid_request (bad URL, scheme, method, header or body), blocked (a non-public address),
// timeout, too_large (the response body), network (refused, DNS, TLS, too many redirects) and
// aborted (the caller's signal, which is how a batch that ends cancels its calls).
//
// Where the policy is enforced: on the address a socket actually connects to. One undici Agent
// makes every connection through `guardedConnector`: a host name is resolved by our `lookup`, which
// refuses the connection when any resolved address is non-public, and otherwise hands net exactly
// the addresses it checked (so happy eyeballs can only pick a checked one, and a rebinding DNS
// answer is never resolved a second time behind our back). An IP-literal host skips `lookup` in
// net.connect, so the connector checks literals itself. Redirects are followed here, one request
// per hop, so each hop gets its own connection check; literal hosts are also checked up front so
// that a blocked request fails before any pool or socket exists.
//
// What counts as public is in `isPublicAddress` (../addresses.ts). Nothing here logs: request and response headers
// and bodies may carry credentials.

import dns from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { Readable, pipeline, type Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { addressCheck, parseRange, type AddressCheck } from '../addresses.js';
import { Agent, buildConnector, errors as undiciErrors, type Dispatcher } from 'undici';

export interface EgressSettings {
  /** CIDR ranges or single addresses that may be reached although non-public (operator allow-list), e.g. ['127.0.0.1/32', '10.1.0.0/16']. */
  allow: string[];
  /** Whole-call timeout in ms: connect, redirects, headers and body (default 10_000). */
  timeoutMs: number;
  /** Largest response body read, bytes, after decompression (default 5 MiB); larger fails the call. */
  maxResponseBytes: number;
  /** Redirects followed (default 5); one more fails the call. */
  maxRedirects: number;
}

export const defaultEgressSettings: EgressSettings = {
  allow: [],
  timeoutMs: 10_000,
  maxResponseBytes: 5 * 1024 * 1024,
  maxRedirects: 5,
};

export interface OutboundRequest {
  url: string;
  /** Any HTTP token (default GET); the six standard methods are upper-cased as fetch does. */
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface OutboundResponse {
  status: number;
  /** The URL that answered, after redirects, without its fragment. */
  url: string;
  /** Lower-case names; repeated fields joined with ', ' as fetch's Headers.get does. */
  headers: Record<string, string>;
  /** Decoded (gzip, deflate, br) and read as UTF-8 text; a leading byte-order mark is dropped, as fetch's text() does. */
  body: string;
}

export type EgressErrorCode = 'invalid_request' | 'blocked' | 'timeout' | 'too_large' | 'network' | 'aborted';

export class EgressError extends Error {
  constructor(
    readonly code: EgressErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'EgressError';
  }
}

export interface Egress {
  request(req: OutboundRequest, signal?: AbortSignal): Promise<OutboundResponse>;
  /** Waits for calls in flight (each bounded by timeoutMs), then closes every connection; later calls fail. */
  close(): Promise<void>;
}

/** Connections kept per origin: enough for a busy batch, few enough not to flood one API. */
const CONNECTIONS_PER_ORIGIN = 64;
/** Sent unless the request sets its own, as fetch sends its defaults. */
const DEFAULT_REQUEST_HEADERS: Record<string, string> = {
  accept: '*/*',
  'accept-encoding': 'gzip, deflate, br',
  'user-agent': 'Tiller',
};
/** A redirect's body is read (so its connection can be reused) up to this much, else dropped with the connection. */
const REDIRECT_BODY_DRAIN_BYTES = 64 * 1024;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Not sent on to another origin: they are credentials for the origin the user named. */
const CROSS_ORIGIN_DROPPED = ['authorization', 'cookie', 'proxy-authorization', 'host'];
/** Describe the body, so they go when a redirect turns the request into a GET (fetch's "request-body-header names"). */
const BODY_HEADERS = ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location'];
/** fetch upper-cases these whatever case they come in; any other method is sent as written. */
const NORMALIZED_METHODS = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);
/** fetch refuses these: CONNECT would tunnel, TRACE/TRACK echo credentials back. */
const FORBIDDEN_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK']);

/**
 * For a host name, the name only: which address an internal name resolves to is the operator's
 * business, and telling it would let user code map the private network.
 */
function blockedMessage(address: string, hostname?: string): string {
  return `blocked request to non-public address: ${hostname ?? address}`;
}

/**
 * undici's connector with the egress check on every connection it opens. Exported for tests: it
 * is the one place the policy must hold even if a caller skipped the up-front check.
 */
export function guardedConnector(permits: AddressCheck, connectTimeoutMs: number): buildConnector.connector {
  const lookup: LookupFunction = (hostname, options, callback) => {
    dns.lookup(hostname, { family: options.family, hints: options.hints, all: true }, (error, addresses) => {
      if (error) {
        callback(error, '');
        return;
      }
      // Any refused answer refuses the name: a name that resolves to a private address as well as
      // a public one is a rebinding attempt or a misconfiguration, and net may try any of them.
      const refused = addresses.find((entry) => !permits(entry.address));
      const first = addresses[0];
      if (refused) callback(new EgressError('blocked', blockedMessage(refused.address, hostname)), '');
      else if (!first) callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '');
      else if (options.all) callback(null, addresses);
      else callback(null, first.address, first.family);
    });
  };
  // Happy eyeballs (autoSelectFamily) tries the addresses `lookup` returned, all of them checked;
  // set explicitly so the behaviour does not depend on Node's default.
  const connect = buildConnector({ lookup, autoSelectFamily: true, timeout: connectTimeoutMs });
  return (options, callback) => {
    // undici passes IPv6 literals without their brackets.
    if (isIP(options.hostname) !== 0 && !permits(options.hostname)) {
      callback(new EgressError('blocked', blockedMessage(options.hostname)), null);
      return;
    }
    connect(options, callback);
  };
}

// ---------------------------------------------------------------------------------------------
// Requests

export function createEgress(given: Partial<EgressSettings>): Egress {
  const settings = settingsOf(given);
  const permits = addressCheck(settings.allow.map(parseRange));
  const agent = new Agent({
    connections: CONNECTIONS_PER_ORIGIN,
    connect: guardedConnector(permits, settings.timeoutMs),
    // Backstops only: the whole-call timer below fires first.
    headersTimeout: settings.timeoutMs,
    bodyTimeout: settings.timeoutMs,
  });
  let closing: Promise<void> | undefined;

  async function request(req: OutboundRequest, signal?: AbortSignal): Promise<OutboundResponse> {
    if (closing) throw new EgressError('aborted', 'outbound requests are closed: the sandbox host is shutting down');
    let url = targetOf(req.url);
    let { method, headers, body } = requestPartsOf(req);
    if (signal?.aborted) throw new EgressError('aborted', `request to ${url.origin} was aborted`);

    // One controller for the whole call, its reason the error to report: undici rejects a pending
    // request, and destroys a body being read, with the signal's reason.
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new EgressError('timeout', `request to ${url.origin} timed out after ${settings.timeoutMs} ms`)), settings.timeoutMs);
    timer.unref();
    const onCallerAbort = () => controller.abort(new EgressError('aborted', `request to ${url.origin} was aborted`));
    signal?.addEventListener('abort', onCallerAbort, { once: true });
    let response: Dispatcher.ResponseData | undefined;
    try {
      for (let redirects = 0; ; redirects++) {
        refuseBlockedLiteral(url, permits);
        response = await agent.request({
          origin: url.origin,
          path: `${url.pathname}${url.search}`,
          method,
          headers,
          body: body ?? null,
          signal: controller.signal,
        });
        const location = REDIRECT_STATUSES.has(response.statusCode) ? headerText(response.headers.location) : undefined;
        if (location === undefined) {
          const text = await readBody(response, method, settings.maxResponseBytes, url.origin);
          return { status: response.statusCode, url: withoutFragment(url), headers: headersOf(response.headers), body: text };
        }
        await response.body.dump({ limit: REDIRECT_BODY_DRAIN_BYTES, signal: controller.signal });
        if (redirects >= settings.maxRedirects) {
          throw new EgressError('network', `request to ${url.origin} failed: more than ${settings.maxRedirects} redirects`);
        }
        const next = redirectTarget(location, url);
        // fetch's rules: 303 becomes GET (HEAD stays HEAD), and so does a POST answered 301 or 302.
        if ((response.statusCode === 303 && method !== 'GET' && method !== 'HEAD') || ((response.statusCode === 301 || response.statusCode === 302) && method === 'POST')) {
          method = 'GET';
          body = undefined;
          headers = without(headers, BODY_HEADERS);
        }
        if (next.origin !== url.origin) headers = without(headers, CROSS_ORIGIN_DROPPED);
        url = next;
      }
    } catch (error) {
      if (response) discard(response.body);
      throw egressErrorOf(error, controller.signal, url, settings.timeoutMs);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onCallerAbort);
    }
  }

  return {
    request,
    close() {
      closing ??= agent.close();
      return closing;
    },
  };
}

function settingsOf(given: Partial<EgressSettings>): EgressSettings {
  const settings: EgressSettings = { ...defaultEgressSettings };
  if (given.allow !== undefined) settings.allow = [...given.allow];
  for (const key of ['timeoutMs', 'maxResponseBytes', 'maxRedirects'] as const) {
    const value = given[key];
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value < (key === 'maxRedirects' ? 0 : 1)) throw new RangeError(`egress ${key} must be a whole number${key === 'maxRedirects' ? ', 0 or more' : ' above 0'}`);
    settings[key] = value;
  }
  // Checked now, so a bad entry fails at start-up rather than on the first call.
  for (const entry of settings.allow) parseRange(entry);
  return settings;
}

function targetOf(text: unknown): URL {
  if (typeof text !== 'string') throw new EgressError('invalid_request', 'invalid url, the url must be a string');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new EgressError('invalid_request', `invalid url, ${JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}...` : text)} is not an absolute URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new EgressError('invalid_request', 'invalid protocol, only http and https are supported');
  // fetch refuses these too; sent along they would end up in logs and on every redirect hop.
  if (url.username !== '' || url.password !== '') throw new EgressError('invalid_request', 'invalid url, credentials in the url are not supported; send an authorization header');
  return url;
}

function requestPartsOf(req: OutboundRequest): { method: string; headers: Record<string, string>; body: string | undefined } {
  let method = req.method ?? 'GET';
  if (typeof method !== 'string') throw new EgressError('invalid_request', 'method must be a string');
  const upper = method.toUpperCase();
  if (NORMALIZED_METHODS.has(upper)) method = upper;
  if (FORBIDDEN_METHODS.has(upper)) throw new EgressError('invalid_request', `method ${upper} is not allowed`);
  const body = req.body;
  if (body !== undefined && typeof body !== 'string') throw new EgressError('invalid_request', 'body must be a string');
  if (body !== undefined && (method === 'GET' || method === 'HEAD')) throw new EgressError('invalid_request', `a ${method} request cannot have a body`);

  // Names are case-insensitive: the same field given twice is joined, as fetch's Headers.append does.
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of Object.entries(req.headers ?? {})) {
    if (typeof value !== 'string') throw new EgressError('invalid_request', `header ${JSON.stringify(name.slice(0, 100))} must be a string`);
    const key = name.toLowerCase();
    headers[key] = Object.hasOwn(headers, key) ? `${headers[key]}, ${value}` : value;
  }
  for (const [name, value] of Object.entries(DEFAULT_REQUEST_HEADERS)) headers[name] ??= value;
  if (body !== undefined) headers['content-type'] ??= 'text/plain;charset=UTF-8';
  return { method, headers, body };
}

function refuseBlockedLiteral(url: URL, permits: AddressCheck): void {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (isIP(host) !== 0 && !permits(host)) throw new EgressError('blocked', blockedMessage(host));
}

function redirectTarget(location: string, from: URL): URL {
  let next: URL;
  try {
    next = new URL(location, from);
  } catch {
    throw new EgressError('network', `request to ${from.origin} failed: it redirected to an invalid url`);
  }
  if (next.protocol !== 'http:' && next.protocol !== 'https:') {
    throw new EgressError('invalid_request', `invalid protocol, only http and https are supported (${from.origin} redirected to ${next.protocol})`);
  }
  if (next.username !== '' || next.password !== '') throw new EgressError('network', `request to ${from.origin} failed: it redirected to a url with credentials`);
  return next;
}

function without(headers: Record<string, string>, names: readonly string[]): Record<string, string> {
  const kept = { ...headers };
  for (const name of names) delete kept[name];
  return kept;
}

function withoutFragment(url: URL): string {
  const copy = new URL(url);
  copy.hash = '';
  return copy.href;
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function headersOf(raw: Dispatcher.ResponseData['headers']): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    const text = headerText(value);
    if (text !== undefined) headers[name] = text;
  }
  return headers;
}

// ---------------------------------------------------------------------------------------------
// Response bodies

const DECODERS: Record<string, () => Transform> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};
/** More stacked encodings than this is an attack on the decoder, not a real response. */
const MAX_ENCODINGS = 3;

/** The body as text, decoded, never holding more than `limit` bytes of it. */
async function readBody(response: Dispatcher.ResponseData, method: string, limit: number, origin: string): Promise<string> {
  const tooLarge = () => new EgressError('too_large', `the response from ${origin} is larger than the ${bytesText(limit)} limit`);
  const { body } = response;
  const encodings = (headerText(response.headers['content-encoding']) ?? '')
    .split(',')
    .map((token) => token.trim().toLowerCase())
    .filter((token) => token !== '' && token !== 'identity');
  // fetch passes a body in an unknown encoding through as it is; so do we.
  const decoded = encodings.length > 0 && encodings.every((token) => token in DECODERS);
  if (encodings.length > MAX_ENCODINGS) throw new EgressError('network', `request to ${origin} failed: more than ${MAX_ENCODINGS} content encodings`);
  if (!decoded && Number(headerText(response.headers['content-length']) ?? 0) > limit) throw tooLarge();

  const chunks: Buffer[] = [];
  let size = 0;
  const source = decoded && method !== 'HEAD' ? await decodedStream(body, encodings) : body;
  if (source === undefined) return '';
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw tooLarge();
      chunks.push(chunk);
    }
  } catch (error) {
    const bodyFailed = body.errored !== null;
    discard(source);
    discard(body);
    if (error instanceof EgressError) throw error;
    // A decoder's own error (say a truncated gzip stream), as opposed to the connection's.
    if (source !== body && !bodyFailed) throw new EgressError('network', `request to ${origin} failed: could not decode the ${encodings.join(', ')} body: ${detailOf(error)}`);
    throw error;
  }
  return new TextDecoder().decode(Buffer.concat(chunks, size));
}

/**
 * The decoded body, or undefined for an empty one (an empty body is not valid gzip or brotli, yet
 * servers send one with a content-encoding, e.g. on a 204). Decoding is streamed, so the size cap
 * holds for the decoded bytes and a compression bomb stops at the limit.
 */
async function decodedStream(body: Readable, encodings: string[]): Promise<Readable | undefined> {
  const iterator = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first = await iterator.next();
  if (first.done) return undefined;
  async function* raw(): AsyncGenerator<Buffer> {
    yield first.value;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  }
  // Content-Encoding lists codings in the order they were applied; undo them last first.
  const decoders = encodings.map((token) => DECODERS[token]!()).reverse();
  return pipeline([Readable.from(raw()), ...decoders], () => undefined) as unknown as Readable;
}

/** Stops a body for good, closing its connection; the error destroying it raises is expected. */
function discard(stream: Readable): void {
  stream.on('error', () => undefined);
  stream.destroy();
}

function bytesText(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

// ---------------------------------------------------------------------------------------------
// Errors

function egressErrorOf(error: unknown, signal: AbortSignal, url: URL, timeoutMs: number): EgressError {
  if (error instanceof EgressError) return error;
  if (signal.aborted && signal.reason instanceof EgressError) return signal.reason;
  if (error instanceof undiciErrors.ConnectTimeoutError || error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError) {
    return new EgressError('timeout', `request to ${url.origin} timed out after ${timeoutMs} ms`);
  }
  // undici's checks of the method, header names and values, and a content-length that does not match the body.
  if (error instanceof undiciErrors.InvalidArgumentError || error instanceof undiciErrors.NotSupportedError || error instanceof undiciErrors.RequestContentLengthMismatchError) {
    return new EgressError('invalid_request', error.message);
  }
  return new EgressError('network', `request to ${url.origin} failed: ${detailOf(error)}`);
}

/** What went wrong, as Node words it: `getaddrinfo ENOTFOUND x.example`, `connect ECONNREFUSED 1.2.3.4:443`. */
function detailOf(error: unknown): string {
  // Happy eyeballs reports one error per address tried.
  if (error instanceof AggregateError && error.errors.length > 0) return [...new Set(error.errors.map(detailOf))].join('; ');
  if (error instanceof Error) return error.message || (error as NodeJS.ErrnoException).code || error.name;
  return String(error);
}
