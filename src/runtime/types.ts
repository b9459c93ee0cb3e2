// The contract between Tiller's sandboxed runtime and its callers (the Transformations API's
// test/publish calls, the run endpoints and /customTransform). Callers depend only on this file;
// how isolates are created, cached and pooled stays inside src/runtime/.

/**
 * The languages the runtime runs: JavaScript in isolated-vm isolates, Python ("pythonfaas", the
 * name RudderStack's API uses) in Pyodide interpreters, each in a process of its own.
 */
export type RuntimeLanguage = 'javascript' | 'pythonfaas';

/** One immutable transformation version, as stored. */
export interface TransformationSource {
  versionId: string;
  code: string;
  /** Default javascript. Its libraries are in the same language (the API enforces it). */
  language?: RuntimeLanguage;
  /** Always "1" today; kept so later contracts can be told apart. */
  codeVersion?: string;
  /**
   * Unsaved code (a test call's, or code being checked before it is saved). Should it crash a
   * sandbox process, the crash counts against the workspace's test calls, not against a version.
   */
  inline?: boolean;
  /** The transformation's name, shown in error frames: `at transformEvent (<name>:3:11)`. */
  name?: string;
}

/** One immutable library version, imported by transformations as `importName`. */
export interface LibrarySource {
  versionId: string;
  importName: string;
  code: string;
  /** The library's name, shown in error frames (default: its import name). */
  name?: string;
}

export interface RunInput {
  /** Used for fairness: one workspace's slow code must not starve the others. */
  workspaceId: string;
  transformation: TransformationSource;
  /** Library versions available to the transformation; only those it imports are linked. */
  libraries: LibrarySource[];
  events: unknown[];
  /** metadata[i] is what `metadata(events[i])` returns inside the sandbox (`{}` when absent). */
  metadata?: unknown[];
  /**
   * The same array as JSON text, for callers that hold each entry's JSON anyway (the wire protocol
   * answers with it): used instead of serializing `metadata` again.
   */
  metadataJson?: string;
  /** `events` as JSON text, for callers that serialized each event on its own (to fail only the ones that cannot be). */
  eventsJson?: string;
  /**
   * Whether `log()`/`console.*` lines are recorded (default true). Live traffic can pass false:
   * logging then costs nothing and `RunOutput.logs` stays empty.
   */
  captureLogs?: boolean;
  /**
   * What `getCredential(key)` returns inside the sandbox, by key (absent keys give undefined): the
   * workspace's credentials with the request's own on top (spec 7.5). Values are JSON values,
   * strings in practice.
   */
  credentials?: Record<string, unknown>;
  /**
   * 'skip': fetch and fetchV2 are not made (they fail in user code, counted as `skipped`): a run
   * whose answer is compared, never used (rudder-server's mirror, shadow runs), must not call out
   * twice. geolocation, a local lookup, still answers. Default 'make'.
   */
  outbound?: 'make' | 'skip';
}

/** The outcome for one output event. A fan-out yields several outcomes with the same index. */
export type EventOutcome =
  | { index: number; statusCode: 200; output: Record<string, unknown> }
  | { index: number; statusCode: 400; error: string };

export interface RunOutput {
  /** Outcomes in input order (fan-out outputs stay together, in the order the code returned them). */
  results: EventOutcome[];
  /** Input indexes the code dropped (returned null or undefined). */
  dropped: number[];
  /** Lines recorded by `log(...)`, in call order. */
  logs: string[];
  /** True when the batch had to compile its version first (no warm isolate was available). */
  coldStart?: boolean;
  /** The batch's outbound calls by kind and outcome, when it made any (not enumerable, like coldStart). */
  outbound?: OutboundTally;
}

/** What static analysis of a module found; no user code runs to produce it. */
export type CodeAnalysis =
  | { ok: true; entry: 'transformEvent' | 'transformBatch' | null; imports: string[] }
  | { ok: false; error: CodeError };

export interface CodeError {
  /** compile_error | missing_entry_point | multiple_entry_points | code_too_large | library_imports_not_allowed */
  code: string;
  message: string;
  line?: number;
  column?: number;
}

export interface RuntimeLimits {
  /** Heap limit per isolate, in MB (default 128). */
  memoryMb: number;
  /** CPU time per batch, in ms (default 4000). */
  cpuTimeMs: number;
  /** Wall-clock time per batch, in ms (default 10000). */
  wallTimeMs: number;
  /**
   * Wall-clock time of a batch once it has made an outbound call (fetch, fetchV2, geolocation), in
   * ms (default 60000): enrichment code mostly waits, and the wait does not count as CPU.
   */
  outboundWallTimeMs: number;
  /** Largest module source accepted, in bytes (default 1 MiB). */
  maxCodeBytes: number;
  /**
   * Largest output of one batch (one /customTransform group, one test call), in characters of JSON
   * text, which is bytes for ASCII (default 16 MiB, half the /customTransform body limit).
   */
  maxOutputChars: number;
  /** Most output events one input event may become (a transformBatch: this many times its input count; default 100). */
  maxOutputsPerEvent: number;
}

