import { RETRYABLE_RUN_ERRORS, RunError, type EventOutcome, type LibrarySource, type Runtime } from '../runtime/types.js';
import { DomainError } from './errors.js';
import { librariesForRun, type VersionResolver } from './serving.js';
import type { LibraryVersion, TransformationVersion } from './versions.js';

// The rudder-server wire protocol (POST /customTransform): parse and group a batch, run each group
// on its version, and answer one JSON array in input order. The answer is assembled as text: output
// events arrive from the sandbox as JSON text and are spliced in without being parsed again, and
// each event's metadata is serialized once however many outputs it has.

/** One group: events sharing destinationId and sourceId, run on the version its first event names. */
export interface WireGroup {
  versionId: string;
  /** Input positions of the group's events, in input order. */
  positions: number[];
  messages: unknown[];
  metadata: Record<string, unknown>[];
}

export interface WireBatch {
  size: number;
  groups: WireGroup[];
  /** Entries refused before running, with the reason (they answer statusCode 400). */
  rejected: Array<{ position: number; error: string }>;
  /** Library version ids from the first entry: the only `libraries` the protocol honours. */
  libraryVersionIds: string[];
  /** The metadata each entry carried, as the JSON text its answers echo (`{}` when it had none). */
  metadataJson: string[];
}

const EMPTY_METADATA: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The reason an entry cannot run, or its transformation version id. */
function versionIdOf(entry: Record<string, unknown>): { versionId: string } | { error: string } {
  if (!isPlainObject(entry.message)) return { error: 'message is required and must be an object' };
  if (entry.metadata !== undefined && !isPlainObject(entry.metadata)) return { error: 'metadata must be an object' };
  const destination = entry.destination;
  if (!isPlainObject(destination)) return { error: 'destination is required and must be an object' };
  const transformations = destination.Transformations;
  if (!Array.isArray(transformations) || transformations.length === 0) return { error: 'destination.Transformations must be a non-empty array' };
  const first: unknown = transformations[0];
  const versionId = isPlainObject(first) ? first.VersionID : undefined;
  if (typeof versionId !== 'string' || versionId === '') return { error: 'destination.Transformations[0].VersionID is required and must be a non-empty string' };
  return { versionId };
}

function libraryIdsOf(first: unknown): string[] {
  if (!isPlainObject(first) || !Array.isArray(first.libraries)) return [];
  const ids: string[] = [];
  for (const library of first.libraries as unknown[]) {
    const id = isPlainObject(library) ? library.VersionID : undefined;
    if (typeof id === 'string' && id !== '' && !ids.includes(id)) ids.push(id);
  }
  return ids;
}

/**
 * JSON text of a parsed body value, or undefined when JSON.stringify cannot write it. A parsed
 * body holds no functions, BigInts or cycles, so the only failure is nesting deeper than
 * JSON.stringify's recursion allows (JSON.parse, which is not recursive, accepts it).
 */
function jsonOf(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}

/**
 * Metadata that cannot be echoed whole still has to tell rudder-server which job an answer is for:
 * the top-level fields that serialize are kept (jobId, messageId and the rest), written as text so
 * that a key such as `__proto__` stays a plain key.
 */
function echoableMetadata(metadata: Record<string, unknown>): string {
  const fields: string[] = [];
  for (const key of Object.keys(metadata)) {
    const json = jsonOf(metadata[key]);
    if (json !== undefined) fields.push(`${JSON.stringify(key)}:${json}`);
  }
  return `{${fields.join(',')}}`;
}

/** Group key part: strings as sent; anything else by its JSON text, so no value can throw here. */
function keyPart(value: unknown): string {
  if (typeof value === 'string') return `s${value}`;
  return `j${jsonOf(value) ?? '?'}`;
}

const TOO_DEEP = 'is nested too deeply to serialize as JSON';

/**
 * Groups entries by `metadata.destinationId` and `metadata.sourceId`, in order of first appearance.
 * Malformed entries are set aside with a reason and take no part in grouping, so one bad entry
 * never decides which version its neighbours run, and never fails them.
 */
