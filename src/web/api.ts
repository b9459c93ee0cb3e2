import type { Language } from './language.js';
import { navigate } from './router.js';
import { clearSession, getSession } from './session.js';

// The dashboard is a client of Tiller's public HTTP API and nothing else: every screen here can be
// reproduced with curl and the same token.

export type Credential = 'workspace' | 'access';

export interface AccessToken {
  id: string;
  name: string;
  description: string;
  userId?: string;
  hint?: string;
  scopes?: string[];
  createdAt?: string;
  expiresAt?: string | null;
  lastUsedAt?: string | null;
  lastUsedIp?: string | null;
  status?: string;
  /** When a rotated secret (status rotating) stops working. */
  graceUntil?: string | null;
}

export interface IssuedToken {
  token: string;
  id?: string;
  name?: string;
  expiresAt?: string | null;
  /** Rotations only: the secret this one replaced, and when it stops working. */
  replaced?: { id: string; graceUntil: string };
  [field: string]: unknown;
}

export interface AuditEvent {
  id: string;
  at: string;
  /** `name`: the acting access token's name. */
  actor?: { type?: string; id?: string | null; name?: string | null } | null;
  action: string;
  target?: string | null;
  /** The target's name when the event happened (token, transformation, library, credential key, workspace). */
  targetName?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  outcome?: string | null;
  reason?: string | null;
}

export interface Transformation {
  id: string;
  versionId: string;
  name: string;
  description?: string;
  code: string;
  codeVersion?: string;
  /** "javascript" or "pythonfaas"; read it through languageOf (older servers leave it out). */
  language?: string;
  createdAt?: string;
  updatedAt?: string;
  workspaceId?: string;
  destinations?: unknown[];
  imports?: string[];
  publishedVersionId?: string | null;
  /** When a version crashed a sandbox process: until when it is not run. */
  quarantinedUntil?: string | null;
}

/** A transformation as the list answers it with include=stats. */
export interface TransformationWithStats extends Transformation {
  /** Live traffic of the last 24 hours, summed over every instance (the server sends it when asked). */
  stats24h?: Stats24h;
}

interface Stats24h {
  eventsIn: number;
  eventsOut: number;
  dropped: number;
  failed: number;
  errorRate: number;
}

interface StatsFigures extends Stats24h {
  batches: number;
  coldStarts: number;
  limitKills: number;
  quarantined: number;
  runMs: { sum: number; p50: number | null; p95: number | null; p99: number | null };
}

export interface TransformationStats {
  /** Null for the whole workspace. */
  transformationId: string | null;
  from: string;
  to: string;
  stepSeconds: number;
  totals: StatsFigures;
  series: Array<StatsFigures & { start: string }>;
  versions: Array<{ versionId: string; eventsIn: number; failed: number; errorRate: number }>;
}

export interface RecentError {
  id: string;
  at: string;
  versionId: string;
  error: string;
  line: number | null;
  /** The failing event, secrets masked; null when it was too large to keep whole. */
  event: unknown;
  eventPreview: string | null;
}

export interface RecentErrors {
  errors: RecentError[];
}

export interface Library {
  id: string;
  versionId: string;
  name: string;
  description?: string;
  code: string;
  /** "javascript" or "pythonfaas"; read it through languageOf (older servers leave it out). */
  language?: string;
  importName: string;
  createdAt?: string;
  updatedAt?: string;
  publishedVersionId?: string | null;
}

/** A workspace credential (what user code reads with getCredential). A secret's value is never sent. */
export interface WorkspaceCredential {
  id: string;
  key: string;
  isSecret: boolean;
  /** Only for a non-secret. */
  value?: string;
  createdAt: string;
  updatedAt: string;
}

export interface CreateCredentialInput {
  key: string;
  value: string;
  isSecret?: boolean;
}

export interface UpdateCredentialInput {
  value?: string;
  isSecret?: boolean;
}