export const defaultRuntimeLimits: RuntimeLimits = {
  memoryMb: 128,
  cpuTimeMs: 4000,
  wallTimeMs: 10000,
  outboundWallTimeMs: 60000,
  maxCodeBytes: 1024 * 1024,
  maxOutputChars: 16 * 1024 * 1024,
  maxOutputsPerEvent: 100,
};

/**
 * Thrown by `Runtime.run` when the whole batch failed (transformBatch threw or returned a
 * non-array, a limit was hit, the module did not link). The message is safe to show users:
 * it never carries host stack frames.
 */
export class RunError extends Error {
  constructor(
    /**
     * The code's fault: cpu_limit | wall_limit | memory_limit | code_error | code_too_large | link_error |
     * batch_error | invalid_output | output_limit (output larger than maxOutputChars, or more outputs than
     * maxOutputsPerEvent allows) | invalid_input | sandbox_crashed (this batch crashed its sandbox
     * process) | quarantined (the version crashed one recently and is not run for a while) |
     * crash_limited (the workspace's inline code crashed sandboxes too often; see retryAfterSeconds).
     * Tiller's state, worth retrying: overloaded | shutting_down | sandbox_lost (the sandbox process
     * ended under the batch, which did not cause it) | sandbox_unavailable (no sandbox process is up).
     */
    readonly code: string,
    message: string,
    readonly logs: string[] = [],
    /** When trying again may succeed (crash_limited, quarantined). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'RunError';
  }
}

/** RunError codes after which the same batch may succeed later: the caller should retry it. */
export const RETRYABLE_RUN_ERRORS: ReadonlySet<string> = new Set(['overloaded', 'shutting_down', 'sandbox_lost', 'sandbox_unavailable']);

export interface Runtime {
  /**
   * Compile-checks a transformation (entry point required) or a library (no imports allowed), in
   * JavaScript unless `language` says otherwise. No user code runs.
   */
  analyze(code: string, kind: 'transformation' | 'library', language?: RuntimeLanguage): CodeAnalysis | Promise<CodeAnalysis>;
  /** Runs a batch. Per-event failures are outcomes; whole-batch failures throw RunError. */
  run(input: RunInput): Promise<RunOutput>;
  /** Disposes every isolate. */
  close(): Promise<void>;
}

/** Tuning of the warm-isolate cache. Every field has a default (see createRuntime). */
export interface RuntimeCacheOptions {
  /** Upper bound on live isolates across all versions; the least recently used idle ones are disposed first (default 64). */
  maxIsolates: number;
  /** Isolates one hot version may use at once, so concurrent batches of it run on several cores (default 2). */
  isolatesPerVersion: number;
  /**
   * Warm isolates one workspace may hold in one sandbox process (default 16). Past it, the workspace's
   * own least recently used idle isolate makes room; and when the process is full, a workspace can
   * only displace isolates of a workspace that holds more than it does, so none can evict another's
   * fair share.
   */
  maxIsolatesPerWorkspace: number;
  /** Idle isolates are disposed (least recently used first) while the heaps of all isolates exceed this (default 2048). */
  maxTotalHeapMb: number;
  /** An isolate is recycled after a run that leaves its heap above this fraction of memoryMb (default 0.5). */
  recycleHeapFraction: number;
  /** An isolate is recycled after this many runs, bounding slow native growth (default 10000). */
  maxRunsPerIsolate: number;
  /** Idle isolates unused for this long are disposed (default 10 minutes; 0 keeps them). */
  idleTtlMs: number;
}

/** One finished (or failed) batch, reported to the metrics sink. */
export interface BatchReport {
  workspaceId: string;
  versionId: string;
  eventsIn: number;
  /** 200 outcomes. */
  eventsOut: number;
  dropped: number;
  /** 400 outcomes (per-event failures); a whole-batch failure reports eventsIn here. */
  failed: number;
  /** From entering run() to its answer, queueing included. */
  durationMs: number;
  /** 'ok', or the RunError code of a whole-batch failure. */
  outcome: string;
  /** True when the batch had to compile its version first (no warm isolate was available). */
  coldStart: boolean;
  /** Outbound calls the batch's code made (fetch, fetchV2, geolocation), by kind and outcome. */
  outbound?: OutboundTally;
}

/** Outbound calls of one batch: `tally[kind][outcome]` is a count. */
export type OutboundKind = 'fetch' | 'fetchV2' | 'geolocation';
export type OutboundTally = Partial<Record<OutboundKind, Record<string, number>>>;

/**
 * What `fetch`/`fetchV2` may reach and how long they may take (spec 7.5). Non-public addresses are
 * refused unless `allow` names them; the time a batch waits counts toward its wall limit, never its
 * CPU limit.
 */
export interface OutboundOptions {
  /** CIDR ranges or addresses that may be reached although they are not public (default none). */
  allow: string[];
  /** One call, from connect to the last byte of the body, in ms (default 5000). */
  timeoutMs: number;
  /** Largest response body read, in bytes (default 1 MiB); the largest request body is the same. */
  maxResponseBytes: number;
  /** Calls of fetch, fetchV2 and geolocation one batch may make (default 1000). */
  maxCallsPerBatch: number;
  /** Redirects one call follows (default 5). */
  maxRedirects: number;
  /** A MaxMind-format database file for geolocation(ip); without one, geolocation() rejects. */
  geolocationDatabase: string | null;
}

/** Python transformations (python/engine.ts). */
export interface PythonOptions {
  /**
   * Python interpreters one sandbox host process may hold, the spare included (default 3, at least
   * 2). Each is a process of its own of about 160 MB; a version with no free interpreter waits.
   */
  interpretersPerProcess: number;
}

/** Lets the HTTP layer export per-version counters without the runtime depending on prom-client. */
export interface RuntimeMetricsSink {
  onBatch?(report: BatchReport): void;
}

/** A point-in-time view of the runtime, for /metrics and benchmarks. */
export interface RuntimeStats {
  /** Live isolates, including ones being created. */
  isolates: number;
  busyIsolates: number;
  /** Distinct (version, linked libraries) combinations holding at least one isolate. */
  versions: number;
  cacheHits: number;
  cacheMisses: number;
  /** Idle isolates disposed to make room (count, memory or idle TTL). */
  evictions: number;
  /** Isolates retired after a run because of heap growth or run count. */
  recycled: number;
  /** Isolates disposed because a run broke a limit. */
  limitKills: { cpu: number; wall: number; memory: number };
  /** Sum of used heap over live isolates, as last measured after each one's latest run. */
  heapUsedBytes: number;
  runningBatches: number;
  queuedBatches: number;
  /** Python interpreter processes (each a child of a sandbox host process) and their resident memory. */
  pythonInterpreters?: number;
  pythonRssBytes?: number;
  /** The sandbox host processes (absent for an engine running in the caller's own process). */
  hosts?: SandboxHostStats;
}

export interface SandboxHostStats {
  /** Processes taking batches. */
  ready: number;
  starting: number;
  /** Processes finishing their batches before they are replaced (memory bound or shutdown). */
  draining: number;
  /** Since start: crash, host processes that ended unexpectedly; memory, hosts replaced for passing the RSS bound. */
  restarts: { crash: number; memory: number };
  /** Versions quarantined now, and quarantines begun since start. */
  quarantined: number;
  quarantines: number;
  /** Workspaces whose code crashed a host recently: they run only in the low-priority lane. */
  suspectWorkspaces: number;
  /** Resident memory of each live host process, as it last reported; `lane` marks the low-priority one. */
  processes: Array<{ slot: number; pid: number; state: 'starting' | 'ready' | 'draining'; rssBytes: number; lane: boolean }>;
}

/** Something the pool wants the operator to know (it is logged). */
export type SandboxHostEvent =
  | { type: 'started'; slot: number; pid: number }
  | { type: 'exited'; slot: number; pid: number; code: number | null; signal: string | null; expected: boolean; lostBatches: number; cause?: string }
  | { type: 'recycling'; slot: number; pid: number; rssBytes: number };

export interface RuntimeOptions {
  limits?: Partial<RuntimeLimits>;
  cache?: Partial<RuntimeCacheOptions>;
  /** Batches of one workspace running at once; the rest wait in that workspace's queue (default 4). */
  workspaceConcurrency?: number;
  /** Batches one workspace may have waiting; beyond that run() fails fast with `overloaded` (default 64). */
  workspaceQueueLimit?: number;
  /** How long a batch may wait for its turn or for an isolate before failing with `overloaded` (default wallTimeMs). */
  queueTimeoutMs?: number;
  /** Log capture caps per run (default 1000 lines, 65,536 characters). */
  logs?: { maxLines?: number; maxChars?: number };
  metrics?: RuntimeMetricsSink;
  /**
   * Only for an engine in the caller's own process (tests): isolated-vm reports an unrecoverable
   * V8 state here. Sandbox host processes handle it themselves: they end, and the pool replaces them.
   */
  onCatastrophicError?: (message: string) => void;
  /** Sandbox host processes (default: the number of cores, at least 2). */
  processes?: number;
  /** A host process whose resident memory passes this is drained and replaced (default 1024 MB). */
  processMaxRssMb?: number;
  /** A workspace's batches spill from its preferred host to another once that host runs this many batches (default 2). */
  spillAt?: number;
  /** How long a workspace whose code crashed a host runs only in the low-priority lane (default 10 minutes). */
  suspectMs?: number;
  quarantine?: Partial<import('./quarantine.js').QuarantineOptions>;
  /** fetch, fetchV2 and geolocation inside transformations. */
  outbound?: Partial<OutboundOptions>;
  python?: Partial<PythonOptions>;
  /** Host lifecycle events, for the log. */
  onHostEvent?: (event: SandboxHostEvent) => void;
  /** A version was quarantined (services.ts records it in the store and the audit log). */
  onQuarantine?: (notice: import('./quarantine.js').QuarantineNotice) => void;
}

/** The runtime createRuntime() returns: the Runtime contract plus introspection. */
export interface SandboxRuntime extends Runtime {
  stats(): RuntimeStats;
}
