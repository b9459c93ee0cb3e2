import { randomUUID } from 'node:crypto';
import type { EventOutcome, LibrarySource, Runtime } from '../../runtime/types.js';
import { DomainError } from '../errors.js';
import { runtimeLanguage, SUPPORTED_LANGUAGES } from '../code-checks.js';
import type { LibraryVersion, TransformationVersion } from '../versions.js';
import { librariesForRun } from './linking.js';
import { mergeCredentials, runEvents, type EventsRun } from './run-events.js';
import type { CanaryRouter } from '../release/canary-router.js';
import type { ShadowRunner } from '../release/shadow.js';
import type { LiveBatch, LiveError, LiveStats } from '../stats/live-stats.js';
import type { VersionResolver } from './version-resolver.js';

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
  /**
   * What `getCredential(key)` gives, from the first entry's `credentials` (the only ones the
   * protocol honours, as with libraries); undefined when it carried none.
   */
  credentials: Record<string, unknown> | undefined;
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
  // Checked before any store lookup: text no version id can be (a NUL, say) must fail its entry,
  // not make the store refuse the query and the whole request answer 503 on every retry.
  if (!isVersionId(versionId)) return { error: `destination.Transformations[0].VersionID must be 1 to ${MAX_VERSION_ID_CHARS} printable ASCII characters` };
  return { versionId };
}

/** Longer than any id Tiller issues; what is longer or not printable ASCII names no version. */
const MAX_VERSION_ID_CHARS = 64;
const VERSION_ID = /^[\x21-\x7e]+$/;
const isVersionId = (id: unknown): id is string => typeof id === 'string' && id.length <= MAX_VERSION_ID_CHARS && VERSION_ID.test(id);

/** Library versions one batch may link, as the run endpoints allow; the rest are not looked up. */
const MAX_LIBRARY_IDS = 100;

function libraryIdsOf(first: unknown): string[] {
  if (!isPlainObject(first) || !Array.isArray(first.libraries)) return [];
  const ids = new Set<string>();
  for (const library of first.libraries as unknown[]) {
    const id = isPlainObject(library) ? library.VersionID : undefined;
    if (isVersionId(id)) ids.add(id);
    if (ids.size === MAX_LIBRARY_IDS) break;
  }
  return [...ids];
}

/** Credentials one request may bring, and the characters of their keys and values together. */
const MAX_CREDENTIALS = 1000;
const MAX_CREDENTIAL_CHARS = 1024 * 1024;

/**
 * The first entry's `credentials: [{ id?, key, value, isSecret }]` as a key → value map, later
 * entries winning over earlier ones with the same key (as rudder-transformer builds its map).
 * Never fails the events: a `credentials` that is not an array is ignored, an entry that is not an
 * object or whose key is not a non-empty string is skipped, and past MAX_CREDENTIALS entries or
 * MAX_CREDENTIAL_CHARS characters the rest are left out. Keys such as `__proto__` are plain keys.
 */
