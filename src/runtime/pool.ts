// The server side of the runtime: a pool of sandbox host processes (host/main.ts) that it starts,
// feeds and replaces. The server process never creates an isolate; a batch crosses to a host as
// one message and comes back as one encoded answer, which is decoded here (the trust boundary:
// nothing a host says is believed until contract.ts has checked its framing).
//
// - Tenant affinity: a workspace's batches go to the host its id hashes to (rendezvous hashing over
//   host slots), so its warm isolates live in one place and a crash mostly hits the tenant that
//   caused it; once that host runs `spillAt` batches, they spill to the next host in the order.
// - Crash containment: when a host dies, only its batches fail (sandbox_crashed for the batch it
//   names in its last words, sandbox_lost for the others), a replacement starts at once, and the
//   culprit's version is quarantined (quarantine.ts).
// - Bounded memory: a host whose resident memory passes `processMaxRssMb` stops taking batches,
//   finishes the ones it has and is replaced.
// - Fairness: at most `workspaceConcurrency` batches of one workspace run at once, across all hosts.
//   A workspace whose code crashed a host runs, for a while, only in a separate low-priority host
//   (the lane), so further crashes and the CPU they burn cost the other tenants next to nothing.

import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { availableParallelism, constants as osConstants, setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import { WorkspaceGate } from './fairness.js';
import { runBatch } from './run-batch.js';
import type { EncodedAnswer } from './host/engine.js';
import { engineSettingsOf, positiveNumber, type EngineSettings } from './options.js';
import { LAST_WORDS_FD, type FromHost, type HostReport, type LastWords, type ToHost, type WireRunError } from './protocol.js';
import { defaultQuarantineOptions, QuarantineBook, type QuarantineOptions } from './quarantine.js';
import {
  RunError,
  type CodeAnalysis,
  type RunInput,
  type RunOutput,
  type RuntimeLanguage,
  type RuntimeOptions,
  type RuntimeStats,
  type SandboxHostEvent,
  type SandboxHostStats,
  type SandboxRuntime,
} from './types.js';

const ONE_MB = 1024 * 1024;
/** How long a host may take to exit after 'close' before it is killed. */
const EXIT_GRACE_MS = 3000;
/** Restart delay after a host died before it ever became ready, doubling up to the cap. */
const START_RETRY_BASE_MS = 100;
const START_RETRY_MAX_MS = 5000;
const MAX_LAST_WORDS_CHARS = 16 * 1024;
/** How long a workspace whose code crashed a host runs in the low-priority lane (default). */
const SUSPECT_MS = 10 * 60_000;
/** Scheduling priority of the lane's host: it gets only the CPU the other hosts leave. */
const LANE_PRIORITY = osConstants.priority.PRIORITY_LOW;
/** A host reports once a second; one silent for this long is wedged and is killed (then replaced). */
const SILENT_HOST_MS = 15_000;

/** The host entry next to this module: compiled JavaScript in production, TypeScript through tsx in development. */
function hostEntry(): { file: string; execArgv: string[] } {
  const fromSource = import.meta.url.endsWith('.ts');
  const file = fileURLToPath(new URL(fromSource ? './host/main.ts' : './host/main.js', import.meta.url));
  // --expose-gc lets the host and its bootstrap collect old batch strings early (host/main.ts,
  // bootstrap.ts): without it each host held 450-520 MB at full load instead of about 160 MB.
  // A 2 MB young generation (V8's default is 16 MB per semi-space): a host's own objects are
  // short-lived batch messages, so a small nursery costs no measurable CPU and keeps each host
  // about 25 MB smaller after load (bench/runtime: 120 -> 95 MB per host; 1 MB cost CPU).
  const execArgv = ['--no-node-snapshot', '--expose-gc', '--max-semi-space-size=2'];
  if (fromSource) execArgv.push('--import', createRequire(import.meta.url).resolve('tsx/esm'));
  return { file, execArgv };
}

/** The environment a host gets: enough to run Node, and none of the server's settings or secrets. */
function hostEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'TZ', 'LANG', 'LC_ALL']) if (process.env[key] !== undefined) env[key] = process.env[key];
  // Without a cap on malloc arenas, native memory of isolate threads grows without bound.
  env.MALLOC_ARENA_MAX = process.env.MALLOC_ARENA_MAX ?? '2';
  return env;
}

