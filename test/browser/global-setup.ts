import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const distIndex = join(root, 'dist', 'web', 'index.html');
const lockDir = join(root, 'dist', '.web-build-lock');

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** True when dist/web is missing or older than any dashboard source file or the Vite config. */
export function dashboardIsStale(): boolean {
  if (!existsSync(distIndex)) return true;
  const built = statSync(distIndex).mtimeMs;
  const sources = Math.max(newestMtime(join(root, 'src', 'web')), newestMtime(join(root, 'vite.config.ts')));
  return sources > built;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Builds the dashboard with `npx vite build` when it is stale. A lock directory keeps parallel
 * callers (the global setup and any test file run on its own) from building over each other.
 */
export async function ensureDashboardBuilt(): Promise<void> {
  if (!dashboardIsStale()) return;
  mkdirSync(dirname(lockDir), { recursive: true });
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lockDir);
      break;
    } catch {
      // Another process is building; a lock older than the deadline is a leftover from a crash.
      if (Date.now() > deadline) rmSync(lockDir, { recursive: true, force: true });
      await sleep(250);
      if (!dashboardIsStale()) return;
    }
  }
  try {
    if (!dashboardIsStale()) return;
    const result = spawnSync('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit', env: process.env });
    if (result.status !== 0) throw new Error(`npx vite build failed (exit ${result.status ?? result.signal})`);
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

export default async function setup(): Promise<void> {
  await ensureDashboardBuilt();
}