export function credentialsOf(first: unknown): Record<string, unknown> | undefined {
  if (!isPlainObject(first) || !Array.isArray(first.credentials)) return undefined;
  const list = first.credentials as unknown[];
  const count = Math.min(list.length, MAX_CREDENTIALS);
  let map: Record<string, unknown> | undefined;
  let chars = 0;
  for (let i = 0; i < count; i++) {
    const credential = list[i];
    if (!isPlainObject(credential)) continue;
    const { key, value } = credential;
    if (typeof key !== 'string' || key === '') continue;
    const size = typeof value === 'string' ? value.length : value === undefined ? 0 : jsonOf(value)?.length;
    if (size === undefined) continue;
    chars += key.length + size;
    if (chars > MAX_CREDENTIAL_CHARS) break;
    map ??= {};
    Object.defineProperty(map, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return map;
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
  return { size: entries.length, groups, rejected, libraryVersionIds: libraryIdsOf(entries[0]), metadataJson, credentials: credentialsOf(entries[0]) };
}

/** Builds the answer array as text, one slot per input position so the output keeps input order. */
export class WireResponse {
  private readonly slots: Array<string | undefined>;
  /** Characters of output entries so far (see reserve). */
  private outputChars = 0;

  /** `metadataJson[position]` is the metadata text every answer for that entry carries. */
  constructor(private readonly metadataJson: readonly string[]) {
    this.slots = new Array<string | undefined>(metadataJson.length);
  }

  metadataOf(position: number): string {
    return this.metadataJson[position] ?? '{}';
  }

  /**
   * Takes `chars` of the answer's budget for a group's output entries, or says there is none left.
   * Failure entries are never refused: each is bounded by its input, and every input needs one.
   */
  reserve(chars: number, maxChars: number): boolean {
    if (this.outputChars + chars > maxChars) return false;
    this.outputChars += chars;
    return true;
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
  /** Groups whose code tried a fetch or fetchV2 that a run without side effects did not make. */
  outboundSkipped: number;
}

export interface WireServingDeps {
  runtime: Runtime;
  resolver: VersionResolver;
  /** JSON text of a 200 outcome's output; the runtime's own accessor avoids a parse and a stringify. */
  outputJson: (outcome: EventOutcome) => string;
  /**
   * Most characters the output entries of one answer may take, metadata echoes included. Each
   * group's output is bounded already, but every output entry repeats its input's metadata and a
   * request may hold many groups; past this, a group's events fail instead of the whole answer.
   */
  maxAnswerChars: number;
  /**
   * The credentials a workspace keeps for its code (`getCredential`), by key. A group's run gets
   * these for its version's workspace with the request's own `credentials` on top. A lookup that
   * throws or rejects fails the request as the store being away does: 503, retryable. With
   * `secrets: false` only the values that are not secret.
   */
  workspaceCredentials?: (workspaceId: string, options: { secrets: boolean }) => Promise<Record<string, unknown>> | Record<string, unknown>;
  /** Where each group's figures and failed events go (per-transformation stats); none when off. */
  stats?: LiveStats | undefined;
  /** Running canaries: which requests they split, and their guards. */
  canaries?: CanaryRouter | undefined;
  /** Running shadows: which live batches are copied for a candidate version, after their answer. */
  shadows?: ShadowRunner | undefined;
}

export interface WireServingOptions {
  /** Only this workspace's versions are visible; undefined on the credential-free surface. */
  workspaceId: string | undefined;
  /** Answer dropped events with statusCode 298 instead of leaving them out. */
  filterDropped: boolean;
  /**
   * The caller may read but not change the workspace (a read-only access token). Should it send
   * credentials of its own, its runs get no secret of the workspace's: otherwise it could point
   * stored code that sends a secret somewhere (a URL credential) at an address of its choosing.
   */
  readOnlyCaller?: boolean;
  /** false: a run whose answer is compared, never used (rudder-server's mirror): no fetch or fetchV2 is made. */
  sideEffects?: boolean;
}

/** What rudder-transformer answers a transformBatch failure that names no input with: the group's identity and every messageId. */
function commonMetadataOf(group: WireGroup): Record<string, unknown> {
  const first = group.metadata[0] ?? EMPTY_METADATA;
  return {
    sourceId: first.sourceId,
    destinationId: first.destinationId,
    destinationType: first.destinationType,
    workspaceId: first.workspaceId,
    transformationId: first.transformationId,
    messageIds: group.metadata.map((m) => m.messageId),
  };
}

/** The fields an output that traces back to no input gets anew; the rest are the first input's. */
const RENEWED = new Set(['messageId', 'eventName', 'eventType']);

/**
 * The first input's metadata as JSON text without its closing brace and without the RENEWED
 * fields: `{"jobId":1,"sourceId":"s"` (or `{`). Written once per group, then each untraced output
 * appends its own fields. The metadata serialized whole already, so each field does.
 */
function untracedMetadataBase(first: Record<string, unknown>): string {
  let text = '{';
  for (const key of Object.keys(first)) {
    if (RENEWED.has(key)) continue;
    const json = jsonOf(first[key]);
    if (json === undefined) continue;
    text += `${text.length > 1 ? ',' : ''}${JSON.stringify(key)}:${json}`;
  }
  return text;
}

/**
 * Metadata of a transformBatch output that traces back to no input, as rudder-transformer builds it:
 * the group's first input's metadata with a new UUID `messageId`, and `eventName` / `eventType` taken
 * from the output's `event` / `type` (left out when those are not strings: rudder-server reads them
 * as strings, and one of another type would make it refuse the whole answer).
 */
function untracedMetadataJson(base: string, output: Record<string, unknown>): string {
  let text = `${base}${base.length > 1 ? ',' : ''}"messageId":"${randomUUID()}"`;
  const { event, type } = output;
  if (typeof event === 'string') text += `,"eventName":${JSON.stringify(event)}`;
  if (typeof type === 'string') text += `,"eventType":${JSON.stringify(type)}`;
  return `${text}}`;
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
async function fromStore<T>(lookup: () => Promise<T> | T, what = 'transformation versions'): Promise<T> {
  try {
    return await lookup();
  } catch (error) {
    throw new DomainError('unavailable', 'store_unavailable', `the store did not answer while looking up ${what}; try again`, undefined, 1, error);
  }
}

/** Serves one /customTransform request and returns the answer body as JSON text. */
export async function serveWireBatch(deps: WireServingDeps, entries: readonly unknown[], options: WireServingOptions): Promise<{ json: string; tally: WireTally }> {
  const batch = groupWireBatch(entries);
  const response = new WireResponse(batch.metadataJson);
  const tally: WireTally = { events: batch.size, malformed: batch.rejected.length, versionNotFound: 0, outboundSkipped: 0 };
  for (const { position, error } of batch.rejected) response.failure(position, 400, error);

  let libraries: Promise<Map<string, LibraryVersion>> | undefined;
  const librariesFor = async (version: TransformationVersion): Promise<LibrarySource[]> => {
    if (version.imports.length === 0 || batch.libraryVersionIds.length === 0) return [];
    libraries ??= deps.resolver.libraryVersions(batch.libraryVersionIds);
    const available = await libraries;
    return librariesForRun(version, batch.libraryVersionIds.map((id) => available.get(id)).filter((l): l is LibraryVersion => l !== undefined));
  };

  const versionNamed = async (versionId: string): Promise<TransformationVersion | undefined> => {
    const cached = deps.resolver.peekTransformation(versionId);
    return cached === undefined ? await fromStore(() => deps.resolver.transformation(versionId)) : (cached ?? undefined);
  };

  // The request's credentials belong to the workspace of the first entry's version (they come
  // from that workspace's config); groups of any other workspace never see them.
  let requestWorkspace: Promise<string | undefined> | undefined;
  const requestWorkspaceOf = (): Promise<string | undefined> => {
    requestWorkspace ??= (async () => {
      const first = batch.groups.find((group) => group.positions.includes(0));
      if (!first || batch.credentials === undefined) return undefined;
      return (await versionNamed(first.versionId))?.workspaceId;
    })();
    return requestWorkspace;
  };

  // One lookup per workspace per request, however many of its groups run.
  const lookupCredentials = deps.workspaceCredentials;
  const secrets = !(options.readOnlyCaller === true && batch.credentials !== undefined);
  let credentialLookups: Map<string, Promise<Record<string, unknown> | undefined>> | undefined;
  const credentialsFor = (workspaceId: string): Promise<Record<string, unknown> | undefined> => {
    credentialLookups ??= new Map();
    let pending = credentialLookups.get(workspaceId);
    if (pending === undefined) {
      pending = (async () => {
        const fromRequest = batch.credentials !== undefined && (await requestWorkspaceOf()) === workspaceId ? batch.credentials : undefined;
        const own = lookupCredentials === undefined ? undefined : await fromStore(() => lookupCredentials(workspaceId, { secrets }), 'the workspace\'s credentials');
        return mergeCredentials(own, fromRequest);
      })();
      credentialLookups.set(workspaceId, pending);
    }
    return pending;
  };

  const runGroup = async (group: WireGroup): Promise<void> => {
    const version = await versionNamed(group.versionId);
    if (version === undefined || (options.workspaceId !== undefined && version.workspaceId !== options.workspaceId)) {
      tally.versionNotFound += group.positions.length;
      const message = `transformation version ${group.versionId} not found`;
      for (const position of group.positions) response.failure(position, 404, message);
      return;
    }
    // rudder-server sends JavaScript and Python (PYTHON_TRANSFORM_URL) transformations here alike.
    if (!(SUPPORTED_LANGUAGES as readonly string[]).includes(version.language)) {
      for (const position of group.positions) response.failure(position, 400, `language ${version.language} is not supported by this runtime`);
      return;
    }
    const libraries = await fromStore(() => librariesFor(version));
    const credentials = await credentialsFor(version.workspaceId);
    const eventsJson = messagesJson(group, response);
    if (group.positions.length === 0) return;
    // A whole-batch failure either fails the request (503, see requestFailureOf) or every event of the group.
    const started = performance.now();
    const run = await runEvents(
      deps.runtime,
      {
        workspaceId: version.workspaceId,
        transformation: { versionId: version.versionId, code: version.code, codeVersion: version.codeVersion, name: version.name, ...runtimeLanguage(version.language) },
        libraries,
        events: group.messages,
        eventsJson,
        metadata: group.metadata,
        // Each entry's metadata JSON is needed for the answer anyway; the sandbox gets the same text.
        metadataJson: `[${group.positions.map((position) => response.metadataOf(position)).join(',')}]`,
        captureLogs: false,
        credentials,
        ...(options.sideEffects === false ? { outbound: 'skip' as const } : {}),
      },
      'live',
    );
    if (run.ok && run.output.outbound && Object.values(run.output.outbound).some((byOutcome) => (byOutcome?.skipped ?? 0) > 0)) tally.outboundSkipped++;
    if (deps.stats || deps.canaries) {
      const figures = liveFiguresOf(version, group.messages.length, run, performance.now() - started);
      deps.canaries?.observe(version.versionId, figures);
      if (deps.stats) {
        deps.stats.record(figures);
        if (figures.failed > 0) deps.stats.recordErrors(figures, liveErrorsOf(group.messages, run, credentials));
      }
    }
    if (!run.ok) {
      for (const position of group.positions) response.failure(position, 400, run.failure.message);
      return;
    }
    const shadow = deps.shadows?.active ? deps.shadows.forStableVersion(version.versionId) : undefined;
    if (shadow && deps.shadows!.sampled(shadow)) {
      deps.shadows!.offer({ shadow, libraries, credentials, events: group.messages, metadata: group.metadata, live: run.output });
    }
    const output = run.output;
    const { positions } = group;
    let common: string | undefined;
    let untracedBase: string | undefined;
    // The group's entries are sized before any is added, so a group over the answer's budget fails whole.
    const entries: Array<{ position: number; outcome: EventOutcome; outputJson?: string; metadataJson: string | undefined }> = [];
    let chars = 0;
    for (const outcome of output.results) {
      // transformBatch may return more events than it was given. One that traces back to no input
      // is answered after the group's last input, with the metadata rudder-transformer gives it: an
      // output, the first input's with a new messageId (untracedMetadataJson); a failure, the
      // group's common metadata.
      const traced = outcome.index < positions.length;
      const position = traced ? (positions[outcome.index] as number) : (positions[positions.length - 1] as number);
      if (outcome.statusCode === 200) {
        const outputJson = deps.outputJson(outcome);
        const metadataJson = traced ? undefined : untracedMetadataJson((untracedBase ??= untracedMetadataBase(group.metadata[0] ?? EMPTY_METADATA)), outcome.output);
        chars += outputJson.length + (metadataJson ?? response.metadataOf(position)).length + 48;
        entries.push({ position, outcome, outputJson, metadataJson });
      } else {
        entries.push({ position, outcome, metadataJson: traced ? undefined : (common ??= JSON.stringify(commonMetadataOf(group))) });
      }
    }
    if (!response.reserve(chars, deps.maxAnswerChars)) {
      const message = `the answer to this request would be larger than its ${Math.round(deps.maxAnswerChars / (1024 * 1024))} MB limit; send fewer events per request`;
      for (const position of positions) response.failure(position, 400, message);
      return;
    }
    // Entries that trace back to no input (metadataJson set) go last, after the last input's own.
    let untraced = false;
    for (const { position, outcome, outputJson, metadataJson } of entries) {
      if (metadataJson !== undefined) untraced = true;
      else if (outcome.statusCode === 200) response.output(position, outputJson as string);
      else response.failure(position, 400, outcome.error);
    }
    if (untraced) {
      for (const { position, outcome, outputJson, metadataJson } of entries) {
        if (metadataJson === undefined) continue;
        if (outcome.statusCode === 200) response.output(position, outputJson as string, metadataJson);
        else response.failure(position, 400, outcome.error, metadataJson);
      }
    }
    if (options.filterDropped) {
      for (const index of output.dropped) {
        const position = positions[index];
        if (position !== undefined) response.filtered(position);
      }
    }
  };

  const groups = deps.canaries?.active ? splitForCanaries(batch.groups, deps.canaries) : batch.groups;
  if (groups.length === 1) await runGroup(groups[0] as WireGroup);
  else if (groups.length > 1) await Promise.all(groups.map(runGroup));
  return { json: response.toJson(), tally };
}

/** Failed events kept per group: the list shows the latest few, so more would only cost time. */
const ERRORS_PER_GROUP = 5;

/** What one group's run did, for the transformation's stats and a canary's guards. */
function liveFiguresOf(version: TransformationVersion, eventsIn: number, run: EventsRun, durationMs: number): LiveBatch {
  const ids = { workspaceId: version.workspaceId, transformationId: version.transformationId, versionId: version.versionId };
  if (!run.ok) return { ...ids, eventsIn, eventsOut: 0, dropped: 0, failed: eventsIn, durationMs, coldStart: false, outcome: run.failure.code };
  let eventsOut = 0;
  let failed = 0;
  for (const outcome of run.output.results) outcome.statusCode === 200 ? eventsOut++ : failed++;
  return { ...ids, eventsIn, eventsOut, dropped: run.output.dropped.length, failed, durationMs, coldStart: run.output.coldStart === true, outcome: 'ok' };
}

/** The group's first failed events, for the transformation's recent errors. */
function liveErrorsOf(events: readonly unknown[], run: EventsRun, credentials: Record<string, unknown> | undefined): LiveError[] {
  const secrets = credentials === undefined ? [] : Object.values(credentials);
  if (!run.ok) return [{ error: run.failure.message, event: events[0], secrets }];
  const errors: LiveError[] = [];
  for (const outcome of run.output.results) {
    if (outcome.statusCode === 200) continue;
    errors.push({ error: outcome.error, event: events[outcome.index] ?? null, secrets });
    if (errors.length === ERRORS_PER_GROUP) break;
  }
  return errors;
}

/**
 * Where a canary runs, a group naming its stable version becomes two: the events whose sticky key
 * falls in the canary's share run the canary version, the rest the stable one. Positions stay the
 * inputs', so the answer keeps input order.
 */
function splitForCanaries(groups: WireGroup[], canaries: CanaryRouter): WireGroup[] {
  const out: WireGroup[] = [];
  for (const group of groups) {
    const canary = canaries.forStableVersion(group.versionId);
    if (canary === undefined) {
      out.push(group);
      continue;
    }
    const stable: WireGroup = { versionId: group.versionId, positions: [], messages: [], metadata: [] };
    const candidate: WireGroup = { versionId: canary.canaryVersionId, positions: [], messages: [], metadata: [] };
    group.positions.forEach((position, i) => {
      const into = canaries.sideOf(canary, group.messages[i]) === 'canary' ? candidate : stable;
      into.positions.push(position);
      into.messages.push(group.messages[i]);
      into.metadata.push(group.metadata[i] as Record<string, unknown>);
    });
    for (const part of [stable, candidate]) if (part.positions.length > 0) out.push(part);
  }
  return out;
}

/** rudder-server sends the structured-header boolean `?1`; the spec and older clients send `true`. */
export function wantsFilteredEvents(header: string | string[] | undefined): boolean {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return false;
  const normalized = value.trim().toLowerCase();
  return normalized === 'true' || normalized === '?1' || normalized === '1';
}
