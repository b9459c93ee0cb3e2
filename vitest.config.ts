import { defineConfig } from 'vitest/config';

// Store-backed suites run twice, once per dialect; unit and browser suites once.
const storeSuites = ['test/api/**/*.test.ts', 'test/e2e/**/*.test.ts'];

export default defineConfig({
  test: {
    // The sandbox needs this flag in every worker process.
    execArgv: ['--no-node-snapshot'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { extends: true, test: { name: 'sqlite', include: storeSuites, env: { TILLER_TEST_DIALECT: 'sqlite' } } },
      { extends: true, test: { name: 'postgres', include: storeSuites, env: { TILLER_TEST_DIALECT: 'postgres' } } },
      // Three servers, HAProxy and PostgreSQL on 2 cores: scripts/test.mjs runs it alone, after the rest.
      { extends: true, test: { name: 'fleet', include: ['test/fleet/**/*.test.ts'], env: { TILLER_TEST_DIALECT: 'postgres' }, testTimeout: 300_000 } },
      { extends: true, test: { name: 'browser', include: ['test/browser/**/*.test.ts'], globalSetup: ['test/browser/global-setup.ts'], env: { TILLER_TEST_DIALECT: 'sqlite' }, testTimeout: 120_000 } },
    ],
  },
});
