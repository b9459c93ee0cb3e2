#!/usr/bin/env node
// Entry point of the `tiller` command. The sandbox (isolated-vm) needs Node started with
// --no-node-snapshot, and glibc must be told to keep few malloc arenas (MALLOC_ARENA_MAX) before
// the process starts, or native memory grows without bound under load. Both can only be set at
// process start, so this script re-executes Node once with them and stays as the parent. The server
// also gets a 4 MB young generation (V8's default is 16 MB per semi-space): request bodies are
// parsed and dropped within a request, and the smaller nursery keeps about 30 MB less resident
// (bench/runtime) at no CPU cost measured there.
//
// For `serve`, the parent is also a supervisor: a server process that dies of a signal is started
// again. User code cannot cause that (it runs in sandbox processes the server itself replaces);
// this covers an operator's or the kernel's kill.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const NODE_FLAGS = ['--no-node-snapshot', '--max-semi-space-size=4'];
const ready = NODE_FLAGS.every((flag) => process.execArgv.includes(flag)) && process.env.MALLOC_ARENA_MAX !== undefined;
const dist = (path) => import(pathToFileURL(join(root, 'dist', 'server', ...path.split('/'))).href);
const { ensureBuilt } = await import(pathToFileURL(join(root, 'scripts', 'build.mjs')).href);
ensureBuilt();
// The remote commands are an HTTP client: no sandbox, so no re-executed Node and none of the
// server's modules (a CI step starts in a tenth of the time).
const { REMOTE_COMMANDS } = await dist('cli/remote/commands.js');
const remote = REMOTE_COMMANDS.has(process.argv[2]);
const CRASH_SIGNALS = new Set(['SIGKILL', 'SIGABRT', 'SIGSEGV', 'SIGBUS']);
const MAX_RESTARTS_PER_MINUTE = 5;

if (remote) {
  const { runRemote } = await dist('cli/remote/index.js');
  process.exitCode = await runRemote(process.argv.slice(2));
} else if (!ready) {
  const supervise = process.argv[2] === 'serve';
  const restarts = [];
  let stopping = false;
  let child;

  const start = () => {
    child = spawn(process.execPath, [...NODE_FLAGS, ...process.execArgv.filter((flag) => !NODE_FLAGS.includes(flag)), fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
      stdio: 'inherit',
      env: { ...process.env, MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2' },
    });
    child.on('exit', (code, signal) => {
      if (supervise && !stopping && signal && CRASH_SIGNALS.has(signal)) {
        const now = Date.now();
        restarts.push(now);
        while (restarts[0] < now - 60_000) restarts.shift();
        if (restarts.length <= MAX_RESTARTS_PER_MINUTE) {
          process.stderr.write(`tiller: the server stopped (${signal}); restarting it\n`);
          setTimeout(start, 250);
          return;
        }
        process.stderr.write(`tiller: the server stopped ${restarts.length} times in a minute; giving up\n`);
      }
      process.exit(code ?? 128 + (signal ? (constants.signals[signal] ?? 1) : 1));
    });
  };
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
    process.on(signal, () => {
      stopping = true;
      child.kill(signal);
    });
  }
  start();
} else {
  const { runCli } = await dist('cli/main.js');
  process.exitCode = await runCli(process.argv.slice(2));
}
