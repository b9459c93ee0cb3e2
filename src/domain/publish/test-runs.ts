// Running saved or unsaved code on test events and judging the outcome: the sample event used when
// a caller gives no test input, one batch run as a BatchRun, output comparison, and a one-line
// failure summary. Nothing here writes to the store; save, test and publish all run through here.

import type { EventOutcome, LibrarySource, Runtime, TransformationSource } from '../../runtime/types.js';
import { credentialsForRun, runEvents, type CredentialSource } from '../serving/run-events.js';
import type { LinkResult } from '../serving/linking.js';

/** The event a test runs on when the caller gives none: a typical track call. */
export const SAMPLE_EVENT: Readonly<Record<string, unknown>> = Object.freeze({
  type: 'track',
  event: 'Product Purchased',
  userId: 'sample-user-1',
  anonymousId: '8d872292709c6fbe',
  messageId: 'sample-message-1',
  channel: 'web',
  originalTimestamp: '2024-01-01T00:00:00.000Z',
  sentAt: '2024-01-01T00:00:00.000Z',
  timestamp: '2024-01-01T00:00:00.000Z',
  context: {
    ip: '203.0.113.7',
    library: { name: 'RudderLabs JavaScript SDK', version: '3.0.0' },
    locale: 'en-US',
    page: { path: '/checkout', url: 'https://www.example.com/checkout', title: 'Checkout' },
    traits: { email: 'sample-user@example.com', name: 'Sample User' },
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64)',
  },
  properties: { orderId: 'order-1', revenue: 42.5, currency: 'USD', products: [{ sku: 'sku-1', price: 42.5, quantity: 1 }] },
});

export function sampleEvents(): Record<string, unknown>[] {
  return [structuredClone(SAMPLE_EVENT) as Record<string, unknown>];
}

export interface EventError {
  /** Input index of the event that failed; absent when the whole batch failed. */
  index?: number;
  /** Set for whole-batch failures: cpu_limit, memory_limit, code_error, link_error, ... */
  code?: string;
  message: string;
}

/** One run of code on a batch of events. */
export interface BatchRun {
  ok: boolean;
  /** Outcomes as the runtime reports them (empty when the whole batch failed). */
  results: EventOutcome[];
  /** The output events, in order. */
  outputs: Record<string, unknown>[];
  dropped: number[];
  errors: EventError[];
  logs: string[];
}

/**
 * Runs code on test events. Per-event failures and whole-batch failures (limits, throws, link
 * errors) become a failed BatchRun; what fails the request instead (an overloaded or stopping
 * runtime, a crash-limited workspace) is decided by the one policy in serving/run-events.ts.
 */
export async function runBatch(
  ctx: { runtime: Runtime; credentials?: CredentialSource | undefined },
  workspaceId: string,
  transformation: TransformationSource,
  libraries: LibrarySource[],
  events: unknown[],
): Promise<BatchRun> {
  const credentials = await credentialsForRun(ctx.credentials, workspaceId, undefined);
  const run = await runEvents(ctx.runtime, { workspaceId, transformation, libraries, events, captureLogs: true, ...(credentials ? { credentials } : {}) }, 'developer');
  if (!run.ok) return { ok: false, results: [], outputs: [], dropped: [], errors: [{ code: run.failure.code, message: run.failure.message }], logs: run.failure.logs };
  const outputs: Record<string, unknown>[] = [];
  const errors: EventError[] = [];
  for (const outcome of run.output.results) {
    if (outcome.statusCode === 200) outputs.push(outcome.output);
    else errors.push({ index: outcome.index, message: outcome.error });
  }
  return { ok: errors.length === 0, results: run.output.results, outputs, dropped: run.output.dropped, errors, logs: run.output.logs };
}

/** A failed link, reported like a whole-batch failure. */
export function linkFailure(link: Extract<LinkResult, { ok: false }>): BatchRun {
  return { ok: false, results: [], outputs: [], dropped: [], errors: [{ code: link.code, message: link.message }], logs: [] };
}

/** Equality of JSON values: key order does not matter, array order does. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((value, index) => jsonEqual(value, other[index]));
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const leftKeys = Object.keys(left).filter((key) => left[key] !== undefined);
  const rightKeys = Object.keys(right).filter((key) => right[key] !== undefined);
  return leftKeys.length === rightKeys.length && leftKeys.every((key) => Object.hasOwn(right, key) && jsonEqual(left[key], right[key]));
}

/** Summarizes why a batch failed, in one line for people. */
export function describeFailure(run: BatchRun): string {
  const first = run.errors[0];
  if (!first) return 'the run failed';
  const where = first.index !== undefined ? `event ${first.index}: ` : '';
  const more = run.errors.length > 1 ? ` (and ${run.errors.length - 1} more error${run.errors.length > 2 ? 's' : ''})` : '';
  return `${where}${first.message}${more}`;
}
