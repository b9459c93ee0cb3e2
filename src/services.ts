import type { FastifyBaseLogger } from 'fastify';
import type { Config } from './config.js';
import { CredentialVerifier } from './domain/authentication.js';
import { Metrics } from './http/metrics.js';
import type { Runtime } from './runtime/types.js';
import { openStore, type Store } from './store/db.js';

/** Everything a request handler may reach, built once per process and closed on shutdown. */
export interface Services {
  config: Config;
  store: Store;
  verifier: CredentialVerifier;
  metrics: Metrics;
  runtime: Runtime;
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
  const { createRuntime } = await import('./runtime/index.js');
  const runtime = createRuntime({
    limits: { memoryMb: config.runtime.memoryMb, cpuTimeMs: config.runtime.cpuTimeMs, wallTimeMs: config.runtime.wallTimeMs, maxCodeBytes: config.runtime.maxCodeBytes },
    cache: { maxIsolates: config.runtime.maxIsolates, isolatesPerVersion: config.runtime.isolatesPerVersion },
    workspaceConcurrency: config.runtime.workspaceConcurrency,
  });
  return {
    config,
    store,
    verifier,
    metrics,
    runtime,
    close: async () => {
      await runtime.close();
      await store.close();
    },
  };
}
