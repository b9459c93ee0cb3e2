// The Python engine: user transformations in Pyodide interpreters, one interpreter per process
// (interpreter.mjs), started and limited by the sandbox host process this module runs in. An
// interpreter holds one version (with its libraries) and is reused for that version's batches, like
// a warm isolate; a spare interpreter, loaded but empty, is kept once the host has seen Python, so a
// new version pays for loading its own code only, not for starting Python (about 4.7 s).
//
// Each interpreter process runs under Node's permission model (it may read only Pyodide's files and
// this folder: no writes, no child processes, no workers, no addons), without the host's environment,
// in network and user namespaces of its own where the machine allows them, and it dies with the host
// (setpriv --pdeathsig). Limits are enforced from here, outside the interpreter: wall clock by
// timer, CPU by reading the process's CPU time from /proc, memory by the interpreter's own cap on
// its WebAssembly heap. A batch that breaks one kills its interpreter, never the host.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MAX_ERROR_CHARS, decodeBatchOutput, outputCountMessage, outputSizeMessage } from '../contract.js';
import type { EngineSettings } from '../options.js';
import type { HostCapabilities, OutboundRun } from '../host/capabilities.js';
import type { EncodedAnswer, EncodedBatch } from '../host/engine.js';
import { MAX_OUTPUT_DEPTH } from '../bootstrap.js';
import { RunError, type CodeAnalysis } from '../types.js';

const here = dirname(fileURLToPath(import.meta.url));
const CPU_POLL_MS = 25;
/** Clock ticks per second in /proc/<pid>/stat: 100 on every Linux build Tiller targets. */
const CLOCK_TICKS_PER_SECOND = 100;
/** How long an interpreter may take to start (Pyodide loads in about 5 s on a shared 2-core machine). */
const START_TIMEOUT_MS = 60_000;
const MAX_STDERR_CHARS = 4096;
/** The host reports with every answer; resident memory is read from /proc at most this often. */
const RSS_MEASURE_MS = 1000;

export interface PythonStats {
  interpreters: number;
  busy: number;
  /** Interpreters started since the host started, and batches that had to load their version. */
  started: number;
  coldLoads: number;
  /** Resident memory of all interpreter processes, in bytes, as last measured. */
  rssBytes: number;
  /** Interpreters ended because a batch broke a limit. */
  limitKills: { cpu: number; wall: number; memory: number };
}

export interface PythonEngine {
  runEncoded(batch: EncodedBatch): Promise<EncodedAnswer>;
  analyze(code: string, kind: 'transformation' | 'library'): Promise<CodeAnalysis>;
  stats(): PythonStats;
  close(): Promise<void>;
}

type Message = Record<string, unknown> & { t: string };

/** How interpreter processes are started here: worked out once per host. */
interface Launcher {
  command: string;
  prefix: string[];
}

function launcher(): Launcher {
  const node = process.execPath;
  // Network and user namespaces of its own (no interface but loopback, no privileges): on machines
  // where unprivileged namespaces are off (some containers), the permission model still applies.
  const probe = spawnSync('unshare', ['--user', '--net', '--', 'true'], { stdio: 'ignore', timeout: 5000 });
  const namespaces = probe.status === 0;
  const deathSignal = spawnSync('setpriv', ['--pdeathsig', 'KILL', '--', 'true'], { stdio: 'ignore', timeout: 5000 }).status === 0;
  if (!namespaces) process.stderr.write('tiller sandbox host: unprivileged namespaces are not available; Python interpreters run without a network namespace of their own\n');
  const prefix = [...(namespaces ? ['--user', '--net', '--'] : []), ...(deathSignal ? ['setpriv', '--pdeathsig', 'KILL', '--'] : []), node];
  return namespaces ? { command: 'unshare', prefix } : { command: prefix[0]!, prefix: prefix.slice(1) };
}

class Interpreter {
  state: 'starting' | 'idle' | 'busy' | 'dead' = 'starting';
  /** The version (and library versions) it holds; null while it is a spare. */
  key: string | null = null;
  baseMemoryBytes = 0;
  memoryBytes = 0;
  runs = 0;
  lastUsed = Date.now();
  rssBytes = 0;
  readonly ready: Promise<void>;
  private buffer = '';
  private stderr = '';
  private waiting: { resolve: (message: Message) => void; reject: (error: Error) => void } | null = null;
  private onCall: ((op: string, request: string) => void) | null = null;
  private died!: (reason: string) => void;
  /** Why the process ended, once it has. */
  endReason: string | null = null;
  readonly ended: Promise<string>;

