// Tiller's sandboxed runtime: user transformations run in warm isolated-vm isolates, cached per
// immutable version, with per-batch CPU/wall/memory limits and per-workspace fairness.
//
// Usage:
//   const runtime = createRuntime({ limits: { cpuTimeMs: 4000 }, metrics: { onBatch: (r) => ... } });
//   const analysis = await runtime.analyze(code, 'transformation');   // at save time
//   const out = await runtime.run({ workspaceId, transformation: { versionId, code }, libraries, events, metadata });
//   for (const r of out.results) r.statusCode === 200 ? send(outputJsonOf(r)) : fail(r.error);
//   await runtime.close();

import { createHash } from 'node:crypto';
import { CodeAnalyzer } from './analyze.js';
import { SandboxCache, type Lease } from './cache.js';
import { decodeBatchOutput } from './contract.js';
import { WorkspaceGate } from './fairness.js';
import { findLibrary, Sandbox, type SandboxSettings } from './sandbox.js';
import {
  defaultRuntimeLimits,
  RunError,
  type CodeAnalysis,
  type LibrarySource,
  type RunInput,
  type RunOutput,
  type RuntimeCacheOptions,
  type RuntimeLimits,
  type RuntimeOptions,
  type RuntimeStats,
  type SandboxRuntime,
} from './types.js';

export * from './types.js';
export { outputJsonOf } from './contract.js';

export const defaultCacheOptions: RuntimeCacheOptions = {
  maxIsolates: 64,
  isolatesPerVersion: 2,
  maxTotalHeapMb: 2048,
  recycleHeapFraction: 0.5,
  maxRunsPerIsolate: 10_000,
  idleTtlMs: 10 * 60 * 1000,
};

/** Versions whose import list is remembered; beyond this the oldest are forgotten (costing one compile). */
const MAX_REMEMBERED_VERSIONS = 2000;
const MAX_REMEMBERED_CODE_BYTES = 64 * 1024 * 1024;

