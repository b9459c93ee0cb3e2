// The isolate engine: user transformations in warm isolated-vm isolates, cached per immutable
// version, with per-batch CPU/wall/memory limits and per-workspace fairness. It runs inside a
// sandbox host process (host/main.ts); the server process reaches it only through the pool
// (pool.ts), never by creating an isolate itself. Tests may create an engine in their own process
// to examine the cache and the limits directly.

import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { CodeAnalyzer } from '../analyze.js';
import { MAX_OUTPUT_DEPTH } from '../bootstrap.js';
import { MAX_ERROR_CHARS, decodeBatchOutput, outputCountMessage, outputSizeMessage } from '../contract.js';
import { SandboxCache, type Lease } from '../cache.js';
import { WorkspaceGate } from '../fairness.js';
import { engineSettingsOf, type EngineSettings } from '../options.js';
import { runBatch, type SerializedBatch } from '../run-batch.js';
import { findLibrary, Sandbox, type SandboxSettings } from '../sandbox.js';
import { HostCapabilities } from './capabilities.js';
import { RunError, type LibrarySource, type OutboundTally, type RunInput, type RunOutput, type RuntimeMetricsSink, type RuntimeOptions, type RuntimeStats, type SandboxRuntime, type TransformationSource } from '../types.js';

/** Versions whose import list is remembered; beyond this the oldest are forgotten (costing one compile). */
const MAX_REMEMBERED_VERSIONS = 2000;
const MAX_REMEMBERED_CODE_BYTES = 64 * 1024 * 1024;
/** Batch input an isolate takes between full collections (see BootstrapConfig). Measured: a full GC of a small isolate heap costs about 1 to 3 ms. */
const COLLECT_AFTER_INPUT_CHARS = 8 * 1024 * 1024;

interface KnownVersion {
  code: string;
  imports: string[];
}

/** A batch already serialized to the JSON text that crosses into the sandbox. */
export interface EncodedBatch extends Omit<SerializedBatch, 'skipOutbound'> {
  workspaceId: string;
  transformation: TransformationSource;
  libraries: LibrarySource[];
  /** Make no fetch or fetchV2 call (mirror and shadow runs). */
  skipOutbound?: boolean;
  /** Passed to onCatastrophicError should this batch make V8 give up on its isolate. */
  runTag?: string;
}

/** The sandbox's answer, still encoded (contract.ts decodes it on the trusted side). */
export interface EncodedAnswer {
  encoded: string;
  strayRejection?: string;
  coldStart: boolean;
  outbound?: OutboundTally;
}

export interface EngineHooks {
  metrics?: RuntimeMetricsSink;
  /** V8 lost control of an isolate; `runTag` names the batch it was running (or loading) for. */
  onCatastrophicError?: (message: string, runTag: string | undefined) => void;
}

export interface IsolateEngine extends SandboxRuntime {
  runEncoded(batch: EncodedBatch): Promise<EncodedAnswer>;
  /** fetch, fetchV2 and geolocation, shared with the host's Python interpreters. */
  readonly capabilities: HostCapabilities;
  /** External memory the engine holds for good (the geolocation database): not garbage. */
  residentBytes(): number;
}