/** Either kind of versioned resource, as the editor sees it. */
export type Resource = Transformation | Library;

/** One entry of a version history: the resource as it was, and whether it is the live version. */
export interface VersionFlag {
  isPublished?: boolean;
}
export type TransformationVersion = Transformation & VersionFlag;
export type LibraryVersion = Library & VersionFlag;
export type ResourceVersion = TransformationVersion | LibraryVersion;
export type ResourceKind = 'transformation' | 'library';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string | undefined;
  readonly requestId: string | undefined;
  /** 1-based position of a compile error, when the API reports one. */
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly body: unknown;

  constructor(
    message: string,
    init: { status: number; code?: string; requestId?: string; line?: number; column?: number; body?: unknown },
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = init.status;
    this.code = init.code;
    this.requestId = init.requestId;
    this.line = init.line;
    this.column = init.column;
    this.body = init.body;
  }
}

export function basicAuthHeader(token: string): string {
  // Tokens are ASCII, but encode through UTF-8 so a stray pasted character cannot throw in btoa.
  const bytes = new TextEncoder().encode(`${token}:`);
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return `Basic ${btoa(binary)}`;
}

function positiveInt(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;
}

function errorFromResponse(status: number, statusText: string, body: unknown, headerRequestId: string | null): ApiError {
  const envelope = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const rawError = envelope.error;
  const error = (rawError && typeof rawError === 'object' ? rawError : {}) as Record<string, unknown>;
  let message =
    typeof error.message === 'string' && error.message
      ? error.message
      : typeof rawError === 'string' && rawError
        ? rawError
        : typeof envelope.message === 'string'
          ? envelope.message
          : '';
  if (!message) {
    message =
      status === 0
        ? 'Could not reach the Tiller server.'
        : `The server answered ${status}${statusText ? ` ${statusText}` : ''}.`;
  }
  const requestId = typeof envelope.requestId === 'string' ? envelope.requestId : (headerRequestId ?? undefined);
  return new ApiError(message, {
    status,
    code: typeof error.code === 'string' ? error.code : undefined,
    requestId,
    line: positiveInt(error.line),
    column: positiveInt(error.column),
    body,
  });
}

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined | null>;
  /** Use this token instead of the session's (sign-in probes). */
  token?: string;
  /** Sign-in probes expect 401s and must not end the session. */
  ignoreUnauthorized?: boolean;
  signal?: AbortSignal;
}

export async function request<T>(credential: Credential, method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const session = getSession();
  const token = options.token ?? (credential === 'workspace' ? session.workspaceToken : session.accessToken);
  if (!token) {
    throw new ApiError(
      credential === 'workspace'
        ? 'This page needs a workspace token. Sign in with one to continue.'
        : 'This page needs an access token. Sign in with one to continue.',
      { status: 401, code: 'not_signed_in' },
    );
  }
  let url = path;
  if (options.query) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(options.query)) {
      if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
    }
    const qs = params.toString();
    if (qs) url += `?${qs}`;
  }
  const headers: Record<string, string> = { Authorization: basicAuthHeader(token), Accept: 'application/json' };
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(options.body);
  }

  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body,
      credentials: 'omit',
      cache: 'no-store',
      signal: options.signal,
    });
  } catch (cause) {
    if (cause instanceof DOMException && cause.name === 'AbortError') throw cause;
    throw new ApiError('Could not reach the Tiller server. Check that it is running and try again.', { status: 0 });
  }

  const text = await response.text();
  let parsed: unknown = undefined;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (!response.ok) {
    const error = errorFromResponse(response.status, response.statusText, parsed, response.headers.get('x-request-id'));
    if (response.status === 401 && !options.ignoreUnauthorized) {
      clearSession(
        credential === 'workspace'
          ? 'Tiller no longer accepts your workspace token (it may have been rotated). Sign in again.'
          : 'Tiller no longer accepts your access token (it may have been deleted, rotated or expired). Sign in again.',
      );
      navigate('/signin', { force: true });
    }
    throw error;
  }
  return parsed as T;
}

