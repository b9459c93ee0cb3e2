// The contract between Tiller's sandboxed runtime and its callers (the Transformations API's
// test/publish calls, the run endpoints and /customTransform). Callers depend only on this file;
// how isolates are created, cached and pooled stays inside src/runtime/.

/** One immutable transformation version, as stored. */
export interface TransformationSource {
  versionId: string;
  code: string;
  /** Always "1" today; kept so later contracts can be told apart. */
  codeVersion?: string;
}

/** One immutable library version, imported by transformations as `importName`. */
export interface LibrarySource {
  versionId: string;
  importName: string;
  code: string;
}

export interface RunInput {
  /** Used for fairness: one workspace's slow code must not starve the others. */
  workspaceId: string;
  transformation: TransformationSource;
  /** Library versions available to the transformation; only those it imports are linked. */
  libraries: LibrarySource[];
  events: unknown[];
  /** metadata[i] is what `metadata(events[i])` returns inside the sandbox (undefined when absent). */
  metadata?: unknown[];
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
  /** Largest module source accepted, in bytes (default 1 MiB). */
  maxCodeBytes: number;
}

export const defaultRuntimeLimits: RuntimeLimits = {
  memoryMb: 128,
  cpuTimeMs: 4000,
  wallTimeMs: 10000,
  maxCodeBytes: 1024 * 1024,
};

/**
 * Thrown by `Runtime.run` when the whole batch failed (transformBatch threw or returned a
 * non-array, a limit was hit, the module did not link). The message is safe to show users:
 * it never carries host stack frames.
 */
export class RunError extends Error {
  constructor(
    /** cpu_limit | wall_limit | memory_limit | code_error | link_error | batch_error | invalid_output | overloaded */
    readonly code: string,
    message: string,
    readonly logs: string[] = [],
  ) {
    super(message);
    this.name = 'RunError';
  }
}

export interface Runtime {
  /** Compile-checks a transformation (entry point required) or a library (no imports allowed). */
  analyze(code: string, kind: 'transformation' | 'library'): CodeAnalysis | Promise<CodeAnalysis>;
  /** Runs a batch. Per-event failures are outcomes; whole-batch failures throw RunError. */
  run(input: RunInput): Promise<RunOutput>;
  /** Disposes every isolate. */
  close(): Promise<void>;
}