export function groupWireBatch(entries: readonly unknown[]): WireBatch {
  const groups: WireGroup[] = [];
  const byKey = new Map<string, WireGroup>();
  const rejected: WireBatch['rejected'] = [];
  const metadataJson = new Array<string>(entries.length);
  for (let position = 0; position < entries.length; position++) {
    const entry = entries[position];
    if (!isPlainObject(entry)) {
      metadataJson[position] = '{}';
      rejected.push({ position, error: 'each event must be an object with message, metadata and destination' });
      continue;
    }
    const meta = isPlainObject(entry.metadata) ? entry.metadata : EMPTY_METADATA;
    const metaJson = jsonOf(meta);
    metadataJson[position] = metaJson ?? echoableMetadata(meta);
    const resolved = versionIdOf(entry);
    if ('error' in resolved) {
      rejected.push({ position, error: resolved.error });
      continue;
    }
    if (metaJson === undefined) {
      rejected.push({ position, error: `metadata ${TOO_DEEP}` });
      continue;
    }
    const key = `${keyPart(meta.destinationId)}\u0000${keyPart(meta.sourceId)}`;
    let group = byKey.get(key);
    if (group === undefined) {
      group = { versionId: resolved.versionId, positions: [], messages: [], metadata: [] };
      byKey.set(key, group);
      groups.push(group);
    }
    group.positions.push(position);
    group.messages.push(entry.message);
    group.metadata.push(meta);
  }
  return { size: entries.length, groups, rejected, libraryVersionIds: libraryIdsOf(entries[0]), metadataJson };
}

/** Builds the answer array as text, one slot per input position so the output keeps input order. */
export class WireResponse {
  private readonly slots: Array<string | undefined>;

  /** `metadataJson[position]` is the metadata text every answer for that entry carries. */
  constructor(private readonly metadataJson: readonly string[]) {
    this.slots = new Array<string | undefined>(metadataJson.length);
  }

  metadataOf(position: number): string {
    return this.metadataJson[position] ?? '{}';
  }

  private append(position: number, fragment: string): void {
    const slot = this.slots[position];
    this.slots[position] = slot === undefined ? fragment : `${slot},${fragment}`;
  }

  output(position: number, outputJson: string, metadataJson = this.metadataOf(position)): void {
    this.append(position, `{"output":${outputJson},"metadata":${metadataJson},"statusCode":200}`);
  }

  failure(position: number, statusCode: number, error: string, metadataJson = this.metadataOf(position)): void {
    this.append(position, `{"statusCode":${statusCode},"error":${JSON.stringify(error)},"metadata":${metadataJson}}`);
  }

  /** A dropped event, for clients that asked for them (X-Feature-Filter-Code). */
  filtered(position: number): void {
    this.append(position, `{"statusCode":298,"metadata":${this.metadataOf(position)}}`);
  }

  toJson(): string {
    let out = '[';
    let first = true;
    for (const slot of this.slots) {
      if (slot === undefined) continue;
      out += first ? slot : `,${slot}`;
      first = false;
    }
    return out + ']';
  }
}

/** Tally of what one request did, for the serving counters. */
export interface WireTally {
  events: number;
  malformed: number;
  versionNotFound: number;
}

export interface WireServingDeps {
  runtime: Runtime;
  resolver: VersionResolver;
  /** JSON text of a 200 outcome's output; the runtime's own accessor avoids a parse and a stringify. */
  outputJson: (outcome: EventOutcome) => string;
}

export interface WireServingOptions {
  /** Only this workspace's versions are visible; undefined on the credential-free surface. */
  workspaceId: string | undefined;
  /** Answer dropped events with statusCode 298 instead of leaving them out. */
  filterDropped: boolean;
}

/**
 * RunError codes after which the sender should retry the whole request (503). A batch that crashed
 * its sandbox process is among them: on the retry its version is quarantined and answers per-event
 * 400 entries, so rudder-server learns the outcome without losing the batch's neighbours.
 */
const RETRY_REQUEST_ON = new Set([...RETRYABLE_RUN_ERRORS, 'sandbox_crashed']);

function commonMetadataOf(group: WireGroup): Record<string, unknown> {
  const first = group.metadata[0] ?? EMPTY_METADATA;
  return {
    sourceId: first.sourceId,
    destinationId: first.destinationId,
    destinationType: first.destinationType,
    workspaceId: first.workspaceId,
    messageIds: group.metadata.map((m) => m.messageId),
  };
}

/**
 * The group's messages as one JSON array, serialized in one pass. Should one be nested too deeply
 * for JSON.stringify, each is serialized on its own: those that cannot be answer 400 and leave the
 * group (which may end up empty), the rest run.
 */
function messagesJson(group: WireGroup, response: WireResponse): string {
  const whole = jsonOf(group.messages);
  if (whole !== undefined) return whole;
  const kept: WireGroup = { ...group, positions: [], messages: [], metadata: [] };
  const parts: string[] = [];
  group.positions.forEach((position, i) => {
    const json = jsonOf(group.messages[i]);
    if (json === undefined) {
      response.failure(position, 400, `message ${TOO_DEEP}`);
      return;
    }
    parts.push(json);
    kept.positions.push(position);
    kept.messages.push(group.messages[i]);
    kept.metadata.push(group.metadata[i] as Record<string, unknown>);
  });
  Object.assign(group, kept);
  return `[${parts.join(',')}]`;
}