/** Finds the first array in an answer, whatever the wrapper key (bare arrays pass through). */
function pickArray<T>(value: unknown, ...keys: string[]): T[] {
  if (Array.isArray(value)) return value as T[];
  if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    for (const key of keys) if (Array.isArray(record[key])) return record[key] as T[];
    for (const entry of Object.values(record)) if (Array.isArray(entry)) return entry as T[];
  }
  return [];
}

// ---------- access tokens (workspace token) ----------

export async function listAccessTokens(options: RequestOptions = {}): Promise<AccessToken[]> {
  return pickArray<AccessToken>(await request<unknown>('workspace', 'GET', '/accessTokens', options), 'accessTokens', 'data');
}

export interface GenerateTokenInput {
  name: string;
  description?: string;
  scopes?: string[];
  expiresInDays?: number;
}

function issuedFrom(answer: unknown): IssuedToken {
  const data = (answer as { data?: IssuedToken } | undefined)?.data;
  if (!data || typeof data.token !== 'string') {
    throw new ApiError('The server did not return the new token.', { status: 500, body: answer });
  }
  return data;
}

export async function generateAccessToken(input: GenerateTokenInput): Promise<IssuedToken> {
  return issuedFrom(await request<unknown>('workspace', 'POST', '/accessTokens', { body: input }));
}

export interface RotateTokenInput {
  gracePeriodSeconds: number;
}

export async function rotateAccessToken(id: string, gracePeriodSeconds: number): Promise<IssuedToken> {
  const body: RotateTokenInput = { gracePeriodSeconds };
  return issuedFrom(await request<unknown>('workspace', 'POST', `/accessTokens/${encodeURIComponent(id)}/rotate`, { body }));
}

export async function deleteAccessToken(id: string): Promise<void> {
  await request<unknown>('workspace', 'DELETE', `/accessTokens/${encodeURIComponent(id)}`);
}

export interface DeletedCount {
  deleted?: number;
}

export async function deleteAccessTokensByName(name: string): Promise<number | undefined> {
  const answer = await request<DeletedCount>('workspace', 'DELETE', '/accessTokens', { query: { name } });
  return typeof answer?.deleted === 'number' ? answer.deleted : undefined;
}

export async function getSelfToken(options: RequestOptions = {}): Promise<AccessToken> {
  const answer = await request<unknown>('access', 'GET', '/accessTokens/self', options);
  const record = (answer ?? {}) as Record<string, unknown>;
  return (record.data && typeof record.data === 'object' ? record.data : record) as AccessToken;
}

export interface AuditPage {
  events: AuditEvent[];
  /** Cursor for the next (older) page when the server gives one. */
  nextBefore?: string;
}

export async function listAuditEvents(limit: number, before?: string): Promise<AuditPage> {
  const answer = await request<unknown>('workspace', 'GET', '/auditLog', { query: { limit, before } });
  const events = pickArray<AuditEvent>(answer, 'events', 'auditLog', 'data');
  const record = (answer && typeof answer === 'object' && !Array.isArray(answer) ? answer : {}) as Record<string, unknown>;
  const cursor = record.nextBefore ?? record.next ?? record.before;
  return { events, nextBefore: typeof cursor === 'string' ? cursor : undefined };
}

// ---------- transformations and libraries (access token) ----------

function collection(kind: ResourceKind): string {
  return kind === 'transformation' ? '/transformations' : '/libraries';
}

export async function listTransformations(): Promise<Transformation[]> {
  return pickArray<Transformation>(await request<unknown>('access', 'GET', '/transformations'), 'transformations');
}

