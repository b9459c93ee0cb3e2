#!/usr/bin/env node
// Builds what is missing or older than its sources: the server (tsc -> dist/server) and the
// dashboard (vite -> dist/web). `npm start` calls this, so a fresh clone needs no extra step.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));

function newestMtime(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) {
    if (entry === 'node_modules') continue;
    newest = Math.max(newest, newestMtime(join(path, entry)));
  }
  return newest;
}

function stampTime(stamp) {
  return existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
}

function run(label, args) {
  process.stderr.write(`tiller: building ${label}...\n`);
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) {
    process.stderr.write(`tiller: building ${label} failed\n`);
    process.exit(result.status ?? 1);
  }
}

const targets = [
  {
    label: 'the server',
    sources: [join(root, 'src'), join(root, 'tsconfig.json'), join(root, 'tsconfig.build.json'), join(root, 'package-lock.json')],
    exclude: join(root, 'src', 'web'),
    stamp: join(root, 'dist', 'server', '.built'),
    args: () => [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    // The Python interpreter's files are not TypeScript: plain JavaScript (it starts without a
    // TypeScript loader) and Python, copied next to the compiled engine that starts them.
    after: () => {
      const from = join(root, 'src', 'runtime', 'python');
      const to = join(root, 'dist', 'server', 'runtime', 'python');
      mkdirSync(to, { recursive: true });
      for (const entry of readdirSync(from)) if (entry.endsWith('.mjs') || entry.endsWith('.py')) copyFileSync(join(from, entry), join(to, entry));
    },
  },
  {
    label: 'the dashboard',
    sources: [join(root, 'src', 'web'), join(root, 'vite.config.ts'), join(root, 'package-lock.json')],
    stamp: join(root, 'dist', 'web', '.built'),
    args: () => [join(dirname(require.resolve('vite/package.json')), 'bin', 'vite.js'), 'build', '--config', 'vite.config.ts', '--logLevel', 'warn'],
  },
];

export function ensureBuilt({ force = false } = {}) {
  if (!existsSync(join(root, 'src'))) return; // an installed package ships dist/ only
  for (const target of targets) {
    const newest = Math.max(...target.sources.map((s) => (s === join(root, 'src') ? newestServerSource(s, target.exclude) : newestMtime(s))));
    if (!force && stampTime(target.stamp) >= newest) continue;
    run(target.label, target.args());
    target.after?.();
    mkdirSync(dirname(target.stamp), { recursive: true });
    writeFileSync(target.stamp, new Date().toISOString() + '\n');
  }
}

function newestServerSource(src, exclude) {
  let newest = 0;
  for (const entry of readdirSync(src)) {
    const path = join(src, entry);
    if (path === exclude) continue;
    newest = Math.max(newest, newestMtime(path));
  }
  return newest;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  ensureBuilt({ force: process.argv.includes('--force') });
}
