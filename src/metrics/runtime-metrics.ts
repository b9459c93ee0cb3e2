import { LRUCache } from 'lru-cache';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { BatchReport, OutboundKind, OutboundTally, Runtime, RuntimeMetricsSink, RuntimeStats } from '../runtime/types.js';

// Transformation counters fed by the runtime's metrics sink, plus gauges that read the runtime's
// and the version cache's state at scrape time. The counters carry no tenant ids by default (one
// series per metric, whoever reads /metrics learns no workspace or version id); with
// TILLER_METRICS_TENANT_LABELS=true they are per version, labelled workspace_id and version_id.
// Per-version series are bounded: only the most recently active versions keep series, so cycling
// through many versions cannot grow /metrics (or the process) without bound.

type VersionLabels = 'workspace_id' | 'version_id';

/** What the version-cache gauges read: the serving version resolver's stats. */
export interface VersionCacheView {
  stats(): { entries: number; codeBytes: number };
}

const OUTBOUND_KINDS: readonly OutboundKind[] = ['fetch', 'fetchV2', 'geolocation'];
const OUTBOUND_OUTCOMES: ReadonlySet<string> = new Set(['ok', 'blocked', 'timeout', 'too_large', 'network', 'invalid_request', 'aborted', 'limit', 'not_configured', 'invalid_ip', 'skipped', 'error']);

/** Versions that keep per-version series; the least recently active lose theirs first. */
export const DEFAULT_MAX_VERSION_SERIES = 1000;

interface ActiveVersion {
  workspaceId: string;
  outcomes: Set<string>;
}

export class RuntimeMetrics implements RuntimeMetricsSink {
  readonly batches: Counter<VersionLabels | 'outcome'>;
  readonly eventsIn: Counter<VersionLabels>;
  readonly eventsOut: Counter<VersionLabels>;
  readonly eventsDropped: Counter<VersionLabels>;
  readonly eventsFailed: Counter<VersionLabels>;
  readonly runSeconds: Counter<VersionLabels>;
  readonly coldStarts: Counter<VersionLabels>;
  readonly batchDuration: Histogram<'outcome'>;
  /** Events /customTransform refused before running: malformed entries and unknown versions. */
  readonly rejectedEvents: Counter<'reason'>;
  /** fetch, fetchV2 and geolocation calls of user code, by kind and outcome. */
  readonly outboundCalls: Counter<'kind' | 'outcome'>;

  /** versionId -> labels in use; evicting one (least recently active first) drops its series. */
  private readonly active: LRUCache<string, ActiveVersion>;
  private runtime: Runtime | undefined;
  private versionCache: VersionCacheView | undefined;

  private readonly tenantLabels: boolean;

