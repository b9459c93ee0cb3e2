// One warm isolate holding one compiled, evaluated transformation version and its libraries.
// The host calls it once per batch with the whole batch as one JSON string and gets one string
// back; limits are enforced here (CPU time, wall time, memory) by disposing the isolate.

import ivm from 'isolated-vm';
import { bootstrapSource, ENTRY_ERROR_PREFIX, type BootstrapConfig } from './bootstrap.js';
import type { HostCapabilities, OutboundRun } from './host/capabilities.js';
import { RunError, type LibrarySource, type OutboundTally, type RuntimeLimits } from './types.js';

export interface SandboxSpec {
  code: string;
  /** Libraries available by import name; only the ones the code imports are compiled. */
  libraries: LibrarySource[];
  /** The batch that asked for this sandbox (its top-level code runs on that batch's behalf). */
  runTag?: string;
  /** The names error frames of top-level code show (BatchExtras.namesJson of the batch that asked). */
  namesJson?: string | null;
}

export interface SandboxSettings {
  limits: RuntimeLimits;
  bootstrap: BootstrapConfig;
  /** fetch, fetchV2 and geolocation; without it (engine tests) those calls fail with a message. */
  capabilities?: HostCapabilities;
  /** V8 lost control of this sandbox's isolate; the process must end (see host/main.ts). */
  onCatastrophicError: (message: string, sandbox: Sandbox) => void;
}

export const TRANSFORMATION_FILENAME = 'file:///transformation.js';
export const libraryFilename = (importName: string): string => `file:///libraries/${encodeURIComponent(importName)}.js`;

/** The library a specifier names, or undefined. The first of several with one import name wins. */
export function findLibrary(libraries: LibrarySource[], specifier: string): LibrarySource | undefined {
  return libraries.find((library) => library.importName === specifier);
}

/** What one batch carries besides its events. */
export interface BatchExtras {
  /** What getCredential() reads, as JSON (null: none). */
  credentialsJson: string | null;
  /** Names error frames show, as JSON (null: the defaults). */
  namesJson: string | null;
  /** Make no fetch or fetchV2 call in this batch (its answer is compared, never used). */
  skipOutbound?: boolean;
}

/** Turns V8's "message [file:///x.js:3:7]" into a message with line and column (both 1-based). */
export function describeCompileError(error: unknown): { message: string; line?: number; column?: number; file?: string } {
  const raw = error instanceof Error ? error.message : String(error);
  const name = error instanceof Error && error.name ? error.name : 'SyntaxError';
  const match = /^(.*) \[(file:\/\/\/[^\]]*?):(\d+):(\d+)\]$/s.exec(raw);
  if (!match) return { message: `${name}: ${raw}` };
  const [, text, file, line, column] = match as unknown as [string, string, string, string, string];
  return { message: `${name}: ${text}`, line: Number(line), column: Number(column), file };
}

type LimitCode = 'cpu_limit' | 'wall_limit' | 'memory_limit';

const ONE_MB = 1024 * 1024;

export class Sandbox {
  /** Import specifiers of the transformation, in source order. */
  imports: string[] = [];
  /** Version ids of the linked libraries, by import name. */
  linked: Array<{ importName: string; versionId: string }> = [];
  runs = 0;
  heapUsedBytes = 0;
  lastUsedAt = Date.now();
  /** Set when the isolate must not serve another batch (limit hit, recycled, closed). */
  retired = false;
  /** The limit a watchdog enforced on the latest run, if any. */
  killedBy: LimitCode | null = null;
  /** Who the current run belongs to, so an unrecoverable error can name the batch that caused it. */
  runTag: string | undefined;
  private namesJson: string | null = null;

  private readonly isolate: ivm.Isolate;
  private context: ivm.Context | undefined;
  private runner: ivm.Reference<(events: string | null, metadata: string | null, captureLogs: boolean, credentials: string | null, names: string | null) => Promise<string | undefined>> | undefined;
  /** The running batch's outbound budget, made on its first call; calls made outside a batch are refused. */
  private outbound: { run: OutboundRun; end: () => void } | undefined;
  private batchRunning = false;
  /** This batch makes no fetch or fetchV2 call (BatchExtras.skipOutbound). */
  private skipOutbound = false;
  /** Called when the running batch begins waiting on outbound calls (the cache may then build another isolate). */
  onOutboundWait: (() => void) | undefined;

  /** Whether the running batch is waiting on outbound calls (the isolate itself is idle meanwhile). */
  get waitingOnOutbound(): boolean {
    return (this.outbound?.run.inFlight ?? 0) > 0;
  }