interface KnownVersion {
  code: string;
  imports: string[];
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive number`);
  return value;
}

export function createRuntime(options: RuntimeOptions = {}): SandboxRuntime {
  const limits: RuntimeLimits = { ...defaultRuntimeLimits };
  for (const key of Object.keys(defaultRuntimeLimits) as Array<keyof RuntimeLimits>) {
    limits[key] = positiveInteger(options.limits?.[key], defaultRuntimeLimits[key], `limits.${key}`);
  }
  const cacheOptions: RuntimeCacheOptions = { ...defaultCacheOptions, ...stripUndefined(options.cache ?? {}) };
  for (const key of ['maxIsolates', 'isolatesPerVersion', 'maxTotalHeapMb', 'recycleHeapFraction', 'maxRunsPerIsolate'] as const) {
    positiveInteger(cacheOptions[key], 1, `cache.${key}`);
  }
  const queueTimeoutMs = positiveInteger(options.queueTimeoutMs, limits.wallTimeMs, 'queueTimeoutMs');
  const settings: SandboxSettings = {
    limits,
    bootstrap: {
      maxLogLines: positiveInteger(options.logs?.maxLines, 1000, 'logs.maxLines'),
      maxLogChars: positiveInteger(options.logs?.maxChars, 64 * 1024, 'logs.maxChars'),
      maxErrorChars: 2000,
    },
    onCatastrophicError: options.onCatastrophicError ?? ((message) => process.stderr.write(`tiller runtime: isolated-vm reported an unrecoverable error: ${message}\n`)),
  };
  const metrics = options.metrics;
  const analyzer = new CodeAnalyzer(limits.maxCodeBytes);
  const cache = new SandboxCache(cacheOptions, queueTimeoutMs);
  const gate = new WorkspaceGate(
    positiveInteger(options.workspaceConcurrency, 4, 'workspaceConcurrency'),
    positiveInteger(options.workspaceQueueLimit, 64, 'workspaceQueueLimit'),
    queueTimeoutMs,
  );
  const knownVersions = new Map<string, KnownVersion>();
  let knownCodeBytes = 0;
  const firstCompiles = new Map<string, Promise<unknown>>();
  const limitKills = { cpu: 0, wall: 0, memory: 0 };
  let closed = false;

  const remember = (versionKey: string, code: string, imports: string[]): void => {
    const previous = knownVersions.get(versionKey);
    if (previous) knownCodeBytes -= previous.code.length;
    knownVersions.delete(versionKey);
    knownVersions.set(versionKey, { code, imports });
    knownCodeBytes += code.length;
    for (const [oldest, entry] of knownVersions) {
      if (knownVersions.size <= MAX_REMEMBERED_VERSIONS && knownCodeBytes <= MAX_REMEMBERED_CODE_BYTES) break;
      knownVersions.delete(oldest);
      knownCodeBytes -= entry.code.length;
    }
  };

  const cacheKey = (versionKey: string, linked: Array<{ importName: string; versionId: string }>): string =>
    [versionKey, ...linked.map((library) => `${library.importName}=${library.versionId}`)].join('\u0000');

  const linkedFor = (imports: string[], libraries: LibrarySource[]): Array<{ importName: string; versionId: string }> =>
    imports.map((specifier) => {
      const library = findLibrary(libraries, specifier);
      if (!library) throw new RunError('link_error', `library "${specifier}" not found`);
      return { importName: specifier, versionId: library.versionId };
    });

  // Version ids name immutable code; should a caller ever reuse one for different code, the code's
  // hash keeps the two apart instead of running stale code.
  const versionKeyOf = (versionId: string, code: string): string => {
    const known = knownVersions.get(versionId);
    if (!known || known.code === code) return versionId;
    return `${versionId}#${createHash('sha256').update(code).digest('hex')}`;
  };

  const acquire = async (input: RunInput): Promise<Lease> => {
    const { code } = input.transformation;
    const versionKey = versionKeyOf(input.transformation.versionId, code);
    const build = (): Promise<Sandbox> => Sandbox.create({ code, libraries: input.libraries }, settings);
    for (;;) {
      const known = knownVersions.get(versionKey);
      if (known && known.code === code) {
        return cache.acquire(cacheKey(versionKey, linkedFor(known.imports, input.libraries)), build);
      }
      const pending = firstCompiles.get(versionKey);
      if (pending) {
        // Another batch is compiling this version; its import list tells us the key.
        await pending.catch(() => undefined);
        if (knownVersions.get(versionKey)?.code === code) continue;
      }
      const compile = cache.acquireUnkeyed(build, (sandbox) => {
        remember(versionKey, code, sandbox.imports);
        return cacheKey(versionKey, sandbox.linked);
      });
      firstCompiles.set(versionKey, compile);
      try {
        return await compile;
      } finally {
        if (firstCompiles.get(versionKey) === compile) firstCompiles.delete(versionKey);
      }
    }
  };

  const run = async (input: RunInput): Promise<RunOutput> => {
    const started = performance.now();
    const events = Array.isArray(input?.events) ? input.events : [];
    let coldStart = false;
    let output: RunOutput | undefined;
    let failure: unknown;
    let leave: (() => void) | undefined;
    try {
      if (closed) throw new RunError('shutting_down', 'the runtime is shutting down');
      validateInput(input, limits);
      let eventsJson: string;
      let metadataJson: string | null = null;
      try {
        eventsJson = JSON.stringify(events);
        if (input.metadata !== undefined) metadataJson = JSON.stringify(input.metadata);
      } catch (error) {
        throw new RunError('invalid_input', `events and metadata must be serializable as JSON (${error instanceof Error ? error.message : String(error)})`);
      }
      leave = await gate.enter(input.workspaceId);
      const lease = await acquire(input);
      coldStart = lease.created;
      let answer: { encoded: string; strayRejection?: string };
      let retire = true;
      try {
        answer = await lease.sandbox.run(eventsJson, metadataJson, input.captureLogs !== false);
        retire = lease.sandbox.measureAfterRun(cacheOptions.recycleHeapFraction, cacheOptions.maxRunsPerIsolate);
      } catch (error) {
        if (lease.sandbox.killedBy === 'cpu_limit') limitKills.cpu++;
        else if (lease.sandbox.killedBy === 'wall_limit') limitKills.wall++;
        else if (lease.sandbox.killedBy === 'memory_limit') limitKills.memory++;
        throw error;
      } finally {
        cache.release(lease.sandbox, retire);
      }
      try {
        output = decodeBatchOutput(answer.encoded, events.length);
      } catch (error) {
        if (error instanceof RunError && answer.strayRejection && input.captureLogs !== false) error.logs.push(`[tiller] unhandled promise rejection: ${answer.strayRejection}`);
        throw error;
      }
      if (answer.strayRejection && input.captureLogs !== false) output.logs.push(`[tiller] unhandled promise rejection: ${answer.strayRejection}`);
      return output;
    } catch (error) {
      failure = error instanceof RunError ? error : new RunError('code_error', error instanceof Error ? error.message : String(error));
      throw failure;
    } finally {
      leave?.();
      report(input, events.length, started, coldStart, output, failure);
    }
  };

  const report = (input: RunInput, eventsIn: number, started: number, coldStart: boolean, output: RunOutput | undefined, failure: unknown): void => {
    if (!metrics?.onBatch) return;
    let eventsOut = 0;
    let failed = 0;
    if (output) for (const result of output.results) result.statusCode === 200 ? eventsOut++ : failed++;
    else failed = eventsIn;
    try {
      metrics.onBatch({
        workspaceId: String(input?.workspaceId ?? ''),
        versionId: String(input?.transformation?.versionId ?? ''),
        eventsIn,
        eventsOut,
        dropped: output ? output.dropped.length : 0,
        failed,
        durationMs: performance.now() - started,
        outcome: failure instanceof RunError ? failure.code : 'ok',
        coldStart,
      });
    } catch {
      // A failing metrics sink must not fail the batch.
    }
  };

  return {
    analyze: (code, kind) => {
      if (closed) return Promise.reject(new RunError('shutting_down', 'the runtime is shutting down'));
      return analyzer.analyze(code, kind);
    },
    run,
    stats: (): RuntimeStats => ({
      isolates: cache.isolateCount,
      busyIsolates: cache.busyCount,
      versions: cache.versionCount,
      cacheHits: cache.hits,
      cacheMisses: cache.misses,
      evictions: cache.evictions,
      recycled: cache.recycled,
      limitKills: { ...limitKills },
      heapUsedBytes: cache.heapUsedBytes(),
      runningBatches: gate.running,
      queuedBatches: gate.queued + cache.waiting,
    }),
    close: async () => {
      closed = true;
      gate.close();
      cache.close();
      analyzer.close();
    },
  };
}

