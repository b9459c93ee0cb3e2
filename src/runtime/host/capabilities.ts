// The host side of the capabilities user code may call (spec 7.5): fetch, fetchV2 and geolocation.
// The bootstrap's wrappers reach it through one ivm.Reference per isolate with two strings, the
// operation and its request, and get one string back, never a rejection: 'o' + answer when the call
// succeeded, 'e' + a message the user can act on when it did not. Everything that arrives here was
// written by user code, so it is checked as untrusted input.
//
// Each batch gets an OutboundRun: its call budget, its tally for /metrics, and the signal that
// aborts whatever is still in flight when the batch ends, so no call outlives its batch.

import pLimit, { type LimitFunction } from 'p-limit';
import type { OutboundKind, OutboundOptions, OutboundTally } from '../types.js';
import { createEgress, EgressError, type Egress, type OutboundRequest } from './egress.js';
import { GeolocationError, geolocationUnavailable, openGeolocation, type Geolocation } from './geolocation.js';

export interface OutboundRun {
  readonly signal: AbortSignal;
  calls: number;
  /** Calls made and not yet answered, queued ones included. */
  inFlight: number;
  tally: OutboundTally;
  /** Network calls are not made (a mirror or shadow run): they fail, counted as `skipped`. */
  readonly skip: boolean;
  /** At most CALLS_IN_FLIGHT_PER_BATCH of this batch's calls run at once; the rest queue. */
  readonly limit: LimitFunction;
}

/** Headers one request may carry, and the longest URL: far above what any API needs. */
const MAX_HEADERS = 100;
const MAX_URL_CHARS = 16 * 1024;
/**
 * Calls running at once, per batch and per host process. Each holds up to maxResponseBytes of body
 * (a few copies of it while it is handed to the isolate), so these bound the host's memory: with
 * the default 1 MiB answers, about 64 x 4 MiB at worst, whatever the code asks for. 16 at once
 * lets a 200-event batch that makes one 300 ms call per event finish in about 4 s.
 */
const CALLS_IN_FLIGHT_PER_BATCH = 16;
const CALLS_IN_FLIGHT_PER_HOST = 64;

export class HostCapabilities {
  /** Null when the operator's settings could not make one (said once on the host's log). */
  private readonly egress: Egress | null;
  private readonly geolocation: Promise<Geolocation>;
  private geolocationBytes = 0;
  private readonly hostLimit = pLimit(CALLS_IN_FLIGHT_PER_HOST);

  constructor(private readonly options: OutboundOptions) {
    this.egress = startEgress(options);
    // Opened when the host starts, so no batch pays for reading the file. A file that cannot be
    // opened is the operator's to fix: the reason goes to the host's log, and users are told only
    // that geolocation is unavailable (the message does not reveal the server's paths).
    const path = options.geolocationDatabase;
    this.geolocation =
      path === null
        ? Promise.resolve(geolocationUnavailable)
        : openGeolocation(path).then(
            (opened) => {
              this.geolocationBytes = opened.database?.bytes ?? 0;
              return opened;
            },
            (error: unknown) => {
              process.stderr.write(`tiller sandbox host: geolocation is unavailable: ${error instanceof Error ? error.message : String(error)}\n`);
              return geolocationUnavailable;
            },
          );
  }

  /** Memory the geolocation database holds for good (outside any V8 heap); not garbage to collect. */
  get residentBytes(): number {
    return this.geolocationBytes;
  }

  /** A batch's budget; `end()` aborts its calls still in flight or queued. */
  begin(skip = false): { run: OutboundRun; end: () => void } {
    const controller = new AbortController();
    const run: OutboundRun = { signal: controller.signal, calls: 0, inFlight: 0, tally: {}, skip, limit: pLimit(CALLS_IN_FLIGHT_PER_BATCH) };
    return { run, end: () => controller.abort() };
  }

  async call(run: OutboundRun, op: unknown, payload: unknown): Promise<string> {
    const kind: OutboundKind | null = op === 'fetch' || op === 'fetchV2' ? op : op === 'geolocation' ? 'geolocation' : null;
    if (kind === null) return 'eunknown capability';
    if (run.skip && kind !== 'geolocation') {
      run.calls++;
      return this.failed(run, kind, 'skipped', 'outbound calls are not made in a mirror or shadow run, so nothing happens twice');
    }
    if (run.signal.aborted) return this.failed(run, kind, 'aborted', 'the batch ended before the call was made');
    if (run.calls >= this.options.maxCallsPerBatch) {
      return this.failed(run, kind, 'limit', `more than ${this.options.maxCallsPerBatch} outbound calls in one batch; the operator sets this limit (TILLER_OUTBOUND_MAX_CALLS_PER_BATCH)`);
    }
    run.calls++;
    run.inFlight++;
    try {
      return await run.limit(() => this.hostLimit(() => this.perform(run, kind, payload)));
    } finally {
      run.inFlight--;
    }
  }

