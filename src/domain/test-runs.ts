// Running saved or inline code on test events: which library versions a run links, how one test
// case is judged, and the default sample event used when a caller gives no test input. Nothing
// here writes to the store; save, test and publish calls all go through these functions.

import type { Kysely } from 'kysely';
import { RETRYABLE_RUN_ERRORS, RunError, type EventOutcome, type LibrarySource } from '../runtime/types.js';
import type { Database } from '../store/schema.js';
import { runFailureOf } from './errors.js';
import type { CatalogContext } from './code-checks.js';
import { toLibraryVersion, type LibraryVersion } from './versions.js';

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

/**
 * How a run picks a library version for each import:
 * - test: a listed version, else the library's published version, else its latest (a library that
 *   was never published can still be tried out);
 * - publish: a listed version, else the published one; an import with neither cannot be published,
 *   because the runtime links published versions only.
 */
export type LinkMode = 'test' | 'publish';

export type LinkResult = { ok: true; libraries: LibrarySource[]; versionIds: string[] } | { ok: false; code: string; message: string; imports: string[] };

interface LiveLibrary {
  importName: string;
  published: LibraryVersion | undefined;
  latest: LibraryVersion;
}

/** Resolves import names to library versions for one request, fetching each library once. */
export class LibraryLinker {
  private readonly live = new Map<string, LiveLibrary | null>();
  private readonly listedByImport: Map<string, LibraryVersion>;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly workspaceId: string,
    listed: LibraryVersion[],
    private readonly mode: LinkMode,
  ) {
    this.listedByImport = new Map(listed.map((version) => [version.importName, version]));
  }

  async link(imports: string[]): Promise<LinkResult> {
    await this.load(imports.filter((name) => !this.listedByImport.has(name)));
    const libraries: LibrarySource[] = [];
    const missing: string[] = [];
    const unpublished: string[] = [];
    for (const importName of imports) {
      const listed = this.listedByImport.get(importName);
      const live = this.live.get(importName);
      const version = listed ?? live?.published ?? (this.mode === 'test' ? live?.latest : undefined);
      if (version) libraries.push({ versionId: version.versionId, importName, code: version.code });
      else if (live) unpublished.push(importName);
      else missing.push(importName);
    }
    if (missing.length > 0) {
      return { ok: false, code: 'unknown_import', message: `the code imports ${quoteList(missing)}, which ${missing.length === 1 ? 'is not a library' : 'are not libraries'} of this workspace`, imports: missing };
    }
    if (unpublished.length > 0) {
      return {
        ok: false,
        code: 'unpublished_import',
        message: `the code imports ${quoteList(unpublished)}, which ${unpublished.length === 1 ? 'has' : 'have'} no published version; publish ${unpublished.length === 1 ? 'it' : 'them'} in the same request (list the version under "libraries")`,
        imports: unpublished,
      };
    }
    return { ok: true, libraries, versionIds: libraries.map((library) => library.versionId) };
  }

  private async load(importNames: string[]): Promise<void> {
    const wanted = [...new Set(importNames)].filter((name) => !this.live.has(name));
    if (wanted.length === 0) return;
    const rows = await this.db
      .selectFrom('libraries')
      .select(['import_name', 'latest_version_id', 'published_version_id'])
      .where('workspace_id', '=', this.workspaceId)
      .where('deleted_at', 'is', null)
      .where('import_name', 'in', wanted)
      .execute();
    const versionIds = rows.flatMap((row) => (row.published_version_id ? [row.latest_version_id, row.published_version_id] : [row.latest_version_id]));
    const versions = new Map(
      versionIds.length === 0
        ? []
        : (await this.db.selectFrom('library_versions').selectAll().where('id', 'in', [...new Set(versionIds)]).execute()).map((row) => [row.id, toLibraryVersion(row)] as const),
    );
    for (const name of wanted) this.live.set(name, null);
    for (const row of rows) {
      const latest = versions.get(row.latest_version_id);
      if (!latest) continue;
      this.live.set(row.import_name, { importName: row.import_name, latest, published: row.published_version_id ? versions.get(row.published_version_id) : undefined });
    }
  }
}

export function quoteList(names: string[]): string {
  const quoted = names.map((name) => `"${name}"`);
  return quoted.length <= 1 ? (quoted[0] ?? '') : `${quoted.slice(0, -1).join(', ')} and ${quoted[quoted.length - 1]}`;
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
 * Runs code on events. Per-event failures and whole-batch failures (limits, throws, link errors)
 * become a failed BatchRun; an overloaded or stopping runtime fails the request instead (503),
 * since that says nothing about the code.
 */
export async function runBatch(
  ctx: CatalogContext,
  workspaceId: string,
  transformation: { versionId: string; code: string; inline?: boolean },
  libraries: LibrarySource[],
  events: unknown[],
  metadata?: unknown[],
): Promise<BatchRun> {
  try {
    const output = await ctx.runtime.run({ workspaceId, transformation, libraries, events, ...(metadata ? { metadata } : {}), captureLogs: true });
    const outputs: Record<string, unknown>[] = [];
    const errors: EventError[] = [];
    for (const outcome of output.results) {
      if (outcome.statusCode === 200) outputs.push(outcome.output);
      else errors.push({ index: outcome.index, message: outcome.error });
    }
    return { ok: errors.length === 0, results: output.results, outputs, dropped: output.dropped, errors, logs: output.logs };
  } catch (error) {
    if (!(error instanceof RunError)) throw error;
    // Tiller's own trouble, or a workspace past its crash limit, fails the request, not the code.
    if (RETRYABLE_RUN_ERRORS.has(error.code) || error.code === 'crash_limited') throw runFailureOf(error);
    return { ok: false, results: [], outputs: [], dropped: [], errors: [{ code: error.code, message: error.message }], logs: error.logs };
  }
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
