import type { FastifyBaseLogger } from 'fastify';
import type { Config } from './config.js';
import { CredentialVerifier } from './domain/auth/verifier.js';
import type { CatalogContext } from './domain/code-checks.js';
import { CredentialKeyring } from './domain/credential-seal.js';
import { WorkspaceCredentials } from './domain/credentials.js';
import { recordQuarantine } from './domain/quarantines.js';
import { VersionResolver } from './domain/serving/version-resolver.js';
import type { LiveEventsContext } from './domain/live-events.js';
import { ServedWorkspaceConfigs } from './domain/workspace-config.js';
import { Metrics } from './metrics/metrics.js';
import { RuntimeMetrics } from './metrics/runtime-metrics.js';
import { createRuntime, outputJsonOf } from './runtime/index.js';
import type { SandboxRuntime } from './runtime/types.js';
import { openStore, type Store } from './store/db.js';
import { prepareStore } from './store/start-checks.js';
import { Readiness } from './readiness.js';
import { LiveStats } from './domain/stats/live-stats.js';
import { CanaryRouter } from './domain/release/canary-router.js';
import { ShadowRunner } from './domain/release/shadow.js';

/**
 * Everything a request handler may reach, built once per process by createServices (the one
 * composition root) and shared by every listener; closed on shutdown.
 */
export interface Services {
  config: Config;
  /** False from the first moment of a drain: /ready answers 503 and answers close their connection. */
  readiness: Readiness;
  /** Per-version rollups and recent errors of live traffic, written to the store in the background; undefined with TILLER_STATS=false. */
  liveStats: LiveStats | undefined;
  /** Running canaries: the traffic split on /customTransform and the guards that withdraw them. */
  canaries: CanaryRouter;
  /** Running shadows: copies of live batches run on a candidate version and compared. */
  shadows: ShadowRunner;
  store: Store;
  verifier: CredentialVerifier;
  /** The registry and the HTTP, auth and token-cache metrics. */
  metrics: Metrics;
  /** Transformation counters (fed by the runtime) and runtime / version-cache gauges, in metrics.registry. */
  runtimeMetrics: RuntimeMetrics;
  /** Transformation and library versions by id, cached for the serving paths. */
  resolver: VersionResolver;
  /** Where the catalog's domain functions find the store, the sandbox and the code-size limit. */
  catalog: CatalogContext;
  runtime: SandboxRuntime;
  /**
   * The workspace credentials managed in Tiller: `valuesFor(workspaceId)` is what getCredential
   * reads (secrets decrypted, cached for a few seconds); `context` is what the credential routes use.
   */
  credentials: WorkspaceCredentials;
  /**
   * Each workspace's rudder-server configuration as /workspaceConfig serves it, from memory;
   * `context` is what the import route uses.
   */
  workspaceConfigs: ServedWorkspaceConfigs;
  /** Where the live-events routes find the store, the window length and the served configurations. */
  liveEvents: LiveEventsContext;
  close(): Promise<void>;
}

