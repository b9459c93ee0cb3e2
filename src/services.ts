import type { FastifyBaseLogger } from 'fastify';
import type { Config } from './config.js';
import { CredentialVerifier } from './domain/authentication.js';
import { Metrics } from './http/metrics.js';
import { createRuntime } from './runtime/index.js';
import type { BatchReport, SandboxRuntime } from './runtime/types.js';
import { openStore, type Store } from './store/db.js';

/** Everything a request handler may reach, built once per process and closed on shutdown. */
export interface Services {
  config: Config;
  store: Store;
  verifier: CredentialVerifier;
  metrics: Metrics;
  runtime: SandboxRuntime;
  /** Listeners told about every finished batch (per-version metrics subscribe here). */
  runtimeBatchListeners: Set<(report: BatchReport) => void>;
  close(): Promise<void>;
}

export async function createServices(config: Config, log: FastifyBaseLogger, options: { defaultMetrics?: boolean } = {}): Promise<Services> {
  const store = await openStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl, onError: (err) => log.error({ err }, 'database connection error') });
  try {
    await store.migrate();
  } catch (err) {
    await store.close();
    throw err;
  }
  const metrics = new Metrics(options);
  const verifier = new CredentialVerifier(store, config.pepper, {
    cacheSize: config.tokenCacheSize,
    cacheTtlMs: config.tokenCacheTtlMs,
    onCacheLookup: (hit) => metrics.tokenCache.inc({ result: hit ? 'hit' : 'miss' }),
    onBackgroundError: (err) => log.error({ err }, 'background credential write failed'),
  });
  await verifier.start();
  const runtimeBatchListeners = new Set<(report: BatchReport) => void>();
  const runtime = createRuntime({
    limits: { memoryMb: config.runtime.memoryMb, cpuTimeMs: config.runtime.cpuTimeMs, wallTimeMs: config.runtime.wallTimeMs, maxCodeBytes: config.runtime.maxCodeBytes },
    cache: { maxIsolates: config.runtime.maxIsolates, isolatesPerVersion: config.runtime.isolatesPerVersion },
    workspaceConcurrency: config.runtime.workspaceConcurrency,
    metrics: { onBatch: (report) => runtimeBatchListeners.forEach((listener) => listener(report)) },
    // V8 in an unrecoverable state: stop taking traffic and let the supervisor restart us.
    onCatastrophicError: (message) => {
      log.fatal({ reason: message }, 'sandbox reported an unrecoverable error; shutting down');
      process.kill(process.pid, 'SIGTERM');
    },
  });
  return {
    config,
    store,
    verifier,
    metrics,
    runtime,
    runtimeBatchListeners,
    close: async () => {
      await runtime.close();
      await store.close();
    },
  };
}