/** The list with stats24h on each: what live traffic did in the last 24 hours. */
export async function listTransformationsWithStats(): Promise<TransformationWithStats[]> {
  return pickArray<TransformationWithStats>(await request<unknown>('access', 'GET', '/transformations', { query: { include: 'stats' } }), 'transformations');
}

export type StatsWindowName = '1h' | '24h' | '7d';
const WINDOW_MS: Record<StatsWindowName, number> = { '1h': 3600_000, '24h': 86_400_000, '7d': 7 * 86_400_000 };

/** The server picks a step of about 288 points for the window. */
export async function getTransformationStats(id: string, window: StatsWindowName): Promise<TransformationStats> {
  const to = new Date();
  const from = new Date(to.getTime() - WINDOW_MS[window]);
  return request<TransformationStats>('access', 'GET', `/transformations/${encodeURIComponent(id)}/stats`, { query: { from: from.toISOString(), to: to.toISOString() } });
}

/** Every transformation of the workspace together. */
export async function getWorkspaceStats(window: StatsWindowName): Promise<TransformationStats> {
  const to = new Date();
  const from = new Date(to.getTime() - WINDOW_MS[window]);
  return request<TransformationStats>('access', 'GET', '/stats', { query: { from: from.toISOString(), to: to.toISOString() } });
}

// ---------- releases (canary) ----------

export interface CanaryGuards {
  minEvents: number;
  maxFailureRateIncrease: number;
  maxDropRateDifference: number;
  maxP99Ratio: number;
  autoPromote: { afterSeconds: number; minEvents: number } | null;
}

export interface CanaryState {
  transformationId: string;
  stableVersionId: string;
  canaryVersionId: string;
  percent: number;
  guards: CanaryGuards;
  status: 'running' | 'promoted' | 'aborted' | 'rolled_back';
  startedAt: string;
  endedAt: string | null;
  endReason: string | null;
  /** Where a canary splits traffic (only where Tiller runs the code). */
  scope: string;
}

export interface CanaryAnswer {
  canary: CanaryState;
}

export interface StartCanaryInput {
  versionId: string;
  percent: number;
}

