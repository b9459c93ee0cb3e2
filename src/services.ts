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

export async function createServices(
  config: Config,
  log: FastifyBaseLogger,
  options: { defaultMetrics?: boolean; onCatastrophicError?: (message: string) => void } = {},
): Promise<Services> {
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
    // V8 lost control of an isolate (e.g. one allocation larger than the whole heap limit). The
    // process cannot be trusted or even shut down cleanly (disposing the isolate hangs), so it
    // ends at once; the `tiller` launcher starts a fresh server. Committed writes are durable.
    onCatastrophicError: options.onCatastrophicError ?? ((message) => {
      log.fatal({ reason: message }, 'sandbox reported an unrecoverable V8 error; the process ends now');
      process.kill(process.pid, 'SIGKILL');
    }),
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
      // Writes the last uses still batched in memory before the store goes away.
      await verifier.stop();
      await store.close();
    },
  };
}