  constructor(registry: Registry, options: { tenantLabels?: boolean; maxVersionSeries?: number } = {}) {
    this.tenantLabels = options.tenantLabels ?? false;
    this.active = new LRUCache<string, ActiveVersion>({ max: options.maxVersionSeries ?? DEFAULT_MAX_VERSION_SERIES, dispose: (old, versionId, reason) => reason === 'evict' && this.dropSeries(versionId, old) });
    const registers = [registry];
    const labelNames: readonly VersionLabels[] = this.tenantLabels ? ['workspace_id', 'version_id'] : [];
    this.batches = new Counter({ name: 'tiller_transformation_batches_total', help: 'Batches run, by outcome (ok or the error code); per version with TILLER_METRICS_TENANT_LABELS', labelNames: [...labelNames, 'outcome'] as const, registers });
    this.eventsIn = new Counter({ name: 'tiller_transformation_events_in_total', help: 'Events given to a transformation version', labelNames, registers });
    this.eventsOut = new Counter({ name: 'tiller_transformation_events_out_total', help: 'Events a transformation version returned (fan-out counts each)', labelNames, registers });
    this.eventsDropped = new Counter({ name: 'tiller_transformation_events_dropped_total', help: 'Input events a transformation version dropped', labelNames, registers });
    this.eventsFailed = new Counter({ name: 'tiller_transformation_events_failed_total', help: 'Events that failed in a transformation version (a whole-batch failure counts every event)', labelNames, registers });
    this.runSeconds = new Counter({ name: 'tiller_transformation_run_seconds_total', help: 'Time spent running batches of a transformation version, queueing included', labelNames, registers });
    this.coldStarts = new Counter({ name: 'tiller_transformation_cold_starts_total', help: 'Batches that had to compile their version first', labelNames, registers });
    this.batchDuration = new Histogram({
      name: 'tiller_transformation_batch_duration_seconds',
      help: 'Batch run time across all versions, by outcome',
      labelNames: ['outcome'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.rejectedEvents = new Counter({ name: 'tiller_custom_transform_rejected_events_total', help: '/customTransform events answered without running, by reason', labelNames: ['reason'] as const, registers });

    this.outboundCalls = new Counter({
      name: 'tiller_transformation_outbound_calls_total',
      help: 'fetch, fetchV2 and geolocation calls made by transformations, by kind and outcome (ok, blocked, timeout, too_large, network, invalid_request, aborted, limit, not_configured, invalid_ip, error)',
      labelNames: ['kind', 'outcome'] as const,
      registers,
    });

    // Scrape-time views of the runtime and the version cache.
    const metrics = this;
    const stat = (name: string, help: string, read: (s: RuntimeStats) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const stats = metrics.runtimeStats();
          if (stats) this.set(read(stats));
        },
      });
    stat('tiller_runtime_isolates', 'Live isolates, including ones being created', (s) => s.isolates);
    stat('tiller_runtime_busy_isolates', 'Isolates running a batch', (s) => s.busyIsolates);
    stat('tiller_runtime_cached_versions', 'Versions holding at least one warm isolate', (s) => s.versions);
    stat('tiller_runtime_isolate_cache_hits', 'Batches served by a warm isolate, since start', (s) => s.cacheHits);
    stat('tiller_runtime_isolate_cache_misses', 'Batches that built an isolate, since start', (s) => s.cacheMisses);
    stat('tiller_runtime_isolate_evictions', 'Idle isolates disposed to make room, since start', (s) => s.evictions);
    stat('tiller_runtime_isolate_recycles', 'Isolates retired for heap growth or run count, since start', (s) => s.recycled);
    stat('tiller_runtime_heap_used_bytes', 'Heap used by all isolates, as last measured', (s) => s.heapUsedBytes);
    stat('tiller_runtime_running_batches', 'Batches running now', (s) => s.runningBatches);
    stat('tiller_runtime_queued_batches', 'Batches waiting for their workspace turn or an isolate', (s) => s.queuedBatches);
    stat('tiller_runtime_python_interpreters', 'Python interpreter processes alive (warm ones and spares), across sandbox host processes', (s) => s.pythonInterpreters ?? 0);
    stat('tiller_runtime_python_resident_bytes', 'Resident memory of all Python interpreter processes, as last measured', (s) => s.pythonRssBytes ?? 0);
    new Gauge({
      name: 'tiller_runtime_limit_kills',
      help: 'Isolates disposed because a run broke a limit, since start',
      labelNames: ['limit'] as const,
      registers,
      collect() {
        const stats = metrics.runtimeStats();
        if (!stats) return;
        this.set({ limit: 'cpu' }, stats.limitKills.cpu);
        this.set({ limit: 'wall' }, stats.limitKills.wall);
        this.set({ limit: 'memory' }, stats.limitKills.memory);
      },
    });
    const hosts = (read: (h: NonNullable<RuntimeStats['hosts']>) => void) => {
      const stats = metrics.runtimeStats();
      if (stats?.hosts) read(stats.hosts);
    };
    new Gauge({
      name: 'tiller_sandbox_processes',
      help: 'Sandbox host processes, by state (ready takes batches; draining finishes its batches before it is replaced)',
      labelNames: ['state'] as const,
      registers,
      collect() {
        hosts((h) => {
          this.set({ state: 'ready' }, h.ready);
          this.set({ state: 'starting' }, h.starting);
          this.set({ state: 'draining' }, h.draining);
        });
      },
    });
    new Gauge({
      name: 'tiller_sandbox_process_restarts',
      help: 'Sandbox host processes since start that ended unexpectedly (reason crash) or were replaced for passing TILLER_SANDBOX_PROCESS_MAX_RSS_MB (reason memory)',
      labelNames: ['reason'] as const,
      registers,
      collect() {
        hosts((h) => {
          this.set({ reason: 'crash' }, h.restarts.crash);
          this.set({ reason: 'memory' }, h.restarts.memory);
        });
      },
    });
    new Gauge({
      name: 'tiller_sandbox_process_resident_bytes',
      help: 'Resident memory of each sandbox host process, by slot, as it last reported (the slot after the last regular one is the low-priority lane)',
      labelNames: ['slot'] as const,
      registers,
      collect() {
        this.reset();
        hosts((h) => {
          for (const p of h.processes) this.inc({ slot: String(p.slot) }, p.rssBytes);
        });
      },
    });
    stat('tiller_sandbox_quarantined_versions', 'Transformation versions quarantined now because a batch of theirs crashed a sandbox process', (s) => s.hosts?.quarantined ?? 0);
    stat('tiller_sandbox_suspect_workspaces', 'Workspaces whose code crashed a sandbox process recently; their batches run only in the low-priority lane', (s) => s.hosts?.suspectWorkspaces ?? 0);
    stat('tiller_sandbox_quarantines', 'Quarantines begun since start', (s) => s.hosts?.quarantines ?? 0);
    new Gauge({
      name: 'tiller_serving_version_cache_entries',
      help: 'Transformation and library versions cached in memory for serving',
      registers,
      collect() {
        if (metrics.versionCache) this.set(metrics.versionCache.stats().entries);
      },
    });
    new Gauge({
      name: 'tiller_serving_version_cache_code_bytes',
      help: 'Approximate memory held by cached version code',
      registers,
      collect() {
        if (metrics.versionCache) this.set(metrics.versionCache.stats().codeBytes);
      },
    });
  }

  /** The runtime whose stats() the gauges read (a runtime without stats() leaves them at 0). */
  observeRuntime(runtime: Runtime): void {
    this.runtime = runtime;
  }

  observeVersionCache(cache: VersionCacheView): void {
    this.versionCache = cache;
  }

  private runtimeStats(): RuntimeStats | undefined {
    const runtime = this.runtime as (Runtime & { stats?: () => RuntimeStats }) | undefined;
    return typeof runtime?.stats === 'function' ? runtime.stats() : undefined;
  }

  onBatch(report: BatchReport): void {
    const labels = this.tenantLabels ? { workspace_id: report.workspaceId, version_id: report.versionId } : {};
    if (this.tenantLabels) this.track(report.versionId, report.workspaceId, report.outcome);
    this.batches.inc({ ...labels, outcome: report.outcome });
    this.eventsIn.inc(labels, report.eventsIn);
    this.eventsOut.inc(labels, report.eventsOut);
    this.eventsDropped.inc(labels, report.dropped);
    this.eventsFailed.inc(labels, report.failed);
    this.runSeconds.inc(labels, report.durationMs / 1000);
    this.coldStarts.inc(labels, report.coldStart ? 1 : 0);
    this.batchDuration.observe({ outcome: report.outcome === 'ok' ? 'ok' : 'error' }, report.durationMs / 1000);
    if (report.outbound) this.countOutbound(report.outbound);
  }

  private countOutbound(tally: OutboundTally): void {
    for (const kind of OUTBOUND_KINDS) {
      const byOutcome = tally[kind];
      if (!byOutcome) continue;
      for (const [outcome, count] of Object.entries(byOutcome)) {
        // The label set stays bounded whatever a host reports.
        if (typeof count === 'number' && count > 0) this.outboundCalls.inc({ kind, outcome: OUTBOUND_OUTCOMES.has(outcome) ? outcome : 'error' }, count);
      }
    }
  }

  /** Marks a version active; the cache drops the series of the least recently active beyond the bound. */
  private track(versionId: string, workspaceId: string, outcome: string): void {
    let entry = this.active.get(versionId);
    if (!entry) {
      entry = { workspaceId, outcomes: new Set() };
      this.active.set(versionId, entry);
    }
    entry.outcomes.add(outcome);
  }

  private dropSeries(versionId: string, old: ActiveVersion): void {
    const labels = { workspace_id: old.workspaceId, version_id: versionId };
    for (const counter of [this.eventsIn, this.eventsOut, this.eventsDropped, this.eventsFailed, this.runSeconds, this.coldStarts]) counter.remove(labels);
    for (const o of old.outcomes) this.batches.remove({ ...labels, outcome: o });
  }
}