  private async perform(run: OutboundRun, kind: OutboundKind, payload: unknown): Promise<string> {
    if (run.signal.aborted) return this.failed(run, kind, 'aborted', 'the batch ended before the call was made');
    try {
      if (kind === 'geolocation') {
        const found = (await this.geolocation).lookup(payload);
        count(run, kind, 'ok');
        return `o${JSON.stringify(found)}`;
      }
      const request = this.requestOf(payload);
      if (!this.egress) return this.failed(run, kind, 'not_configured', 'outbound calls are not available right now');
      const response = await this.egress.request(request, run.signal);
      count(run, kind, 'ok');
      // The head as JSON (which escapes every newline), then the body as it came.
      return `o${JSON.stringify({ status: response.status, url: response.url, headers: response.headers })}\n${response.body}`;
    } catch (error) {
      if (error instanceof EgressError) return this.failed(run, kind, error.code, error.message);
      if (error instanceof GeolocationError) return this.failed(run, kind, error.code, error.message);
      // Not the user's doing: the reason goes to the host's log, users get no host detail.
      process.stderr.write(`tiller sandbox host: an outbound call failed unexpectedly: ${error instanceof Error ? error.message : String(error)}\n`);
      return this.failed(run, kind, 'error', 'the call failed');
    }
  }

  async close(): Promise<void> {
    await this.egress?.close();
    (await this.geolocation).close();
  }

  private failed(run: OutboundRun, kind: OutboundKind, outcome: string, message: string): string {
    count(run, kind, outcome);
    return `e${message}`;
  }

  /** The request the isolate's wrapper wrote, checked field by field. */
  private requestOf(payload: unknown): OutboundRequest {
    if (typeof payload !== 'string' || payload.length > this.options.maxResponseBytes + MAX_URL_CHARS + 64 * 1024) {
      throw new EgressError('invalid_request', `the request is larger than ${this.options.maxResponseBytes} bytes`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload);
    } catch {
      throw new EgressError('invalid_request', 'the request could not be read');
    }
    if (parsed === null || typeof parsed !== 'object') throw new EgressError('invalid_request', 'the request could not be read');
    const { url, method, headers, body } = parsed as Record<string, unknown>;
    if (typeof url !== 'string' || url.length > MAX_URL_CHARS) throw new EgressError('invalid_request', `fetch url must be a string of at most ${MAX_URL_CHARS} characters`);
    const request: OutboundRequest = { url };
    if (method !== undefined) {
      if (typeof method !== 'string') throw new EgressError('invalid_request', 'method must be a string');
      request.method = method;
    }
    if (headers !== undefined) {
      if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) throw new EgressError('invalid_request', 'headers must be an object of strings');
      const entries = Object.entries(headers);
      if (entries.length > MAX_HEADERS) throw new EgressError('invalid_request', `at most ${MAX_HEADERS} headers`);
      request.headers = {};
      for (const [name, value] of entries) {
        if (typeof value !== 'string') throw new EgressError('invalid_request', `header ${JSON.stringify(name.slice(0, 100))} must be a string`);
        request.headers[name] = value;
      }
    }
    if (body !== undefined) {
      if (typeof body !== 'string') throw new EgressError('invalid_request', 'body must be a string (JSON.stringify an object first)');
      if (Buffer.byteLength(body, 'utf8') > this.options.maxResponseBytes) throw new EgressError('invalid_request', `the request body is larger than ${this.options.maxResponseBytes} bytes`);
      request.body = body;
    }
    return request;
  }
}

/** The agent for fetch and fetchV2, built when the host starts so a bad setting shows at once. */
function startEgress(options: OutboundOptions): Egress | null {
  try {
    return createEgress({ allow: options.allow, timeoutMs: options.timeoutMs, maxResponseBytes: options.maxResponseBytes, maxRedirects: options.maxRedirects });
  } catch (error) {
    process.stderr.write(`tiller sandbox host: fetch and fetchV2 are unavailable: ${error instanceof Error ? error.message : String(error)}\n`);
    return null;
  }
}

function count(run: OutboundRun, kind: OutboundKind, outcome: string): void {
  const byOutcome = (run.tally[kind] ??= {});
  byOutcome[outcome] = (byOutcome[outcome] ?? 0) + 1;
}