  private constructor(private readonly settings: SandboxSettings) {
    this.isolate = new ivm.Isolate({ memoryLimit: settings.limits.memoryMb, onCatastrophicError: (message) => settings.onCatastrophicError(message, this) });
  }

  /** Compiles, links and evaluates a version in a new isolate. Throws RunError; never leaks the isolate. */
  static async create(spec: SandboxSpec, settings: SandboxSettings): Promise<Sandbox> {
    const sandbox = new Sandbox(settings);
    sandbox.runTag = spec.runTag;
    try {
      await sandbox.load(spec);
      return sandbox;
    } catch (error) {
      sandbox.dispose();
      throw error;
    }
  }

  get disposed(): boolean {
    return this.isolate.isDisposed;
  }

  private async load(spec: SandboxSpec): Promise<void> {
    const { limits } = this.settings;
    const isolate = this.isolate;
    const context = await isolate.createContext();
    this.context = context;
    const bootstrap = await context.eval(bootstrapSource, { reference: true, filename: 'file:///tiller/bootstrap.js' });
    // The one door from the isolate to the host: the bootstrap keeps it in a closure, user code never sees it.
    const door = new ivm.Reference((op: unknown, payload: unknown) => this.hostCall(op, payload));
    const createRunner = await bootstrap.apply(undefined, [new ivm.ExternalCopy(this.settings.bootstrap).copyInto(), door], { result: { reference: true } });
    bootstrap.release();

    const module = await compile(isolate, spec.code, TRANSFORMATION_FILENAME);
    this.imports = [...new Set(module.dependencySpecifiers)];
    const libraryModules = new Map<string, ivm.Module>();
    for (const specifier of this.imports) {
      const library = findLibrary(spec.libraries, specifier);
      if (!library) throw new RunError('link_error', `library "${specifier}" not found`);
      if (Buffer.byteLength(library.code, 'utf8') > limits.maxCodeBytes) {
        throw new RunError('code_too_large', `library "${specifier}" is larger than ${limits.maxCodeBytes} bytes`);
      }
      const libraryModule = await compile(isolate, library.code, libraryFilename(specifier), `library "${specifier}": `);
      if (libraryModule.dependencySpecifiers.length > 0) {
        throw new RunError('link_error', `library "${specifier}" imports "${libraryModule.dependencySpecifiers[0]}"; libraries cannot import other modules`);
      }
      libraryModules.set(specifier, libraryModule);
      this.linked.push({ importName: specifier, versionId: library.versionId });
    }

    try {
      await module.instantiate(context, (specifier) => {
        const found = libraryModules.get(specifier);
        if (!found) throw new Error(`library "${specifier}" not found`);
        return found;
      });
    } catch (error) {
      throw new RunError('link_error', describeCompileError(error).message);
    }

    // Top-level code of the module and its libraries runs here, under the same limits as a batch.
    this.namesJson = spec.namesJson ?? null;
    await this.guard(() => module.evaluate({ timeout: limits.wallTimeMs }), 'top-level code');

    try {
      this.runner = (await createRunner.apply(undefined, [module.namespace.derefInto()], { result: { reference: true } })) as typeof this.runner;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new RunError('code_error', message.startsWith(ENTRY_ERROR_PREFIX) ? message.slice(ENTRY_ERROR_PREFIX.length) : message);
    } finally {
      createRunner.release();
    }
    module.release();
    for (const libraryModule of libraryModules.values()) libraryModule.release();
  }

