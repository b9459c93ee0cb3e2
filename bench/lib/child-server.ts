import { spawn, type ChildProcess } from 'node:child_process';

export interface BenchServer {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts a bench server script in its own process (production flags: --no-node-snapshot,
 * MALLOC_ARENA_MAX=2), so the load generator in this process never shares its event loop, and
 * resolves once the script prints "listening on http://host:port".
 */
export async function startBenchServer(script: string, options: { cwd: string; env: Record<string, string>; nodeArgs?: string[] }): Promise<BenchServer> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--no-node-snapshot', '--import', 'tsx', script], {
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '', MALLOC_ARENA_MAX: '2', LOG_LEVEL: 'warn', PORT: '0', HOST: '127.0.0.1', ...options.env },
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on http:\/\/[^:\s]+:(\d+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    child.on('exit', (code) => reject(new Error(`server exited (${code}) before listening:\n${out}\n${err}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