/** A store lookup; when the store fails, the request is worth retrying, not a permanent failure of every event (spec 7.6). */
async function fromStore<T>(lookup: () => Promise<T>): Promise<T> {
  try {
    return await lookup();
  } catch (error) {
    throw new DomainError('unavailable', 'store_unavailable', 'the store did not answer while looking up transformation versions; try again', undefined, 1, error);
  }
}

/** Serves one /customTransform request and returns the answer body as JSON text. */
export async function serveWireBatch(deps: WireServingDeps, entries: readonly unknown[], options: WireServingOptions): Promise<{ json: string; tally: WireTally }> {
  const batch = groupWireBatch(entries);
  const response = new WireResponse(batch.metadataJson);
  const tally: WireTally = { events: batch.size, malformed: batch.rejected.length, versionNotFound: 0 };
  for (const { position, error } of batch.rejected) response.failure(position, 400, error);

  let libraries: Promise<Map<string, LibraryVersion>> | undefined;
  const librariesFor = async (version: TransformationVersion): Promise<LibrarySource[]> => {
    if (version.imports.length === 0 || batch.libraryVersionIds.length === 0) return [];
    libraries ??= deps.resolver.libraryVersions(batch.libraryVersionIds);
    const available = await libraries;
    return librariesForRun(version, batch.libraryVersionIds.map((id) => available.get(id)).filter((l): l is LibraryVersion => l !== undefined));
  };

  const runGroup = async (group: WireGroup): Promise<void> => {
    const cached = deps.resolver.peekTransformation(group.versionId);
    const version = cached === undefined ? await fromStore(() => deps.resolver.transformation(group.versionId)) : (cached ?? undefined);
    if (version === undefined || (options.workspaceId !== undefined && version.workspaceId !== options.workspaceId)) {
      tally.versionNotFound += group.positions.length;
      const message = `transformation version ${group.versionId} not found`;
      for (const position of group.positions) response.failure(position, 404, message);
      return;
    }
    if (version.language !== 'javascript') {
      for (const position of group.positions) response.failure(position, 400, `language ${version.language} is not supported by this runtime`);
      return;
    }
    const libraries = await fromStore(() => librariesFor(version));
    const eventsJson = messagesJson(group, response);
    if (group.positions.length === 0) return;
    let output;
    try {
      output = await deps.runtime.run({
        workspaceId: version.workspaceId,
        transformation: { versionId: version.versionId, code: version.code, codeVersion: version.codeVersion },
        libraries,
        events: group.messages,
        eventsJson,
        metadata: group.metadata,
        // Each entry's metadata JSON is needed for the answer anyway; the sandbox gets the same text.
        metadataJson: `[${group.positions.map((position) => response.metadataOf(position)).join(',')}]`,
        captureLogs: false,
      });
    } catch (error) {
      if (!(error instanceof RunError)) throw error;
      if (RETRY_REQUEST_ON.has(error.code)) throw new DomainError('unavailable', error.code, error.message, undefined, error.retryAfterSeconds ?? 1);
      for (const position of group.positions) response.failure(position, 400, error.message);
      return;
    }
    const { positions } = group;
    let common: string | undefined;
    for (const outcome of output.results) {
      // transformBatch may return more events than it was given; ones that trace back to no input
      // carry the group's common metadata, as rudder-transformer answers them.
      const traced = outcome.index < positions.length;
      const position = traced ? (positions[outcome.index] as number) : (positions[positions.length - 1] as number);
      const metadataJson = traced ? undefined : (common ??= JSON.stringify(commonMetadataOf(group)));
      if (outcome.statusCode === 200) response.output(position, deps.outputJson(outcome), metadataJson);
      else response.failure(position, 400, outcome.error, metadataJson);
    }
    if (options.filterDropped) {
      for (const index of output.dropped) {
        const position = positions[index];
        if (position !== undefined) response.filtered(position);
      }
    }
  };

  const groups = batch.groups;
  if (groups.length === 1) await runGroup(groups[0] as WireGroup);
  else if (groups.length > 1) await Promise.all(groups.map(runGroup));
  return { json: response.toJson(), tally };
}

/** rudder-server sends the structured-header boolean `?1`; the spec and older clients send `true`. */
export function wantsFilteredEvents(header: string | string[] | undefined): boolean {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return false;
  const normalized = value.trim().toLowerCase();
  return normalized === 'true' || normalized === '?1' || normalized === '1';
}
