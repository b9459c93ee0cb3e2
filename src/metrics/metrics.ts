import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per server instance, so several instances can live in one process (tests). */
export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({ name: 'tiller_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'] as const, registers: [this.registry] });
  readonly httpDuration = new Histogram({
    name: 'tiller_http_request_duration_seconds',
    help: 'HTTP request latency by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly authFailures = new Counter({ name: 'tiller_auth_failures_total', help: 'Failed authentications by reason', labelNames: ['reason'] as const, registers: [this.registry] });
  readonly canaryEnds = new Counter({ name: 'tiller_canary_ends_total', help: 'Canaries ended by this instance, by how: rolled_back (a guard tripped) or promoted (by itself)', labelNames: ['how'] as const, registers: [this.registry] });
  readonly shadowShed = new Counter({ name: 'tiller_shadow_shed_batches_total', help: 'Live batches not copied to a shadow run because its queue was full', registers: [this.registry] });
  readonly tokenCache = new Counter({ name: 'tiller_token_cache_lookups_total', help: 'Credential cache lookups by result', labelNames: ['result'] as const, registers: [this.registry] });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'tiller_' });
  }
}