/** `options` may be EngineSettings as the pool sends them: they are RuntimeOptions with every field set. */
export function createIsolateEngine(options: RuntimeOptions = {}, hooks: EngineHooks = {}): IsolateEngine {
  const settings: EngineSettings = engineSettingsOf(options);
  const { limits, cache: cacheOptions, queueTimeoutMs } = settings;
  const onCatastrophicError =
    hooks.onCatastrophicError ?? options.onCatastrophicError ?? ((message: string) => process.stderr.write(`tiller runtime: isolated-vm reported an unrecoverable error: ${message}\n`));
  const capabilities = new HostCapabilities(settings.outbound);
  const sandboxSettings: SandboxSettings = {
    limits,
    capabilities,
    bootstrap: {
      maxLogLines: settings.logs.maxLines,
      maxLogChars: settings.logs.maxChars,
      maxErrorChars: MAX_ERROR_CHARS - 1,
      collectAfterInputChars: COLLECT_AFTER_INPUT_CHARS,
      maxOutputChars: limits.maxOutputChars,
      maxOutputsPerEvent: limits.maxOutputsPerEvent,
      maxOutputDepth: MAX_OUTPUT_DEPTH,
      maxOutboundCalls: settings.outbound.maxCallsPerBatch,
      maxRequestChars: settings.outbound.maxResponseBytes,
      outputSizeMessage: outputSizeMessage(limits.maxOutputChars),
      outputCountMessage: outputCountMessage(limits.maxOutputsPerEvent),
    },
    onCatastrophicError: (message, sandbox) => onCatastrophicError(message, sandbox.runTag),
  };
  const metrics = hooks.metrics ?? options.metrics;
  const analyzer = new CodeAnalyzer(limits.maxCodeBytes, (message) => onCatastrophicError(message, undefined));
  const cache = new SandboxCache(cacheOptions, queueTimeoutMs);
  const gate = new WorkspaceGate(settings.workspaceConcurrency, settings.workspaceQueueLimit, queueTimeoutMs);
  // Import lists of compiled versions, bounded by count and by code size (lru-cache's maxSize).
  const knownVersions = new LRUCache<string, KnownVersion>({
    max: MAX_REMEMBERED_VERSIONS,
    maxSize: MAX_REMEMBERED_CODE_BYTES,
    sizeCalculation: (known) => Math.max(1, known.code.length),
  });
  const firstCompiles = new Map<string, Promise<unknown>>();
  const limitKills = { cpu: 0, wall: 0, memory: 0 };
  let closed = false;

  const remember = (versionKey: string, code: string, imports: string[]): void => {
    knownVersions.set(versionKey, { code, imports });
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

  const acquire = async (batch: EncodedBatch): Promise<Lease> => {
    const { code } = batch.transformation;
    const versionKey = versionKeyOf(batch.transformation.versionId, code);
    const build = (): Promise<Sandbox> =>
      Sandbox.create({ code, libraries: batch.libraries, namesJson: batch.namesJson ?? null, ...(batch.runTag !== undefined ? { runTag: batch.runTag } : {}) }, sandboxSettings);
    for (;;) {
      const known = knownVersions.get(versionKey);
      if (known && known.code === code) {
        return cache.acquire(cacheKey(versionKey, linkedFor(known.imports, batch.libraries)), batch.workspaceId, build);
      }
      const pending = firstCompiles.get(versionKey);
      if (pending) {
        // Another batch is compiling this version; its import list tells us the key.
        await pending.catch(() => undefined);
        if (knownVersions.get(versionKey)?.code === code) continue;
      }
      const compile = cache.acquireUnkeyed(batch.workspaceId, build, (sandbox) => {
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

  const runEncoded = async (batch: EncodedBatch): Promise<EncodedAnswer> => {
    if (closed) throw new RunError('shutting_down', 'the runtime is shutting down');
    const leave = await gate.enter(batch.workspaceId);
    try {
      const lease = await acquire(batch);
      lease.sandbox.runTag = batch.runTag;
      lease.sandbox.onOutboundWait = () => cache.waitingOnOutbound();
      let retire = true;
      try {
        const answer = await lease.sandbox.run(batch.eventsJson, batch.metadataJson, batch.captureLogs, {
          credentialsJson: batch.credentialsJson ?? null,
          namesJson: batch.namesJson ?? null,
          skipOutbound: batch.skipOutbound === true,
        });
        retire = lease.sandbox.retired || lease.sandbox.measureAfterRun(cacheOptions.recycleHeapFraction, cacheOptions.maxRunsPerIsolate);
        // The answer was made next to user code: held to the contract here, JSON included, so that
        // only well-formed output leaves this process (the server decodes it again, framing only).
        decodeBatchOutput(answer.encoded, batch.eventCount, limits, { checkOnly: true });
        return { ...answer, coldStart: lease.created };
      } catch (error) {
        if (lease.sandbox.killedBy === 'cpu_limit') limitKills.cpu++;
        else if (lease.sandbox.killedBy === 'wall_limit') limitKills.wall++;
        else if (lease.sandbox.killedBy === 'memory_limit') limitKills.memory++;
        throw error;
      } finally {
        cache.release(lease.sandbox, retire);
      }
    } catch (error) {
      throw error instanceof RunError ? error : new RunError('code_error', error instanceof Error ? error.message : String(error));
    } finally {
      leave();
    }
  };

  // In-process runs (tests of the engine itself): the same path the pool takes, without the process.
  const run = (input: RunInput): Promise<RunOutput> =>
    runBatch(input, limits, metrics, (source, batch) => {
      if (closed) throw new RunError('shutting_down', 'the runtime is shutting down');
      return runEncoded({ workspaceId: source.workspaceId, transformation: source.transformation, libraries: source.libraries, ...batch });
    });

  return {
    analyze: (code, kind) => {
      if (closed) return Promise.reject(new RunError('shutting_down', 'the runtime is shutting down'));
      return analyzer.analyze(code, kind);
    },
    run,
    runEncoded,
    capabilities,
    residentBytes: () => capabilities.residentBytes,
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
      await capabilities.close();
    },
  };
}