interface ReleaseSide {
  versionId: string;
  eventsIn: number;
  eventsOut: number;
  dropped: number;
  failed: number;
  failureRate: number;
  dropRate: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

export interface ReleaseState {
  transformationId: string;
  stableVersionId: string | null;
  canary: CanaryState | null;
  sides: { stable: ReleaseSide; canary: ReleaseSide } | null;
  series: { stable: Array<{ start: string; eventsIn: number; failed: number; errorRate: number }>; canary: Array<{ start: string; eventsIn: number; failed: number; errorRate: number }> } | null;
}

export async function getReleaseState(id: string): Promise<ReleaseState> {
  return request<ReleaseState>('access', 'GET', `/transformations/${encodeURIComponent(id)}/release`);
}

export async function startCanary(id: string, input: StartCanaryInput): Promise<CanaryState> {
  return (await request<CanaryAnswer>('access', 'POST', `/transformations/${encodeURIComponent(id)}/canary`, { body: input })).canary;
}

export async function promoteCanary(id: string): Promise<CanaryState> {
  return (await request<CanaryAnswer>('access', 'POST', `/transformations/${encodeURIComponent(id)}/canary/promote`, { body: {} })).canary;
}

export async function abortCanary(id: string): Promise<CanaryState> {
  return (await request<CanaryAnswer>('access', 'DELETE', `/transformations/${encodeURIComponent(id)}/canary`)).canary;
}

export interface ShadowState {
  transformationId: string;
  stableVersionId: string;
  candidateVersionId: string;
  percent: number;
  status: 'running' | 'stopped';
  startedAt: string;
  endedAt: string | null;
}

interface ShadowReport {
  compared: number;
  identical: number;
  differing: number;
  failedOnlyInCandidate: number;
  dropsDiffer: number;
  notCompared: number;
  shedBatches: number;
  /** JSON text, or "failed" / "dropped". */
  diffs: Array<{ input: string; live: string; candidate: string }>;
}

export interface ShadowAnswer {
  shadow: ShadowState | null;
  report: ShadowReport | null;
}

export interface StartShadowInput {
  versionId: string;
  percent: number;
}

export async function getShadow(id: string): Promise<ShadowAnswer> {
  return request<ShadowAnswer>('access', 'GET', `/transformations/${encodeURIComponent(id)}/shadow`);
}

export async function startShadow(id: string, input: StartShadowInput): Promise<void> {
  await request<unknown>('access', 'POST', `/transformations/${encodeURIComponent(id)}/shadow`, { body: input });
}

export async function stopShadow(id: string): Promise<void> {
  await request<unknown>('access', 'DELETE', `/transformations/${encodeURIComponent(id)}/shadow`);
}

export async function getTransformationErrors(id: string): Promise<RecentError[]> {
  return (await request<RecentErrors>('access', 'GET', `/transformations/${encodeURIComponent(id)}/errors`, { query: { limit: 20 } })).errors;
}

export async function listLibraries(): Promise<Library[]> {
  return pickArray<Library>(await request<unknown>('access', 'GET', '/libraries'), 'libraries');
}

export async function getResource(kind: ResourceKind, id: string): Promise<Resource> {
  return request<Resource>('access', 'GET', `${collection(kind)}/${encodeURIComponent(id)}`);
}

export interface SaveInput {
  name?: string;
  description?: string;
  code: string;
}

export interface CreateInput extends SaveInput {
  name: string;
  /** Fixed at creation: saves of later versions do not send it. */
  language: Language;
}

export async function createResource(kind: ResourceKind, input: CreateInput): Promise<Resource> {
  return request<Resource>('access', 'POST', collection(kind), { body: input, query: { publish: 'false' } });
}

export async function updateResource(kind: ResourceKind, id: string, input: SaveInput): Promise<Resource> {
  return request<Resource>('access', 'POST', `${collection(kind)}/${encodeURIComponent(id)}`, {
    body: input,
    query: { publish: 'false' },
  });
}

export async function deleteResource(kind: ResourceKind, id: string): Promise<void> {
  await request<unknown>('access', 'DELETE', `${collection(kind)}/${encodeURIComponent(id)}`);
}

export async function listVersions(kind: ResourceKind, id: string, count: number): Promise<ResourceVersion[]> {
  const answer = await request<unknown>('access', 'GET', `${collection(kind)}/${encodeURIComponent(id)}/versions`, {
    query: { count, orderBy: 'desc' },
  });
  return pickArray<ResourceVersion>(answer, kind === 'transformation' ? 'TransformationVersions' : 'libraryVersions');
}

export interface PublishInput {
  transformations?: { versionId: string; testInput?: unknown[] }[];
  libraries?: { versionId: string }[];
}

export async function publish(input: PublishInput): Promise<unknown> {
  return request<unknown>('access', 'POST', '/transformations/libraries/publish', { body: input });
}

export async function testSavedVersion(input: PublishInput): Promise<unknown> {
  return request<unknown>('access', 'POST', '/transformations/libraries/test', { body: input });
}

export interface InlineTestInput {
  code: string;
  /** Library version ids. */
  libraries: string[];
  events: unknown[];
  /** metadata[i] is what `metadata(events[i])` returns in the code. */
  metadata?: Record<string, unknown>[];
  /** What stack frames call the code (default "transformation"). */
  name?: string;
  /** The language the unsaved code is written in (default "javascript"). */
  language?: Language;
}

export async function testInlineCode(input: InlineTestInput): Promise<unknown> {
  return request<unknown>('access', 'POST', '/transformations/test', { body: input });
}

export async function getVersion(kind: ResourceKind, id: string, versionId: string): Promise<Resource> {
  return request<Resource>('access', 'GET', `${collection(kind)}/${encodeURIComponent(id)}/versions/${encodeURIComponent(versionId)}`);
}

// ---------- workspace credentials (access token) ----------

export async function listCredentials(): Promise<WorkspaceCredential[]> {
  return pickArray<WorkspaceCredential>(await request<unknown>('access', 'GET', '/credentials'), 'credentials');
}

export async function createCredential(input: CreateCredentialInput): Promise<WorkspaceCredential> {
  return request<WorkspaceCredential>('access', 'POST', '/credentials', { body: input });
}

export async function updateCredential(id: string, input: UpdateCredentialInput): Promise<WorkspaceCredential> {
  return request<WorkspaceCredential>('access', 'PATCH', `/credentials/${encodeURIComponent(id)}`, { body: input });
}

export async function deleteCredential(id: string): Promise<void> {
  await request<unknown>('access', 'DELETE', `/credentials/${encodeURIComponent(id)}`);
}

// ---------- rudder-server configuration (workspace token or access token) ----------

/** A source or destination of the imported rudder-server configuration, without its config. */
interface ConfigEntry {
  id: string;
  name: string | null;
  enabled: boolean | null;
  type: string | null;
}

interface ConfigDestinationEntry extends ConfigEntry {
  transformationId: string | null;
}

interface ConfigSourceEntry extends ConfigEntry {
  destinations: ConfigDestinationEntry[];
}

export interface WorkspaceConfigSummary {
  sources: ConfigSourceEntry[];
  importedAt: string;
  updatedAt: string;
}

/** The configuration's sources and destinations, or null while none is imported (404). */
export async function getWorkspaceConfigSummary(): Promise<WorkspaceConfigSummary | null> {
  const credential: Credential = getSession().accessToken ? 'access' : 'workspace';
  try {
    return await request<WorkspaceConfigSummary>(credential, 'GET', '/workspaceConfig/sources');
  } catch (error) {
    if (error instanceof ApiError && error.code === 'workspace_config_missing') return null;
    throw error;
  }
}

export interface DestinationsInput {
  destinationIds: string[];
}

/** Connects the transformation to exactly these destinations ([] disconnects), without a new version. */
export async function setTransformationDestinations(id: string, input: DestinationsInput): Promise<Transformation> {
  return request<Transformation>('access', 'PUT', `/transformations/${encodeURIComponent(id)}/destinations`, { body: input });
}

// ---------- live events (rudder-server's transformation samples) ----------

/** One event a transformation produced from a sample's input. */
interface LiveEventOutput {
  eventName?: string | null;
  eventType?: string | null;
  payload?: unknown;
}

/** A sample rudder-server posted: the event that went in and what came out. */
export interface LiveEventSample {
  id: string;
  /** When Tiller received it. */
  storedAt: string;
  transformationId: string;
  sourceId?: string | null;
  destinationId?: string | null;
  eventBefore?: { eventName?: string | null; eventType?: string | null; receivedAt?: string | null; payload?: unknown } | null;
  eventsAfter?: { receivedAt?: string | null; isDropped?: boolean | null; error?: string | null; statusCode?: number | null; payload?: LiveEventOutput[] | null } | null;
  error?: unknown;
}

export interface LiveEventsState {
  enabled: boolean;
  until: string | null;
}

export interface LiveEvents extends LiveEventsState {
  events: LiveEventSample[];
}

export interface LiveEventsInput {
  enabled: boolean;
}

export async function getLiveEvents(id: string): Promise<LiveEvents> {
  return request<LiveEvents>('access', 'GET', `/transformations/${encodeURIComponent(id)}/liveEvents`);
}

/** Turns live events on for the server's window (or off): rudder-server follows from its next poll. */
export async function setLiveEvents(id: string, input: LiveEventsInput): Promise<LiveEventsState> {
  return request<LiveEventsState>('access', 'PUT', `/transformations/${encodeURIComponent(id)}/liveEvents`, { body: input });
}
