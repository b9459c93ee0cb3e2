// Resident memory and CPU time of a process and of every process below it, read from /proc
// (Linux only). A server that starts helper processes, and replaces them when they crash or grow,
// has a different set of descendants from one sample to the next: the tree is walked again on
// every call, never remembered.

import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of utime/stime in /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

interface Stat {
  ppid: number;
  /** utime + stime: CPU time of all the process's threads, in ms. */
  cpuMs: number;
  /** cutime + cstime: CPU time of the children it has reaped (waited for), in ms. */
  reapedChildrenCpuMs: number;
}

const ticksToMs = (ticks: string | undefined) => (Number(ticks) * 1000) / TICKS_PER_SECOND;

/** /proc/<pid>/stat (or one thread's), or undefined when the process is gone. */
function readStat(pid: number, thread?: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name is in parentheses and may itself hold spaces and parentheses: split after the
  // last ')'. Field 3 (state) is then index 0, ppid index 1, utime/stime 11/12, cutime/cstime 13/14.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(fields[1]), cpuMs: ticksToMs(fields[11]) + ticksToMs(fields[12]), reapedChildrenCpuMs: ticksToMs(fields[13]) + ticksToMs(fields[14]) };
}

/** CPU time (ms, user + system) the kernel accounts to one thread of a process, or to the whole process. */
export function cpuMs(pid: number, thread?: number): number {
  const stat = readStat(pid, thread);
  if (!stat) throw new Error(`process ${pid} is gone`);
  return stat.cpuMs;
}

/** Resident memory of one process (MB), or 0 when it is gone. */
export function rssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** The command line of a process, arguments joined by spaces ('' when it is gone). */
function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

export interface TreeProcess {
  pid: number;
  ppid: number;
  command: string;
  rssMb: number;
  cpuMs: number;
}

/** Every live descendant of `root` (children, their children, ...), found through the ppid links of all processes. */
function descendantsOf(root: number): Array<{ pid: number; ppid: number; stat: Stat }> {
  const childrenOf = new Map<number, Array<{ pid: number; stat: Stat }>>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(pid);
    if (!stat) continue; // ended between the listing and the read
    let siblings = childrenOf.get(stat.ppid);
    if (!siblings) childrenOf.set(stat.ppid, (siblings = []));
    siblings.push({ pid, stat });
  }
  const found: Array<{ pid: number; ppid: number; stat: Stat }> = [];
  const queue = [root];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const child of childrenOf.get(parent) ?? []) {
      found.push({ pid: child.pid, ppid: parent, stat: child.stat });
      queue.push(child.pid);
    }
  }
  return found;
}

/** The descendants of `root` now, with their command line, resident memory and CPU time so far. */
export function processTree(root: number): TreeProcess[] {
  return descendantsOf(root).map(({ pid, ppid, stat }) => ({ pid, ppid, command: commandOf(pid), rssMb: rssMb(pid), cpuMs: stat.cpuMs }));
}

/** A CPU reading of a process tree, to subtract from a later one (cpuBetween). */
export interface TreeCpuReading {
  root: number;
  rootCpuMs: number;
  rootReapedChildrenCpuMs: number;
  descendants: Map<number, { ppid: number; cpuMs: number }>;
}

export function readTreeCpu(root: number): TreeCpuReading {
  // The root first, then the tree: a child reaped in between is then missed by both readings
  // (under-counted) rather than counted twice.
  const stat = readStat(root);
  if (!stat) throw new Error(`process ${root} is gone`);
  const descendants = new Map(descendantsOf(root).map(({ pid, ppid, stat: s }) => [pid, { ppid, cpuMs: s.cpuMs }]));
  return { root, rootCpuMs: stat.cpuMs, rootReapedChildrenCpuMs: stat.reapedChildrenCpuMs, descendants };
}

export interface TreeCpuSpent {
  /** CPU the root process itself used (all its threads), in ms. */
  rootMs: number;
  /** CPU its descendants used, in ms, including ones that started or ended in between. */
  descendantsMs: number;
  /** Descendants that ended in between, and started in between. */
  ended: number;
  started: number;
}

/**
 * CPU used between two readings. A descendant alive at both counts its difference; one that started
 * in between counts all it used. One that ended cannot be read at the end, but when it was a child
 * of the root, the kernel added its whole lifetime to the root's cutime/cstime when the root reaped
 * it (Node reaps its children at once), so that growth minus what it had used by the first reading
 * is its share. Deeper descendants that ended lose what they used after the first reading (their
 * time went to their own parent's cutime, which is not read).
 */
export function cpuBetween(before: TreeCpuReading, after: TreeCpuReading): TreeCpuSpent {
  let descendantsMs = after.rootReapedChildrenCpuMs - before.rootReapedChildrenCpuMs;
  let started = 0;
  let ended = 0;
  for (const [pid, now] of after.descendants) {
    const then = before.descendants.get(pid);
    if (!then) started++;
    descendantsMs += now.cpuMs - (then?.cpuMs ?? 0);
  }
  for (const [pid, then] of before.descendants) {
    if (after.descendants.has(pid)) continue;
    ended++;
    if (then.ppid === before.root) descendantsMs -= then.cpuMs;
  }
  return { rootMs: after.rootCpuMs - before.rootCpuMs, descendantsMs, ended, started };
}