/**
 * 32-bit FNV-1a with MurmurHash3's finalizer: cheap and well spread. Without the finalizer the
 * slot number, hashed last, barely mixes, and one slot wins far more than its share.
 */
function rendezvousScore(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/** Host slots ordered by preference for a workspace (highest rendezvous score first). */
export function affinityOrder(workspaceId: string, slots: number): number[] {
  const scored = Array.from({ length: slots }, (_, slot) => ({ slot, score: rendezvousScore(`${workspaceId}\u0000${slot}`) }));
  scored.sort((a, b) => b.score - a.score || a.slot - b.slot);
  return scored.map((entry) => entry.slot);
}

interface PendingRun {
  kind: 'run';
  resolve: (answer: EncodedAnswer) => void;
  reject: (error: RunError) => void;
  workspaceId: string;
  versionId: string;
  libraryVersionIds: string[];
  quarantineKey: string;
  inline: boolean;
}

interface PendingAnalysis {
  kind: 'analyze';
  resolve: (analysis: CodeAnalysis) => void;
  reject: (error: RunError) => void;
}

type HostState = 'starting' | 'ready' | 'draining' | 'gone';

class HostProcess {
  state: HostState = 'starting';
  readonly pending = new Map<number, PendingRun | PendingAnalysis>();
  /** Batches running here now (analyses not counted). */
  runs = 0;
  report: HostReport | undefined;
  lastHeardAt = Date.now();
  lastWords = '';
  /** Set once the pool asked it to exit: its end is then expected, not a crash. */
  closing = false;
  readonly gone: Promise<void>;
  markGone!: () => void;

  constructor(
    readonly slot: number,
    readonly child: ChildProcess,
  ) {
    this.gone = new Promise((resolve) => (this.markGone = resolve));
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  send(message: ToHost): boolean {
    if (this.state === 'gone' || !this.child.connected) return false;
    try {
      this.child.send(message);
      return true;
    } catch {
      return false;
    }
  }
}

function toRunError(error: WireRunError): RunError {
  return new RunError(error.code, error.message, error.logs);
}

/** What counts as "the same code" for quarantine: the version and the library versions it links. */
function quarantineKeyOf(input: RunInput): string {
  const libraries = input.libraries.map((library) => library.versionId).sort();
  return libraries.length === 0 ? input.transformation.versionId : `${input.transformation.versionId}\u0000${libraries.join('\u0000')}`;
}

const emptyEngineStats = (): RuntimeStats => ({
  isolates: 0,
  busyIsolates: 0,
  versions: 0,
  cacheHits: 0,
  cacheMisses: 0,
  evictions: 0,
  recycled: 0,
  limitKills: { cpu: 0, wall: 0, memory: 0 },
  heapUsedBytes: 0,
  runningBatches: 0,
  queuedBatches: 0,
});

export function createRuntime(options: RuntimeOptions = {}): SandboxRuntime {
  return new SandboxPool(options);
}

class SandboxPool implements SandboxRuntime {
  private readonly settings: EngineSettings;
  private readonly hostSettings: string;
  private readonly entry = hostEntry();
  private readonly processCount: number;
  private readonly maxRssBytes: number;
  private readonly spillAt: number;
  private readonly book: QuarantineBook;
  private readonly gate: WorkspaceGate;
  /** One live host per slot (undefined while a replacement is pending). */
  private readonly slots: Array<HostProcess | undefined>;
  /** Hosts finishing their batches before they exit (memory bound). */
  private readonly draining = new Set<HostProcess>();
  /** The low-priority host for suspect workspaces, started when one needs it; its slot is processCount. */
  private lane: HostProcess | undefined;
  /** Workspaces whose code crashed a host, until when they run in the lane. */
  private readonly suspects = new Map<string, number>();
  private readonly suspectMs: number;
  /** Consecutive deaths before ready, per slot: spaces out restarts of a host that cannot start. */
  private readonly startFailures: number[];
  private readonly hostWaiters = new Set<() => void>();
  /** Monotonic counters of hosts that are gone, so totals do not drop when a host is replaced. */
  private readonly retired = emptyEngineStats();
  private readonly restarts = { crash: 0, memory: 0 };
  private nextId = 0;
  private waitingForHost = 0;
  private closed = false;
  private readonly watchdog: NodeJS.Timeout;

  constructor(private readonly options: RuntimeOptions) {
    this.settings = engineSettingsOf(options);
    this.processCount = Math.floor(positiveNumber(options.processes, Math.max(2, availableParallelism()), 'processes'));
    this.maxRssBytes = positiveNumber(options.processMaxRssMb, 1024, 'processMaxRssMb') * ONE_MB;
    this.spillAt = Math.floor(positiveNumber(options.spillAt, 2, 'spillAt'));
    this.suspectMs = positiveNumber(options.suspectMs, SUSPECT_MS, 'suspectMs');
    const quarantine: QuarantineOptions = { ...defaultQuarantineOptions, ...options.quarantine };
    this.book = new QuarantineBook(quarantine);
    this.gate = new WorkspaceGate(this.settings.workspaceConcurrency, this.settings.workspaceQueueLimit, this.settings.queueTimeoutMs);
    // Each host keeps its share of the warm-isolate bounds, so the totals hold across the pool.
    const share = (total: number) => Math.max(1, Math.ceil(total / this.processCount));
    const perHost: EngineSettings = {
      ...this.settings,
      // A hot version gets parallelism from several hosts (a busy host spills to the next), so its
      // isolates per version are a pool-wide number too: each host keeps its share of them.
      cache: {
        ...this.settings.cache,
        maxIsolates: share(this.settings.cache.maxIsolates),
        maxTotalHeapMb: share(this.settings.cache.maxTotalHeapMb),
        isolatesPerVersion: share(this.settings.cache.isolatesPerVersion),
      },
    };
    this.hostSettings = JSON.stringify(perHost);
    this.slots = new Array(this.processCount).fill(undefined);
    this.startFailures = new Array(this.processCount).fill(0);
    for (let slot = 0; slot < this.processCount; slot++) this.slots[slot] = this.spawn(slot);
    this.watchdog = setInterval(() => {
      this.killSilentHosts();
      this.closeIdleLane();
    }, SILENT_HOST_MS / 3);
    this.watchdog.unref();
  }

  // ------------------------------------------------------------------ the Runtime contract

  run(input: RunInput): Promise<RunOutput> {
    return runBatch(input, this.settings.limits, this.options.metrics, async (source, serialized) => {
      if (this.closed) throw new RunError('shutting_down', 'the runtime is shutting down');
      const inline = source.transformation.inline === true;
      const quarantineKey = quarantineKeyOf(source);
      this.refuseCrashers(source.workspaceId, quarantineKey, inline);
      const leave = await this.gate.enter(source.workspaceId);
      try {
        const host = await this.hostFor(source.workspaceId);
        return await new Promise<EncodedAnswer>((resolve, reject) => {
          const id = ++this.nextId;
          host.pending.set(id, {
            kind: 'run',
            resolve,
            reject,
            workspaceId: source.workspaceId,
            versionId: source.transformation.versionId,
            libraryVersionIds: source.libraries.map((library) => library.versionId),
            quarantineKey,
            inline,
          });
          host.runs++;
          // Only plain fields cross: the host needs nothing else, and a stray property cannot break the copy.
          const { versionId, code, codeVersion, language } = source.transformation;
          const batch = {
            workspaceId: source.workspaceId,
            transformation: { versionId, code, ...(codeVersion !== undefined ? { codeVersion } : {}), ...(language === 'pythonfaas' ? { language } : {}) },
            libraries: source.libraries.map((library) => ({ versionId: library.versionId, importName: library.importName, code: library.code })),
            ...serialized,
          };
          if (!host.send({ t: 'run', id, batch })) this.settle(host, id)?.reject(new RunError('sandbox_lost', 'the sandbox process ended before it took the batch; try again'));
        });
      } finally {
        leave();
      }
    });
  }

  async analyze(code: string, kind: 'transformation' | 'library', language?: RuntimeLanguage): Promise<CodeAnalysis> {
    if (this.closed) throw new RunError('shutting_down', 'the runtime is shutting down');
    const host = await this.hostFor(undefined);
    return new Promise<CodeAnalysis>((resolve, reject) => {
      const id = ++this.nextId;
      host.pending.set(id, { kind: 'analyze', resolve, reject });
      if (!host.send({ t: 'analyze', id, code, kind, ...(language === 'pythonfaas' ? { language } : {}) })) this.settle(host, id)?.reject(new RunError('sandbox_lost', 'the sandbox process ended before it took the request; try again'));
    });
  }

  stats(): RuntimeStats {
    const totals = { ...this.retired, limitKills: { ...this.retired.limitKills } };
    totals.isolates = totals.busyIsolates = totals.versions = totals.heapUsedBytes = totals.runningBatches = totals.queuedBatches = 0;
    const processes: SandboxHostStats['processes'] = [];
    let ready = 0;
    let starting = 0;
    for (const host of this.liveHosts()) {
      if (host.state === 'ready') ready++;
      else if (host.state === 'starting') starting++;
      processes.push({ slot: host.slot, pid: host.pid, state: host.state as 'starting' | 'ready' | 'draining', rssBytes: host.report?.rssBytes ?? 0, lane: host.slot === this.processCount });
      const engine = host.report?.engine;
      if (!engine) continue;
      totals.isolates += engine.isolates;
      totals.busyIsolates += engine.busyIsolates;
      totals.versions += engine.versions;
      totals.cacheHits += engine.cacheHits;
      totals.cacheMisses += engine.cacheMisses;
      totals.evictions += engine.evictions;
      totals.recycled += engine.recycled;
      totals.limitKills.cpu += engine.limitKills.cpu;
      totals.limitKills.wall += engine.limitKills.wall;
      totals.limitKills.memory += engine.limitKills.memory;
      totals.heapUsedBytes += engine.heapUsedBytes;
      totals.queuedBatches += engine.queuedBatches;
      totals.pythonInterpreters = (totals.pythonInterpreters ?? 0) + (engine.pythonInterpreters ?? 0);
      totals.pythonRssBytes = (totals.pythonRssBytes ?? 0) + (engine.pythonRssBytes ?? 0);
    }
    totals.runningBatches = this.gate.running;
    totals.queuedBatches += this.gate.queued + this.waitingForHost;
    totals.hosts = {
      ready,
      starting,
      draining: this.draining.size,
      restarts: { ...this.restarts },
      quarantined: this.book.activeCount(),
      quarantines: this.book.total,
      suspectWorkspaces: this.activeSuspects(),
      processes,
    };
    return totals;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.watchdog);
    this.gate.close();
    for (const wake of [...this.hostWaiters]) wake();
    await Promise.all(this.liveHosts().map((host) => this.retire(host, this.settings.limits.wallTimeMs)));
  }

  // ------------------------------------------------------------------ routing

  private liveHosts(): HostProcess[] {
    const hosts: HostProcess[] = [];
    for (const host of this.slots) if (host && host.state !== 'gone') hosts.push(host);
    for (const host of this.draining) hosts.push(host);
    if (this.lane && this.lane.state !== 'gone') hosts.push(this.lane);
    return hosts;
  }

  private isSuspect(workspaceId: string): boolean {
    const until = this.suspects.get(workspaceId);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.suspects.delete(workspaceId);
    return false;
  }

  private activeSuspects(): number {
    let count = 0;
    for (const workspaceId of [...this.suspects.keys()]) if (this.isSuspect(workspaceId)) count++;
    return count;
  }

  /** Quarantined versions and crash-limited workspaces fail at once, without running. */
  private refuseCrashers(workspaceId: string, quarantineKey: string, inline: boolean): void {
    if (inline) {
      const waitMs = this.book.inlineBlockedFor(workspaceId);
      if (waitMs > 0) {
        const seconds = Math.ceil(waitMs / 1000);
        throw new RunError('crash_limited', `test code of this workspace crashed sandbox processes too often; test calls are refused for ${seconds} s`, [], seconds);
      }
      return;
    }
    const until = this.book.quarantinedUntil(quarantineKey);
    if (until !== undefined) {
      const seconds = Math.ceil((until - Date.now()) / 1000);
      throw new RunError(
        'quarantined',
        `this transformation version is quarantined until ${new Date(until).toISOString()} because a batch of it crashed its sandbox process; it is not run until then (publish a fixed version to serve events sooner)`,
        [],
        seconds,
      );
    }
  }

  /**
   * The host for a workspace's batch: its preferred ready host, or the next in its order while the
   * preferred one is busy, or the least busy of all. Without a workspace (save-time analysis), the
   * least busy. Waits for a host to come up, within the queue timeout.
   */
  private async hostFor(workspaceId: string | undefined): Promise<HostProcess> {
    const deadline = Date.now() + this.settings.queueTimeoutMs;
    for (;;) {
      if (this.closed) throw new RunError('shutting_down', 'the runtime is shutting down');
      const host = this.pick(workspaceId);
      if (host) return host;
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new RunError('sandbox_unavailable', 'no sandbox process is up yet; try again shortly');
      this.waitingForHost++;
      try {
        await new Promise<void>((resolve) => {
          const wake = () => {
            clearTimeout(timer);
            this.hostWaiters.delete(wake);
            resolve();
          };
          const timer = setTimeout(wake, remaining);
          timer.unref();
          this.hostWaiters.add(wake);
        });
      } finally {
        this.waitingForHost--;
      }
    }
  }

  private pick(workspaceId: string | undefined): HostProcess | undefined {
    if (workspaceId !== undefined && this.isSuspect(workspaceId)) {
      this.lane ??= this.spawn(this.processCount);
      return this.lane.state === 'ready' ? this.lane : undefined;
    }
    let least: HostProcess | undefined;
    const order = workspaceId === undefined ? this.slots.map((_, slot) => slot) : affinityOrder(workspaceId, this.slots.length);
    for (const slot of order) {
      const host = this.slots[slot];
      if (!host || host.state !== 'ready') continue;
      if (workspaceId !== undefined && host.runs < this.spillAt) return host;
      if (!least || host.runs < least.runs) least = host;
    }
    return least;
  }

  // ------------------------------------------------------------------ host lifecycle

  private spawn(slot: number): HostProcess {
    const child = fork(this.entry.file, [this.hostSettings], {
      execArgv: this.entry.execArgv,
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc', 'pipe'],
      env: hostEnvironment(),
    });
    const host = new HostProcess(slot, child);
    if (slot === this.processCount && child.pid !== undefined) {
      try {
        setPriority(child.pid, LANE_PRIORITY);
      } catch {
        // Not permitted here: the lane still keeps suspects apart, at normal priority.
      }
    }
    const lastWords = child.stdio[LAST_WORDS_FD] as import('node:stream').Readable | null | undefined;
    lastWords?.setEncoding('utf8');
    lastWords?.on('data', (chunk: string) => {
      if (host.lastWords.length < MAX_LAST_WORDS_CHARS) host.lastWords += chunk;
    });
    lastWords?.on('error', () => undefined);
    child.on('message', (message: FromHost) => this.receive(host, message));
    child.on('error', () => {
      // Spawning failed or the channel broke; 'close' follows and replaces the host.
    });
    // 'close' comes after the process exited and its pipes closed, so the last words are in.
    child.on('close', (code, signal) => this.bury(host, code, signal));
    return host;
  }

  private receive(host: HostProcess, message: FromHost): void {
    host.lastHeardAt = Date.now();
    switch (message.t) {
      case 'ready':
        host.report = message.report;
        if (host.state !== 'starting') return;
        host.state = 'ready';
        this.startFailures[host.slot] = 0;
        this.emit({ type: 'started', slot: host.slot, pid: host.pid });
        for (const wake of [...this.hostWaiters]) wake();
        return;
      case 'report':
        host.report = message.report;
        this.checkMemory(host);
        return;
      case 'ran':
      case 'failed': {
        host.report = message.report;
        const pending = this.settle(host, message.id);
        if (pending?.kind === 'run') {
          if (message.t === 'ran') pending.resolve(message.answer);
          else pending.reject(toRunError(message.error));
        }
        this.checkMemory(host);
        return;
      }
      case 'analyzed':
      case 'analyzeFailed': {
        const pending = this.settle(host, message.id);
        if (pending?.kind === 'analyze') {
          if (message.t === 'analyzed') pending.resolve(message.analysis);
          else pending.reject(toRunError(message.error));
        }
        return;
      }
    }
  }

  /** Takes a request off a host's books; a draining host with nothing left exits. */
  private settle(host: HostProcess, id: number): PendingRun | PendingAnalysis | undefined {
    const pending = host.pending.get(id);
    if (!pending) return undefined;
    host.pending.delete(id);
    if (pending.kind === 'run') host.runs--;
    if (host.state === 'draining' && host.pending.size === 0 && !host.closing) this.sendClose(host);
    return pending;
  }

  /** The lane exits once no workspace is a suspect and it has nothing left to run. */
  private closeIdleLane(): void {
    const lane = this.lane;
    if (!lane || lane.state !== 'ready' || lane.pending.size > 0 || this.activeSuspects() > 0) return;
    this.lane = undefined;
    lane.state = 'draining';
    this.draining.add(lane);
    this.sendClose(lane);
  }

  /** A ready host that stopped reporting cannot be trusted with batches: end it, and 'close' replaces it. */
  private killSilentHosts(): void {
    const cutoff = Date.now() - SILENT_HOST_MS;
    for (const host of this.liveHosts()) if (host.state === 'ready' && host.lastHeardAt < cutoff) host.child.kill('SIGKILL');
  }

  /** A host past the memory bound takes no new batches, finishes its own, and is replaced now. */
  private checkMemory(host: HostProcess): void {
    if (host.state !== 'ready' || this.closed || (host.report?.rssBytes ?? 0) <= this.maxRssBytes) return;
    // A host that has run nothing yet is as small as a host gets: replacing it would only churn.
    const engine = host.report?.engine;
    if (!engine || engine.cacheHits + engine.cacheMisses === 0) return;
    host.state = 'draining';
    this.restarts.memory++;
    this.emit({ type: 'recycling', slot: host.slot, pid: host.pid, rssBytes: host.report?.rssBytes ?? 0 });
    this.draining.add(host);
    if (this.slots[host.slot] === host) this.slots[host.slot] = this.spawn(host.slot);
    if (this.lane === host) this.lane = undefined; // the next suspect batch starts a fresh lane
    if (host.pending.size === 0) this.sendClose(host);
  }

  private sendClose(host: HostProcess): void {
    host.closing = true;
    if (!host.send({ t: 'close' })) host.child.kill('SIGKILL');
    const killer = setTimeout(() => host.child.kill('SIGKILL'), EXIT_GRACE_MS);
    killer.unref();
    void host.gone.then(() => clearTimeout(killer));
  }

  /** Lets a host finish its batches (up to `graceMs`), then asks it to exit and waits until it has. */
  private async retire(host: HostProcess, graceMs: number): Promise<void> {
    if (host.state === 'gone') return;
    host.state = 'draining';
    if (host.pending.size > 0) {
      const settled = new Promise<void>((resolve) => {
        const poll = setInterval(() => host.pending.size === 0 && (clearInterval(poll), resolve()), 20);
        setTimeout(() => (clearInterval(poll), resolve()), graceMs).unref();
      });
      await Promise.race([settled, host.gone]);
    }
    if (!host.closing) this.sendClose(host);
    await host.gone;
  }

  /** A host is gone: fail what it held, pin the blame where the evidence allows, and replace it. */
  private bury(host: HostProcess, code: number | null, signal: NodeJS.Signals | null): void {
    const wasReady = host.state === 'ready' || host.state === 'draining';
    host.state = 'gone';
    host.markGone();
    this.draining.delete(host);
    if (this.slots[host.slot] === host) this.slots[host.slot] = undefined;
    this.addRetired(host.report?.engine);
    const expected = host.closing || this.closed;
    const words = parseLastWords(host.lastWords);
    const cause = words ? `V8 gave up on an isolate: ${words.message}` : signal ? `the process was ended by ${signal}` : `the process exited with code ${code}`;
    const lost = host.pending.size;
    for (const [id, pending] of [...host.pending]) {
      host.pending.delete(id);
      if (pending.kind === 'analyze') {
        pending.reject(new RunError('sandbox_lost', 'the sandbox process checking the code ended; try again'));
        continue;
      }
      host.runs--;
      if (words?.runTag === String(id)) {
        this.convict(pending, cause);
        pending.reject(new RunError('sandbox_crashed', `the code crashed its sandbox process (${cause}); the batch did not complete`));
      } else {
        if (!expected && !words && !pending.inline) {
          const quarantine = this.book.strike(pending.quarantineKey, cause);
          if (quarantine) this.notifyQuarantine(pending, quarantine, cause);
        }
        pending.reject(new RunError('sandbox_lost', `the sandbox process running this batch ended (${expected ? 'shutting down' : cause}); try again`));
      }
    }
    if (!expected || lost > 0) this.emit({ type: 'exited', slot: host.slot, pid: host.pid, code, signal, expected, lostBatches: lost, cause });
    // Every unexpected end counts, also of a host already draining for memory or of the lane.
    if (!expected) this.restarts.crash++;
    if (this.lane === host) {
      // The lane is started again by the next suspect batch, not at once.
      this.lane = undefined;
      return;
    }
    if (this.closed || this.slots[host.slot] !== undefined || expected) return;
    // A host that died before it was ever ready may not be able to start at all: space the tries.
    const failures = wasReady ? 0 : ++this.startFailures[host.slot]!;
    const delay = failures === 0 ? 0 : Math.min(START_RETRY_MAX_MS, START_RETRY_BASE_MS * 2 ** (failures - 1));
    const respawn = () => {
      if (!this.closed && this.slots[host.slot] === undefined) this.slots[host.slot] = this.spawn(host.slot);
    };
    if (delay === 0) respawn();
    else setTimeout(respawn, delay).unref();
  }

  private convict(pending: PendingRun, cause: string): void {
    this.suspects.set(pending.workspaceId, Date.now() + this.suspectMs);
    if (pending.inline) {
      this.book.inlineCrash(pending.workspaceId);
      return;
    }
    this.notifyQuarantine(pending, this.book.convict(pending.quarantineKey, cause), cause);
  }

  private notifyQuarantine(pending: PendingRun, quarantine: { until: number; count: number }, cause: string): void {
    try {
      this.options.onQuarantine?.({
        workspaceId: pending.workspaceId,
        versionId: pending.versionId,
        libraryVersionIds: pending.libraryVersionIds,
        until: new Date(quarantine.until),
        count: quarantine.count,
        reason: cause,
      });
    } catch {
      // Recording a quarantine must never break the pool.
    }
  }

  private addRetired(engine: RuntimeStats | undefined): void {
    if (!engine) return;
    this.retired.cacheHits += engine.cacheHits;
    this.retired.cacheMisses += engine.cacheMisses;
    this.retired.evictions += engine.evictions;
    this.retired.recycled += engine.recycled;
    this.retired.limitKills.cpu += engine.limitKills.cpu;
    this.retired.limitKills.wall += engine.limitKills.wall;
    this.retired.limitKills.memory += engine.limitKills.memory;
  }

  private emit(event: SandboxHostEvent): void {
    try {
      this.options.onHostEvent?.(event);
    } catch {
      // A failing listener must not break the pool.
    }
  }
}

function parseLastWords(text: string): LastWords | undefined {
  const line = text.split('\n').find((l) => l.trim() !== '');
  if (!line) return undefined;
  try {
    const words = JSON.parse(line) as LastWords;
    return typeof words?.message === 'string' ? { message: words.message.slice(0, 500), ...(typeof words.runTag === 'string' ? { runTag: words.runTag } : {}) } : undefined;
  } catch {
    return undefined;
  }
}
