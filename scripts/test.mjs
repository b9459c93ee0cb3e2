#!/usr/bin/env node
// `npm test`: every suite, the store-backed ones on SQLite and on PostgreSQL. PostgreSQL is
// found at TILLER_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres); without it
// the run fails unless TILLER_TEST_SKIP_POSTGRES=1, so a green run always means both dialects.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const pgUrl = process.env.TILLER_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const args = process.argv.slice(2);

async function postgresAnswers() {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: pgUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const project = (...names) => names.flatMap((name) => ['--project', name]);
const skipPostgres = process.env.TILLER_TEST_SKIP_POSTGRES === '1';
if (skipPostgres) {
  process.stderr.write('TILLER_TEST_SKIP_POSTGRES=1: the PostgreSQL suites and the fleet test are not run.\n');
} else if (!(await postgresAnswers())) {
  process.stderr.write(`PostgreSQL does not answer at ${pgUrl}. Start it, set TILLER_TEST_PG_URL, or set TILLER_TEST_SKIP_POSTGRES=1.\n`);
  process.exit(1);
}
// The fleet test (three servers behind HAProxy, instances killed under load) runs alone after the
// rest, so the other suites' load on a 2-core machine does not decide its outcome. Arguments (a
// file, a filter, --project) name what to run: then one vitest run with them as given.
const runs = skipPostgres
  ? [project('unit', 'sqlite', 'browser')]
  : args.length > 0
    ? [[]]
    : [project('unit', 'sqlite', 'postgres', 'browser'), project('fleet')];

const vitest = join(dirname(require.resolve('vitest/package.json')), 'vitest.mjs');
const env = { ...process.env, TILLER_TEST_PG_URL: pgUrl, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --no-node-snapshot`.trim(), MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2' };

function run(projectArgs) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [vitest, 'run', ...projectArgs, ...args], { cwd: root, stdio: 'inherit', env });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

for (const projectArgs of runs) {
  const code = await run(projectArgs);
  if (code !== 0) process.exit(code);
}
