import { RETRYABLE_RUN_ERRORS, RunError, type RunInput, type RunOutput, type Runtime } from '../../runtime/types.js';
import { DomainError, runFailureOf } from '../errors.js';

// The one way domain code runs user code on events, and the one policy for a whole-batch failure
// (RunError): either the request fails (a DomainError, 503 or 429), or the failure is the code's
// outcome, which each caller reports its own way (per-event 400 entries on the wire, a failed test
// case, a 400 with the error code and logs on the run and inline test endpoints).

/**
 * Who is waiting on the run: live traffic (rudder-server on /customTransform, which retries a 503
 * until it succeeds), or a developer (the run endpoints, tests, publish and save).
 */
export type Traffic = 'live' | 'developer';

export type EventsRun = { ok: true; output: RunOutput } | { ok: false; failure: RunError };

/**
 * The error policy: the DomainError a whole-batch failure fails the request with, or undefined when
 * the failure belongs to the code. Tiller's own state (overloaded, a sandbox process lost under the
 * batch) is retryable, 503; a workspace whose inline code keeps crashing sandbox processes backs off,
 * 429. Live traffic also retries a batch that crashed its sandbox process: on the retry its version
 * is quarantined and answers per-event 400 entries, so rudder-server learns the outcome without
 * losing the batch's neighbours; a developer sees the crash as the code's failure.
 */
export function requestFailureOf(error: RunError, traffic: Traffic): DomainError | undefined {
  if (RETRYABLE_RUN_ERRORS.has(error.code) || error.code === 'crash_limited') return runFailureOf(error);
  if (traffic === 'live' && error.code === 'sandbox_crashed') return new DomainError('unavailable', error.code, error.message, undefined, error.retryAfterSeconds ?? 1);
  return undefined;
}

/** The workspace credentials a run sees; services.ts gives the store-backed one (domain/credentials.ts). */
export interface CredentialSource {
  /** With `secrets: false`, only the values that are not secret. */
  valuesFor(workspaceId: string, options: { secrets: boolean }): Promise<Record<string, unknown>> | Record<string, unknown>;
}

/**
 * Who may see the workspace's secret credentials in a run: code a writer chose. A caller that may
 * only read (a read-only access token) gets them neither for code of its own (a test call could
 * simply return them) nor when it sends credentials of its own (it could point stored code that
 * sends a secret somewhere at an address of its choosing).
 */
export function secretsAllowed(callerMayWrite: boolean, ownCode: boolean, ownCredentials: boolean): boolean {
  return callerMayWrite || (!ownCode && !ownCredentials);
}

/** A credential as RudderStack sends one with events, and as test and run calls take them. */
export interface RequestCredential {
  key: string;
  value: unknown;
  id?: string | undefined;
  isSecret?: boolean | undefined;
}

/**
 * What getCredential() reads in a developer run: the workspace's credentials with the request's own
 * on top (a request credential with the same key wins, as rudder-server's map does).
 */
export async function credentialsForRun(
  source: CredentialSource | undefined,
  workspaceId: string,
  fromRequest: readonly RequestCredential[] | undefined,
  secrets = true,
): Promise<Record<string, unknown> | undefined> {
  const own = source ? await source.valuesFor(workspaceId, { secrets }) : undefined;
  let request: Record<string, unknown> | undefined;
  for (const credential of fromRequest ?? []) {
    request ??= {};
    // Defined, not assigned: a key such as "__proto__" is a credential like any other.
    Object.defineProperty(request, credential.key, { value: credential.value, enumerable: true, writable: true, configurable: true });
  }
  return mergeCredentials(own, request);
}

/** The run's credentials: the workspace's with the request's on top; undefined when neither has any. */
export function mergeCredentials(own: Record<string, unknown> | undefined, request: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  const hasOwn = own !== undefined && Object.keys(own).length > 0;
  if (request === undefined) return hasOwn ? own : undefined;
  return hasOwn ? { ...own, ...request } : request;
}

/** Runs a batch; a failure of the whole batch comes back as `{ ok: false }` unless the policy fails the request. */
export async function runEvents(runtime: Runtime, input: RunInput, traffic: Traffic): Promise<EventsRun> {
  try {
    return { ok: true, output: await runtime.run(input) };
  } catch (error) {
    if (!(error instanceof RunError)) throw error;
    const failure = requestFailureOf(error, traffic);
    if (failure) throw failure;
    return { ok: false, failure: error };
  }
}

export type EventAnswer = { index: number; statusCode: 200; output: Record<string, unknown> } | { index: number; statusCode: 400; error: string };

/** What a developer run answers: every outcome, the dropped indexes and the logs. */
export interface DeveloperRunAnswer {
  results: EventAnswer[];
  dropped: number[];
  logs: string[];
}

/**
 * A developer run that answers per-event outcomes (the run endpoints, POST /transformations/test):
 * a failure of the whole batch (a limit, a throw in transformBatch, ...) answers 400 with the error
 * code and the logs.
 */
export async function runForDeveloper(runtime: Runtime, input: RunInput): Promise<DeveloperRunAnswer> {
  const run = await runEvents(runtime, { ...input, captureLogs: true }, 'developer');
  if (!run.ok) throw runFailureOf(run.failure);
  const { results, dropped, logs } = run.output;
  return {
    results: results.map((r) => (r.statusCode === 200 ? { index: r.index, statusCode: 200, output: r.output } : { index: r.index, statusCode: 400, error: r.error })),
    dropped,
    logs,
  };
}