  /**
   * Runs one batch. Resolves with the encoded output (see bootstrap.ts) and, when the code left an
   * unhandled promise rejection behind, a description of it; limit breaks reject with RunError.
   */
  async run(eventsJson: string, metadataJson: string | null, captureLogs: boolean, extras: BatchExtras): Promise<{ encoded: string; strayRejection?: string; outbound?: OutboundTally }> {
    const runner = this.runner;
    if (!runner || this.retired || this.isolate.isDisposed) throw new RunError('shutting_down', 'the sandbox is no longer available');
    this.runs++;
    this.lastUsedAt = Date.now();
    // isolated-vm's own timeout is a backstop at the longest a batch may take; the watchdog in
    // guard() holds the batch to its wall limit, the longer one once it has made outbound calls.
    const options = { timeout: Math.max(this.settings.limits.wallTimeMs, this.settings.limits.outboundWallTimeMs), result: { promise: true as const } };
    this.outbound = undefined;
    this.skipOutbound = extras.skipOutbound === true;
    this.batchRunning = true;
    const tally = (): { outbound?: OutboundTally } => (this.outbound && this.outbound.run.calls > 0 ? { outbound: this.outbound.run.tally } : {});
    try {
      let result: unknown;
      try {
        result = await this.guard(() => runner.apply(undefined, [eventsJson, metadataJson, captureLogs, extras.credentialsJson, extras.namesJson], options), 'the batch');
      } catch (error) {
        // A stray rejected promise (say an un-awaited import()) fails the call even though the batch
        // finished. The batch's outcome stands; the rejection is reported as a log line.
        if (!(error instanceof RunError) || error.code !== 'code_error' || this.isolate.isDisposed) throw error;
        const finished = await this.guard(() => runner.apply(undefined, [null, null, false, null, null], options), 'the batch');
        if (typeof finished !== 'string') throw error;
        return { encoded: finished, strayRejection: error.message.replace(/^the batch threw /, ''), ...tally() };
      }
      if (typeof result !== 'string') throw new RunError('invalid_output', 'the sandbox answered with no output');
      return { encoded: result, ...tally() };
    } finally {
      this.batchRunning = false;
      // A call the code did not wait for is aborted with its batch; should its answer still come,
      // the bootstrap drops it (see callHost there), so no user code wakes after the batch.
      this.endOutbound();
    }
  }

  private endOutbound(): void {
    this.outbound?.end();
    this.outbound = undefined;
  }

  /** A capability call from the bootstrap: always a string answer (see host/capabilities.ts). */
  private hostCall(op: unknown, payload: unknown): Promise<string> | string {
    const capabilities = this.settings.capabilities;
    if (!capabilities) return 'eoutbound calls are not available in this runtime';
    if (!this.batchRunning) return 'eoutbound calls can only be made while a batch runs, not from top-level module code';
    // Most batches never call out: their budget (an AbortController, a queue) is made on first use.
    this.outbound ??= capabilities.begin(this.skipOutbound);
    const run = this.outbound.run;
    const wasComputing = run.inFlight === 0;
    const answer = capabilities.call(run, op, payload).catch((error: unknown) => `e${error instanceof Error ? error.message : String(error)}`);
    if (wasComputing && run.inFlight > 0) this.onOutboundWait?.();
    return answer;
  }

  /** Measures the heap after a run and says whether the isolate should be retired before it nears its limit. */
  measureAfterRun(recycleHeapFraction: number, maxRuns: number): boolean {
    if (this.isolate.isDisposed) return true;
    try {
      // The JS heap only: externally allocated memory is mostly the batch strings of recent runs,
      // garbage that isolated-vm collects (LowMemoryNotification) before it would enforce the limit.
      this.heapUsedBytes = this.isolate.getHeapStatisticsSync().used_heap_size;
    } catch {
      return true;
    }
    return this.heapUsedBytes > recycleHeapFraction * this.settings.limits.memoryMb * ONE_MB || this.runs >= maxRuns;
  }

