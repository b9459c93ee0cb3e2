import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SERVE_ENTRY = join(REPO_ROOT, 'test', 'helpers', 'serve-entry.ts');

/** Settings a child must not inherit from the test runner's environment by accident. */
const OWN_SETTINGS = /^(TILLER_|DATABASE_URL$|PORT$|HOST$|LOG_LEVEL$|NODE_OPTIONS$)/;

function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!OWN_SETTINGS.test(key) || key === 'TILLER_TEST_PG_URL') base[key] = value;
  // No drain delay unless a test asks for one: nothing load-balances these processes.
  return { ...base, MALLOC_ARENA_MAX: '2', TILLER_DRAIN_DELAY_MS: '0', ...env };
}

/** The Tiller CLI in a child process, started with the production flags. */
export interface TillerProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when the process has exited, with its code or the signal that ended it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Waits until stdout matches, failing if the process exits first or `timeoutMs` passes. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

export function spawnTiller(args: string[], env: Record<string, string>): TillerProcess {
  const child = spawn(process.execPath, ['--no-node-snapshot', '--import', 'tsx', SERVE_ENTRY, ...args], { cwd: REPO_ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    for (const listener of listeners) listener();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      // Let the pipes drain so stdout() and stderr() are complete.
      setImmediate(() => {
        resolve({ code, signal });
        for (const listener of listeners) listener();
      });
    });
  });
  let hasExited = false;
  void exited.then(() => (hasExited = true));

  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForOutput: (pattern, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`no output matching ${pattern} within ${timeoutMs} ms; stdout: ${out}; stderr: ${err}`)), timeoutMs);
        const check = () => {
          const match = pattern.exec(out);
          if (match) finish(null, match);
          else if (hasExited) finish(new Error(`process exited before printing ${pattern}; stdout: ${out}; stderr: ${err}`));
        };
        const finish = (error: Error | null, match?: RegExpMatchArray) => {
          clearTimeout(timer);
          listeners.delete(check);
          if (error) reject(error);
          else resolve(match!);
        };
        listeners.add(check);
        check();
      }),
  };
}

/** Runs one CLI command to completion. */
export async function runTiller(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawnTiller(args, env);
  const { code } = await proc.exited;
  return { code, stdout: proc.stdout(), stderr: proc.stderr() };
}

export interface ServingTiller extends TillerProcess {
  /** Base URL on 127.0.0.1 (the listener binds loopback only). */
  url: string;
  /** The workspace token printed on first start with an empty store, if this start printed one. */
  firstWorkspaceToken: string | undefined;
  /** SIGTERM and wait for exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `tiller serve` in a child process on a random port; resolves once it listens. */
export async function serveTiller(env: Record<string, string>): Promise<ServingTiller> {
  const proc = spawnTiller(['serve'], { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env });
  try {
    const match = await proc.waitForOutput(/Tiller is listening on http:\/\/[^:\s]+:(\d+)/, 60_000);
    const token = /Workspace token: (tlr_ws_[0-9A-Za-z]+)/.exec(proc.stdout())?.[1];
    return {
      ...proc,
      url: `http://127.0.0.1:${match[1]}`,
      firstWorkspaceToken: token,
      stop: async () => {
        if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGTERM');
        return proc.exited;
      },
    };
  } catch (err) {
    proc.child.kill('SIGKILL');
    throw err;
  }
}
