#!/usr/bin/env node
// Runs a TypeScript entry (benchmarks, scripts) with the flags the sandbox needs.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  process.stderr.write('usage: node bin/node-flags.mjs <file.ts> [args]\n');
  process.exit(2);
}
const child = spawn(process.execPath, ['--no-node-snapshot', '--import', require.resolve('tsx/esm'), entry, ...args], {
  stdio: 'inherit',
  env: { ...process.env, MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2' },
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => child.kill(signal));
child.on('exit', (code) => process.exit(code ?? 1));