  /**
   * Runs isolate work under the CPU and wall-clock budgets. isolated-vm's own `timeout` stops
   * running code by wall time (it also covers microtasks after an `await`); the watchdog here adds
   * CPU accounting and catches code that never settles (a promise nobody resolves).
   */
  private async guard<T>(work: () => Promise<T>, what: string): Promise<T> {
    const { cpuTimeMs } = this.settings.limits;
    const wallLimit = (): number => this.wallLimitNow();
    const isolate = this.isolate;
    const cpuStart = isolate.cpuTime;
    const wallStart = performance.now();
    this.killedBy = null;
    let timer: NodeJS.Timeout | undefined;
    const check = (): void => {
      if (isolate.isDisposed) return;
      const cpuMs = Number(isolate.cpuTime - cpuStart) / 1e6;
      const wallMs = performance.now() - wallStart;
      if (cpuMs >= cpuTimeMs) this.kill('cpu_limit');
      else if (wallMs >= wallLimit() + 50) this.kill('wall_limit');
      else {
        // CPU time never runs ahead of wall time, so waiting for the smaller remainder cannot overshoot.
        timer = setTimeout(check, Math.max(5, Math.min(cpuTimeMs - cpuMs, wallLimit() + 50 - wallMs)));
        timer.unref();
      }
    };
    timer = setTimeout(check, Math.min(cpuTimeMs, wallLimit() + 50));
    timer.unref();
    try {
      return await work();
    } catch (error) {
      throw this.classify(error, what, cpuStart);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The running batch's wall-clock limit: wallTimeMs, or outboundWallTimeMs once it has made an
   * outbound call (waiting on the network is what such code does; its CPU limit is unchanged).
   */
  private wallLimitNow(): number {
    const { wallTimeMs, outboundWallTimeMs } = this.settings.limits;
    return this.outbound !== undefined && this.outbound.run.calls > 0 ? Math.max(wallTimeMs, outboundWallTimeMs) : wallTimeMs;
  }

  private kill(reason: LimitCode): void {
    this.killedBy = reason;
    this.dispose();
  }

  private classify(error: unknown, what: string, cpuStart: bigint): RunError {
    if (error instanceof RunError) return error;
    const message = error instanceof Error ? error.message : String(error);
    const { cpuTimeMs, memoryMb } = this.settings.limits;
    const wallTimeMs = this.wallLimitNow();
    let reason: LimitCode | null = this.killedBy;
    if (!reason && /memory limit/i.test(message)) reason = 'memory_limit';
    if (!reason && /Script execution timed out/.test(message)) {
      const cpuMs = this.isolate.isDisposed ? 0 : Number(this.isolate.cpuTime - cpuStart) / 1e6;
      reason = cpuMs >= cpuTimeMs ? 'cpu_limit' : 'wall_limit';
    }
    if (reason) {
      this.killedBy = reason;
      this.dispose();
      if (reason === 'cpu_limit') return new RunError('cpu_limit', `${what} used more than ${cpuTimeMs} ms of CPU time`);
      if (reason === 'wall_limit') return new RunError('wall_limit', `${what} did not finish within ${wallTimeMs} ms`);
      return new RunError('memory_limit', `${what} used more than ${memoryMb} MB of memory`);
    }
    if (this.isolate.isDisposed) {
      this.retired = true;
      return new RunError('shutting_down', 'the sandbox was disposed while running');
    }
    // A throw from top-level module code: the user's own error with its frames, without host frames.
    const name = error instanceof Error && error.name ? error.name : 'Error';
    // (An unhandled rejection after a finished batch lands here too; it becomes one log line, kept short.)
    const frames = error instanceof Error && what === 'top-level code' ? topLevelFrames(error.stack, this.namesJson) : '';
    return new RunError('code_error', `${what} threw ${name}: ${message}${frames}`);
  }

  dispose(): void {
    this.retired = true;
    this.runner = undefined;
    this.context = undefined;
    if (!this.isolate.isDisposed) {
      try {
        this.isolate.dispose();
      } catch {
        // Already disposed by isolated-vm (memory limit) between the check and the call.
      }
    }
  }
}

/**
 * The user's frames of an error thrown by top-level module code, as the bootstrap writes those of a
 * batch (`\n    at f (My transformation:3:7)`): only frames of the transformation and its
 * libraries, and nothing past isolated-vm's boundary, where the host's own frames begin.
 */
export function topLevelFrames(stack: unknown, namesJson: string | null): string {
  if (typeof stack !== 'string') return '';
  let names: { transformation?: unknown; libraries?: Record<string, unknown> } = {};
  try {
    if (namesJson) names = JSON.parse(namesJson) as typeof names;
  } catch {
    // Defaults stand.
  }
  const fileName = (file: string): string | undefined => {
    if (file === TRANSFORMATION_FILENAME) return typeof names.transformation === 'string' ? names.transformation : 'transformation';
    if (!file.startsWith('file:///libraries/') || !file.endsWith('.js')) return undefined;
    const importName = decodeURIComponent(file.slice('file:///libraries/'.length, -'.js'.length));
    const named = names.libraries?.[importName];
    return typeof named === 'string' ? named : importName;
  };
  let frames = '';
  let count = 0;
  for (const line of stack.split('\n').slice(1)) {
    if (line.includes('<isolated-vm boundary>') || count >= 10) break;
    const match = /^\s*at (?:(.*) \()?(file:\/\/\/[^()]*?):(\d+):(\d+)\)?$/.exec(line);
    const place = match ? fileName(match[2]!) : undefined;
    if (!match || place === undefined) continue;
    frames += `\n    at ${match[1] !== undefined ? `${match[1]} (${place}:${match[3]}:${match[4]})` : `${place}:${match[3]}:${match[4]}`}`;
    count++;
  }
  return frames;
}

async function compile(isolate: ivm.Isolate, code: string, filename: string, prefix = ''): Promise<ivm.Module> {
  try {
    return await isolate.compileModule(code, { filename });
  } catch (error) {
    if (isolate.isDisposed) throw new RunError('memory_limit', `${prefix}compiling used more memory than the isolate may`);
    const described = describeCompileError(error);
    const where = described.line !== undefined ? ` (line ${described.line}, column ${described.column})` : '';
    throw new RunError('code_error', `${prefix}${described.message}${where}`);
  }
}