export async function createServices(
  config: Config,
  log: FastifyBaseLogger,
  options: { defaultMetrics?: boolean } = {},
): Promise<Services> {
  const store = await openStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl, onError: (err) => log.error({ err }, 'database connection error') });
  try {
    await prepareStore(store, config);
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
  const credentials = new WorkspaceCredentials(store, new CredentialKeyring(config.credentialsKey), undefined, (workspaceId, error) =>
    log.error({ workspaceId, setting: 'TILLER_CREDENTIALS_KEY', err: error }, 'a secret credential could not be opened, so user code reads undefined for it: replace its value, or run this instance with the key it was written with'),
  );
  await credentials.start();
  const workspaceConfigs = new ServedWorkspaceConfigs(store, credentials);
  await workspaceConfigs.start();
  const unreadable = await credentials.countSealedUnderOtherKeys();
  if (unreadable > 0) {
    // Each instance generated its own key file, or the key was replaced: say so at start, not on the first batch.
    log.error(
      { setting: 'TILLER_CREDENTIALS_KEY', secretCredentials: unreadable },
      `${unreadable} secret credential(s) were sealed under a credentials key this server does not hold, so user code cannot read them: run every instance with the TILLER_CREDENTIALS_KEY they were written with`,
    );
  }
  const runtimeMetrics = new RuntimeMetrics(metrics.registry, { tenantLabels: config.metricsTenantLabels });
  const resolver = new VersionResolver(store.db);
  // User code runs only in sandbox host processes that the runtime pool starts and replaces; this
  // process never creates an isolate, so no tenant's code can take it down.
  const runtime = createRuntime({
    limits: {
      memoryMb: config.runtime.memoryMb,
      cpuTimeMs: config.runtime.cpuTimeMs,
      wallTimeMs: config.runtime.wallTimeMs,
      outboundWallTimeMs: config.runtime.outboundWallTimeMs,
      maxCodeBytes: config.runtime.maxCodeBytes,
      maxOutputChars: config.runtime.maxOutputChars,
      maxOutputsPerEvent: config.runtime.maxOutputsPerEvent,
    },
    cache: { maxIsolates: config.runtime.maxIsolates, isolatesPerVersion: config.runtime.isolatesPerVersion, maxIsolatesPerWorkspace: config.runtime.maxIsolatesPerWorkspace },
    workspaceConcurrency: config.runtime.workspaceConcurrency,
    processes: config.runtime.processes,
    processMaxRssMb: config.runtime.processMaxRssMb,
    quarantine: { baseMs: config.runtime.quarantineSeconds * 1000, maxMs: config.runtime.quarantineSeconds * 60 * 1000 },
    python: { interpretersPerProcess: config.runtime.pythonInterpretersPerProcess },
    outbound: config.outbound,
    metrics: runtimeMetrics,
    onHostEvent: (event) => {
      if (event.type === 'started') log.debug({ sandboxHost: event }, 'sandbox host process started');
      else if (event.type === 'recycling') log.info({ sandboxHost: event }, 'sandbox host process passed its memory bound; replacing it');
      else if (!event.expected) log.error({ sandboxHost: event }, 'sandbox host process ended unexpectedly; its batches failed and a replacement is starting');
    },
    onQuarantine: (notice) => {
      log.warn({ quarantine: { ...notice, until: notice.until.toISOString() } }, 'transformation version quarantined: a batch of it crashed a sandbox host process');
      recordQuarantine(store.db, notice).catch((err: unknown) => log.error({ err }, 'recording a quarantine failed'));
    },
  });
  const liveStats = config.stats.enabled
    ? new LiveStats(store.db, {
        flushMs: config.stats.flushMs,
        retentionMs: config.stats.retentionMs,
        errorsPerTransformation: config.stats.errorsPerTransformation,
        maxEventChars: 16 * 1024,
        onError: (err) => log.error({ err }, 'writing transformation stats failed; they are kept in memory and written on the next flush'),
      })
    : undefined;
  liveStats?.start();
  const canaries = new CanaryRouter(store, {
    syncMs: 1000,
    onTrip: (canary, reason) => {
      metrics.canaryEnds.inc({ how: 'rolled_back' });
      log.warn({ canary: { transformationId: canary.transformationId, versionId: canary.canaryVersionId }, reason }, 'canary withdrawn: a guard tripped');
    },
    onPromoted: (workspaceId) => {
      metrics.canaryEnds.inc({ how: 'promoted' });
      workspaceConfigs.invalidate(workspaceId);
    },
    onError: (err) => log.error({ err }, 'canary bookkeeping failed; it is retried on the next sync'),
  });
  await canaries.start();
  const shadows = new ShadowRunner(store, {
    runtime,
    versionNamed: (versionId) => resolver.transformation(versionId),
    outputJson: outputJsonOf,
    syncMs: 1000,
    onShed: () => metrics.shadowShed.inc(),
    onError: (err) => log.error({ err }, 'shadow bookkeeping failed; it is retried on the next sync'),
  });
  await shadows.start();
  runtimeMetrics.observeRuntime(runtime);
  runtimeMetrics.observeVersionCache(resolver);
  return {
    config,
    readiness: new Readiness(),
    liveStats,
    canaries,
    shadows,
    store,
    verifier,
    metrics,
    runtimeMetrics,
    resolver,
    catalog: { store, runtime, maxCodeBytes: config.runtime.maxCodeBytes, credentials, onServedConfigChange: (workspaceId) => workspaceConfigs.invalidate(workspaceId) },
    runtime,
    credentials,
    workspaceConfigs,
    liveEvents: { store, windowMs: config.liveEventsWindowMs, now: Date.now, onServedConfigChange: (workspaceId) => workspaceConfigs.invalidate(workspaceId) },
    close: async () => {
      await runtime.close();
      // The last rollups and errors of this instance, before the store goes away.
      await shadows.stop();
      await canaries.stop();
      await liveStats?.stop().catch((err: unknown) => log.error({ err }, 'writing the last transformation stats failed'));
      // Writes the last uses still batched in memory before the store goes away.
      await verifier.stop();
      await store.close();
    },
  };
}
