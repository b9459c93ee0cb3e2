// Memory of all of Tiller's processes: the server and what it started. User code runs in sandbox
// host processes the server starts and replaces (src/runtime/pool.ts), so the server's own RSS
// says little; every figure here is the server plus all its descendants, with the split.

import type { ChildProcess } from 'node:child_process';
import { basename } from 'node:path';
import type { RuntimeStats } from '../../src/runtime/types.js';
import { processTree, rssMb, type TreeProcess } from '../lib/proc-tree.js';
import { fmt } from './common.js';

export interface TillerMemory {
  /** Server plus every descendant (MB). */
  totalMb: number;
  serverMb: number;
  /** The sandbox host processes (src/runtime/host/main). */
  hosts: { count: number; mb: number; each: number[] };
  /** Any other descendant: tsx's esbuild service when the server runs from TypeScript sources. */
  others: { count: number; mb: number; names: string[] };
}

/** A sandbox host: a child of the server running the host entry (TypeScript through tsx, or compiled). */
const isSandboxHost = (p: TreeProcess, serverPid: number) => p.ppid === serverPid && /runtime\/host\/main\.[jt]s\b/.test(p.command);

/** Reads the whole tree now; hosts replaced since the last call are simply the ones found. */
export function tillerMemory(serverPid: number): TillerMemory {
  const serverMb = rssMb(serverPid);
  const hosts: TillerMemory['hosts'] = { count: 0, mb: 0, each: [] };
  const others: TillerMemory['others'] = { count: 0, mb: 0, names: [] };
  for (const p of processTree(serverPid)) {
    if (isSandboxHost(p, serverPid)) {
      hosts.count++;
      hosts.mb += p.rssMb;
      hosts.each.push(p.rssMb);
    } else {
      others.count++;
      others.mb += p.rssMb;
      const name = basename(p.command.split(' ')[0] ?? '?');
      if (!others.names.includes(name)) others.names.push(name);
    }
  }
  return { totalMb: serverMb + hosts.mb + others.mb, serverMb, hosts, others };
}

const hostsText = (m: TillerMemory) => `${m.hosts.count} sandbox ${m.hosts.count === 1 ? 'host' : 'hosts'} ${fmt(m.hosts.mb)} MB`;
const othersText = (m: TillerMemory) =>
  m.others.count === 0 ? '' : ` + ${m.others.count} other ${m.others.count === 1 ? 'descendant' : 'descendants'} ${fmt(m.others.mb)} MB (${m.others.names.join(', ')})`;

/** "total X MB = server Y MB + N sandbox hosts Z MB [+ M other descendants W MB (names)]" */
export function describeTotals(m: TillerMemory): string {
  return `total ${fmt(m.totalMb)} MB = server ${fmt(m.serverMb)} MB + ${hostsText(m)}${othersText(m)}`;
}

/**
 * The largest total seen while it runs, sampled every `intervalMs` (a walk of /proc costs this
 * process a few ms, so it stays well below 1% of a core at the default).
 */
export class MemoryPeak {
  peak: TillerMemory;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly serverPid: number,
    private readonly intervalMs = 500,
  ) {
    this.peak = tillerMemory(serverPid);
  }

  /** Takes one sample now (and keeps it if it is the largest so far). */
  sample(): TillerMemory {
    const now = tillerMemory(this.serverPid);
    if (now.totalMb > this.peak.totalMb) this.peak = now;
    return now;
  }

  start(): this {
    this.timer ??= setInterval(() => this.sample(), this.intervalMs);
    return this;
  }

  /** Stops sampling and returns a last sample, taken now. */
  stop(): TillerMemory {
    clearInterval(this.timer);
    this.timer = undefined;
    return this.sample();
  }
}

// ---------------------------------------------------------------- asking the server

export type ServerState = NodeJS.MemoryUsage & { runtime: RuntimeStats };

/** The server's own memory (process.memoryUsage) and its runtime's stats, over IPC (see server.ts). */
export function serverState(child: ChildProcess): Promise<ServerState> {
  return new Promise((resolve) => {
    const onMessage = (message: { memory?: ServerState }) => {
      if (!message.memory) return;
      child.off('message', onMessage);
      resolve(message.memory);
    };
    child.on('message', onMessage);
    child.send({ memory: true });
  });
}

/**
 * Waits until every sandbox host is up (none starting or draining) and no batch runs or waits, at
 * most `timeoutMs`; false when that did not happen in time. A bomb can keep a host busy for
 * seconds after its client gave up on it.
 */
export async function runtimeQuiet(child: ChildProcess, timeoutMs = 60_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { runtime } = await serverState(child);
    const hosts = runtime.hosts;
    const hostsUp = !hosts || (hosts.starting === 0 && hosts.draining === 0 && hosts.ready > 0);
    if (hostsUp && runtime.runningBatches === 0 && runtime.queuedBatches === 0) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Where the memory is: the total and its split, the server's own V8 heap and external buffers, and
 * the hosts one by one with the isolates they hold (the server itself holds none).
 */
export async function memoryBreakdown(child: ChildProcess, serverPid: number): Promise<string> {
  const state = await serverState(child);
  const tree = tillerMemory(serverPid);
  const mb = (bytes: number) => fmt(bytes / 1024 / 1024);
  const { runtime } = state;
  return (
    `total RSS ${fmt(tree.totalMb)} MB = server ${fmt(tree.serverMb)} MB (main V8 heap ${mb(state.heapTotal)} MB, used ${mb(state.heapUsed)}; external ${mb(state.external)} MB; the rest native) ` +
    `+ ${hostsText(tree)} (${tree.hosts.each.map((v) => fmt(v)).join(' + ')} MB; ${runtime.isolates} isolates in them, heaps used ${mb(runtime.heapUsedBytes)} MB)${othersText(tree)}`
  );
}