function validateInput(input: RunInput, limits: RuntimeLimits): void {
  if (!input || typeof input !== 'object') throw new RunError('invalid_input', 'run() needs an input object');
  if (typeof input.workspaceId !== 'string' || input.workspaceId === '') throw new RunError('invalid_input', 'workspaceId is required');
  const transformation = input.transformation;
  if (!transformation || typeof transformation.versionId !== 'string' || typeof transformation.code !== 'string') {
    throw new RunError('invalid_input', 'transformation needs a versionId and code');
  }
  if (!Array.isArray(input.events)) throw new RunError('invalid_input', 'events must be an array');
  if (input.metadata !== undefined && !Array.isArray(input.metadata)) throw new RunError('invalid_input', 'metadata must be an array');
  if (!Array.isArray(input.libraries)) throw new RunError('invalid_input', 'libraries must be an array');
  for (const library of input.libraries) {
    if (!library || typeof library.importName !== 'string' || typeof library.versionId !== 'string' || typeof library.code !== 'string') {
      throw new RunError('invalid_input', 'each library needs an importName, a versionId and code');
    }
  }
  const bytes = Buffer.byteLength(transformation.code, 'utf8');
  if (bytes > limits.maxCodeBytes) throw new RunError('code_too_large', `code is ${bytes} bytes; the limit is ${limits.maxCodeBytes} bytes`);
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