  constructor(readonly child: ChildProcess) {
    this.ended = new Promise((resolve) => (this.died = resolve));
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => this.receive(chunk));
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      if (this.stderr.length < MAX_STDERR_CHARS) this.stderr += chunk;
    });
    child.stdin!.on('error', () => undefined);
    child.on('error', (error) => this.end(`could not start: ${error.message}`));
    child.on('exit', (code, signal) => this.end(signal ? `ended by ${signal}` : `exited with code ${code}`));
    this.ready = this.next().then((message) => {
      if (message.t !== 'ready') throw new Error(`unexpected first message ${message.t}`);
      this.baseMemoryBytes = this.memoryBytes = Number(message.memoryBytes) || 0;
      this.state = 'idle';
    });
    this.ready.catch(() => undefined);
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** The stderr of a process that failed, for the host's log (never shown to users). */
  get diagnostics(): string {
    return this.stderr.trim().slice(-1000);
  }

  send(message: Message): void {
    if (this.state === 'dead') return;
    this.child.stdin!.write(`${JSON.stringify(message)}\n`);
  }

  /** The next message that is not a capability call; calls go to the handler set for the batch. */
  next(onCall: ((op: string, request: string) => void) | null = null): Promise<Message> {
    this.onCall = onCall;
    return new Promise<Message>((resolve, reject) => {
      if (this.endReason !== null) return reject(new Error(this.endReason));
      this.waiting = { resolve, reject };
    });
  }

  kill(): void {
    if (this.state !== 'dead') this.child.kill('SIGKILL');
    this.state = 'dead';
  }

  /** CPU time the process has used, in ms, or NaN once it is gone. */
  cpuMs(): number {
    try {
      const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces, so split after its closing paren).
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
    } catch {
      return Number.NaN;
    }
  }

  private rssMeasuredAt = 0;

  measureRss(): number {
    const now = Date.now();
    if (now - this.rssMeasuredAt < RSS_MEASURE_MS) return this.rssBytes;
    this.rssMeasuredAt = now;
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
      this.rssBytes = match ? Number(match[1]) * 1024 : 0;
    } catch {
      this.rssBytes = 0;
    }
    return this.rssBytes;
  }

  private receive(chunk: string): void {
    this.buffer += chunk;
    for (let newline = this.buffer.indexOf('\n'); newline >= 0; newline = this.buffer.indexOf('\n')) {
      const line = this.buffer.slice(0, newline);
      this.buffer = this.buffer.slice(newline + 1);
      let message: Message;
      try {
        message = JSON.parse(line) as Message;
      } catch {
        this.kill();
        return;
      }
      if (message.t === 'call' && this.onCall) {
        this.onCall(String(message.op), String(message.request));
        continue;
      }
      const waiting = this.waiting;
      this.waiting = null;
      waiting?.resolve(message);
    }
  }

  private end(reason: string): void {
    if (this.endReason !== null) return;
    this.endReason = reason;
    this.state = 'dead';
    this.died(reason);
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.reject(new Error(reason));
  }
}

interface Waiter {
  wake: () => void;
}

