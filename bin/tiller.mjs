#!/usr/bin/env node
// Entry point of the `tiller` command. The sandbox (isolated-vm) needs Node started with
// --no-node-snapshot, and glibc must be told to keep few malloc arenas (MALLOC_ARENA_MAX) before
// the process starts, or native memory grows without bound under load. Both can only be set at
// process start, so this script re-executes Node once with them.
import { spawn } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ready = process.execArgv.includes('--no-node-snapshot') && process.env.MALLOC_ARENA_MAX !== undefined;

if (!ready) {
  const child = spawn(process.execPath, ['--no-node-snapshot', ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2' },
  });
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + 1 : 1)));
} else {
  const { ensureBuilt } = await import(pathToFileURL(join(root, 'scripts', 'build.mjs')).href);
  ensureBuilt();
  const { runCli } = await import(pathToFileURL(join(root, 'dist', 'server', 'cli', 'main.js')).href);
  process.exitCode = await runCli(process.argv.slice(2));
}