export function createPythonEngine(settings: EngineSettings, capabilities: HostCapabilities): PythonEngine {
  const { limits } = settings;
  const maxInterpreters = settings.python.interpretersPerProcess;
  const perVersion = Math.max(1, Math.min(settings.cache.isolatesPerVersion, maxInterpreters - 1));
  const require = createRequire(import.meta.url);
  const pyodideModule = require.resolve('pyodide/pyodide.mjs');
  const pyodideDir = dirname(pyodideModule);
  const config = JSON.stringify({
    pyodideModule: pathToFileURL(pyodideModule).href,
    pyodideDir: `${pyodideDir}/`,
    memoryMb: limits.memoryMb,
    runner: {
      maxLogLines: settings.logs.maxLines,
      maxLogChars: settings.logs.maxChars,
      maxErrorChars: MAX_ERROR_CHARS - 1,
      maxOutputChars: limits.maxOutputChars,
      maxOutputsPerEvent: limits.maxOutputsPerEvent,
      maxOutputDepth: MAX_OUTPUT_DEPTH,
      outputSizeMessage: outputSizeMessage(limits.maxOutputChars),
      outputCountMessage: outputCountMessage(limits.maxOutputsPerEvent),
    },
  });
  let start: Launcher | undefined;
  const interpreters = new Set<Interpreter>();
  const waiters = new Set<Waiter>();
  let started = 0;
  let coldLoads = 0;
  const limitKills = { cpu: 0, wall: 0, memory: 0 };
  let closed = false;
  let analyzing: Promise<unknown> = Promise.resolve();

  const spawnInterpreter = (): Interpreter => {
    start ??= launcher();
    const args = [
      ...start.prefix,
      '--experimental-permission',
      `--allow-fs-read=${pyodideDir}/*`,
      `--allow-fs-read=${here}/*`,
      '--disallow-code-generation-from-strings',
      '--no-warnings',
      '--max-semi-space-size=2',
      `${here}/interpreter.mjs`,
      config,
    ];
    // No environment at all: nothing of the host's settings reaches user code.
    const child = spawn(start.command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: {}, cwd: '/' });
    const interpreter = new Interpreter(child);
    started++;
    interpreters.add(interpreter);
    void interpreter.ended.then((reason) => {
      interpreters.delete(interpreter);
      // A spare that could not start is the operator's to fix (a batch's interpreter is reported with the batch).
      if (!closed && interpreter.key === null && interpreter.diagnostics) {
        process.stderr.write(`tiller sandbox host: a Python interpreter ${reason}: ${interpreter.diagnostics}\n`);
      }
      notify();
    });
    const timer = setTimeout(() => interpreter.state === 'starting' && interpreter.kill(), START_TIMEOUT_MS);
    timer.unref();
    void interpreter.ready.then(
      () => {
        clearTimeout(timer);
        notify();
      },
      () => clearTimeout(timer),
    );
    return interpreter;
  };

  const notify = (): void => {
    for (const waiter of [...waiters]) waiter.wake();
  };

  const spares = (): Interpreter[] => [...interpreters].filter((i) => i.key === null && i.state !== 'dead');

  /** Keeps one spare starting or ready while there is room for it. */
  const keepSpare = (): void => {
    if (closed || spares().length > 0) return;
    if (interpreters.size >= maxInterpreters && !evictIdle()) return;
    spawnInterpreter();
  };

  /** Ends the least recently used idle interpreter that holds a version; false when none is idle. */
  const evictIdle = (except?: string): boolean => {
    let oldest: Interpreter | undefined;
    for (const interpreter of interpreters) {
      if (interpreter.state !== 'idle' || interpreter.key === null || interpreter.key === except) continue;
      if (!oldest || interpreter.lastUsed < oldest.lastUsed) oldest = interpreter;
    }
    if (!oldest) return false;
    oldest.kill();
    interpreters.delete(oldest);
    return true;
  };

  const keyOf = (batch: EncodedBatch): string =>
    [batch.transformation.versionId, ...batch.libraries.map((library) => library.versionId).sort()].join('\u0000');

  /** Waits until something changed (an interpreter freed, started or ended), or the deadline. */
  const waitForChange = (deadline: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const remaining = deadline - Date.now();
      if (remaining <= 0) return reject(new RunError('overloaded', 'no Python interpreter became free in time; try again'));
      const waiter: Waiter = {
        wake: () => {
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new RunError('overloaded', 'no Python interpreter became free in time; try again'));
      }, remaining);
      timer.unref();
      waiters.add(waiter);
    });

  /** An idle interpreter holding this version, or a fresh one loaded with it. */
  const acquire = async (batch: EncodedBatch, key: string): Promise<{ interpreter: Interpreter; loaded: boolean }> => {
    const deadline = Date.now() + settings.queueTimeoutMs;
    for (;;) {
      if (closed) throw new RunError('shutting_down', 'the runtime is shutting down');
      const own = [...interpreters].filter((i) => i.key === key && i.state !== 'dead');
      const idle = own.find((i) => i.state === 'idle');
      if (idle) {
        idle.state = 'busy';
        return { interpreter: idle, loaded: false };
      }
      if (own.length < perVersion) {
        const spare = spares().find((i) => i.state === 'idle');
        if (spare) {
          spare.key = key;
          spare.state = 'busy';
          keepSpare();
          return { interpreter: spare, loaded: true };
        }
        // No ready spare: start one when there is room (a cold start; other versions keep running).
        if (spares().length === 0 && (interpreters.size < maxInterpreters || evictIdle(key))) spawnInterpreter();
      }
      await waitForChange(deadline);
    }
  };

  const release = (interpreter: Interpreter, keep: boolean): void => {
    interpreter.lastUsed = Date.now();
    if (keep && interpreter.state === 'busy') interpreter.state = 'idle';
    else {
      interpreter.kill();
      interpreters.delete(interpreter);
      keepSpare();
    }
    notify();
  };

  /**
   * Sends one request and waits for its answer, within the batch's limits: past the wall clock or
   * the CPU time the interpreter is killed and the request fails with the limit's code.
   */
  const request = async (interpreter: Interpreter, message: Message, what: string, outbound?: { run: OutboundRun }): Promise<Message> => {
    const cpuStart = interpreter.cpuMs();
    const startedAt = Date.now();
    let calledOut = false;
    let killedBy: 'cpu_limit' | 'wall_limit' | null = null;
    const wallLimit = () => (calledOut ? limits.outboundWallTimeMs : limits.wallTimeMs);
    const watch = setInterval(() => {
      if (Date.now() - startedAt > wallLimit()) killedBy = 'wall_limit';
      else if (interpreter.cpuMs() - cpuStart > limits.cpuTimeMs) killedBy = 'cpu_limit';
      if (killedBy) interpreter.kill();
    }, CPU_POLL_MS);
    const onCall = (op: string, payload: string): void => {
      calledOut = true;
      const answer = outbound ? capabilities.call(outbound.run, op, payload) : Promise.resolve('ecapabilities are not available here');
      void answer.then(
        (body) => interpreter.send({ t: 'answer', body }),
        () => interpreter.send({ t: 'answer', body: 'ethe call failed' }),
      );
    };
    try {
      interpreter.send(message);
      return await interpreter.next(onCall);
    } catch (error) {
      if (killedBy === 'cpu_limit') throw new RunError('cpu_limit', `${what} used more than ${limits.cpuTimeMs} ms of CPU time`);
      if (killedBy === 'wall_limit') throw new RunError('wall_limit', `${what} did not finish within ${wallLimit()} ms`);
      if (closed) throw new RunError('shutting_down', 'the runtime is shutting down');
      const detail = interpreter.diagnostics;
      if (detail) process.stderr.write(`tiller sandbox host: a Python interpreter ended under a batch (${error instanceof Error ? error.message : String(error)}): ${detail}\n`);
      throw new RunError('code_error', `the Python interpreter running ${what} ended unexpectedly; the batch did not complete`);
    } finally {
      clearInterval(watch);
    }
  };

  /** An answer that ended the interpreter's usefulness: Pyodide failed, or the memory cap was hit. */
  const failureOf = (message: Message, what: string): RunError | null => {
    if (message.memoryLimit === true) return new RunError('memory_limit', `${what} used more than ${limits.memoryMb} MB of memory`);
    if (message.t === 'fatal') return new RunError('code_error', `the Python interpreter failed while running ${what}: ${String(message.message).slice(0, 500)}`);
    return null;
  };

  const load = async (interpreter: Interpreter, batch: EncodedBatch): Promise<void> => {
    const names = batch.namesJson ? (JSON.parse(batch.namesJson) as { transformation?: string; libraries?: Record<string, string> }) : {};
    const spec = {
      transformation: { name: names.transformation ?? 'transformation', code: batch.transformation.code },
      libraries: batch.libraries.map((library) => ({ importName: library.importName, name: names.libraries?.[library.importName] ?? library.importName, code: library.code })),
    };
    const answer = await request(interpreter, { t: 'load', spec: JSON.stringify(spec) }, 'loading the module');
    const failure = failureOf(answer, 'loading the module');
    if (failure) throw failure;
    if (answer.t !== 'loaded') throw new RunError('code_error', 'the Python interpreter answered out of turn');
    if (answer.error) {
      const error = answer.error as { code?: unknown; message?: unknown };
      throw new RunError(error.code === 'link_error' ? 'link_error' : 'code_error', String(error.message ?? 'the module could not be loaded'));
    }
    interpreter.baseMemoryBytes = Number(answer.memoryBytes) || interpreter.baseMemoryBytes;
  };

  const runEncoded = async (batch: EncodedBatch): Promise<EncodedAnswer> => {
    if (closed) throw new RunError('shutting_down', 'the runtime is shutting down');
    const bytes = Buffer.byteLength(batch.transformation.code, 'utf8');
    if (bytes > limits.maxCodeBytes) throw new RunError('code_too_large', `code is ${bytes} bytes; the limit is ${limits.maxCodeBytes} bytes`);
    const key = keyOf(batch);
    const { interpreter, loaded } = await acquire(batch, key);
    let keep = false;
    const outbound = capabilities.begin(batch.skipOutbound === true);
    try {
      await interpreter.ready.catch(() => undefined);
      if (loaded) {
        coldLoads++;
        await load(interpreter, batch);
      }
      const answer = await request(
        interpreter,
        { t: 'run', eventsJson: batch.eventsJson, metadataJson: batch.metadataJson, captureLogs: batch.captureLogs, credentialsJson: batch.credentialsJson },
        'the batch',
        outbound,
      );
      const failure = failureOf(answer, 'the batch');
      if (failure) throw failure;
      if (answer.t !== 'ran' || typeof answer.encoded !== 'string') throw new RunError('invalid_output', 'the Python interpreter answered out of turn');
      interpreter.runs++;
      interpreter.memoryBytes = Number(answer.memoryBytes) || 0;
      // A wasm heap never shrinks: an interpreter that grew past half its allowance is replaced.
      keep = interpreter.memoryBytes - interpreter.baseMemoryBytes < (limits.memoryMb * 1024 * 1024) / 2 && interpreter.runs < settings.cache.maxRunsPerIsolate;
      decodeBatchOutput(answer.encoded, batch.eventCount, limits, { checkOnly: true });
      const tally = outbound.run.tally;
      return { encoded: answer.encoded, coldStart: loaded, ...(Object.keys(tally).length > 0 ? { outbound: tally } : {}) };
    } catch (error) {
      keep = false;
      if (error instanceof RunError) {
        if (error.code === 'cpu_limit') limitKills.cpu++;
        else if (error.code === 'wall_limit') limitKills.wall++;
        else if (error.code === 'memory_limit') limitKills.memory++;
      }
      throw error instanceof RunError ? error : new RunError('code_error', error instanceof Error ? error.message : String(error));
    } finally {
      outbound.end();
      release(interpreter, keep);
    }
  };

  /** Compiles in the spare interpreter, one analysis at a time; the spare stays a spare. */
  const analyze = (code: string, kind: 'transformation' | 'library'): Promise<CodeAnalysis> => {
    const task = analyzing.then(async (): Promise<CodeAnalysis> => {
      if (closed) throw new RunError('shutting_down', 'the runtime is shutting down');
      const bytes = Buffer.byteLength(code, 'utf8');
      if (bytes > limits.maxCodeBytes) return { ok: false, error: { code: 'code_too_large', message: `code is ${bytes} bytes; the limit is ${limits.maxCodeBytes} bytes` } };
      const deadline = Date.now() + START_TIMEOUT_MS;
      let spare: Interpreter | undefined;
      for (;;) {
        keepSpare();
        spare = spares().find((i) => i.state === 'idle');
        if (spare) break;
        await waitForChange(deadline);
      }
      spare.state = 'busy';
      let keep = false;
      try {
        const answer = await request(spare, { t: 'analyze', code, kind }, 'compiling the code');
        const failure = failureOf(answer, 'compiling the code');
        if (failure) throw failure;
        keep = true;
        return answer.analysis as CodeAnalysis;
      } catch (error) {
        if (error instanceof RunError && (error.code === 'shutting_down' || error.code === 'overloaded')) throw error;
        return { ok: false, error: { code: 'compile_error', message: `the code could not be compiled: ${error instanceof Error ? error.message : String(error)}` } };
      } finally {
        if (keep && spare.state === 'busy') spare.state = 'idle';
        else release(spare, false);
        notify();
      }
    });
    analyzing = task.catch(() => undefined);
    return task;
  };

  // Idle interpreters unused for the cache's idle time are ended, the spare too once Python has
  // gone quiet: a host that stopped seeing Python gives its memory back.
  const idleTtlMs = settings.cache.idleTtlMs;
  const sweeper = setInterval(() => {
    if (idleTtlMs <= 0) return;
    const cutoff = Date.now() - idleTtlMs;
    for (const interpreter of [...interpreters]) {
      if (interpreter.state === 'idle' && interpreter.lastUsed < cutoff) {
        interpreter.kill();
        interpreters.delete(interpreter);
      }
    }
  }, Math.max(1000, Math.min(60_000, idleTtlMs / 4)));
  sweeper.unref();

  return {
    runEncoded,
    analyze,
    stats: () => {
      let busy = 0;
      let rssBytes = 0;
      for (const interpreter of interpreters) {
        if (interpreter.state === 'busy') busy++;
        rssBytes += interpreter.measureRss();
      }
      return { interpreters: interpreters.size, busy, started, coldLoads, rssBytes, limitKills: { ...limitKills } };
    },
    close: async () => {
      closed = true;
      clearInterval(sweeper);
      notify();
      for (const interpreter of interpreters) interpreter.kill();
      interpreters.clear();
    },
  };
}
