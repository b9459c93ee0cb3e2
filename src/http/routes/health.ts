import { Type } from '@sinclair/typebox';
import type { App } from '../app.js';
import { digestSecret, digestsEqual } from '../../domain/secrets.js';
import { parseAuthorization } from '../auth.js';
import { sendError, sendUnauthorized } from '../errors.js';

export async function healthRoutes(app: App): Promise<void> {
  app.get(
    '/health',
    { config: { auth: 'none' }, schema: { summary: 'Liveness: the process is up', tags: ['operations'], response: { 200: Type.Object({ status: Type.Literal('ok') }) } } },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/ready',
    {
      config: { auth: 'none' },
      schema: {
        summary: 'Readiness: the store answers and a sandbox process takes batches',
        tags: ['operations'],
        response: { 200: Type.Object({ status: Type.Literal('ready'), store: Type.String(), sandboxProcesses: Type.Integer({ description: 'Sandbox host processes taking batches' }) }), 503: Type.Object({ success: Type.Literal(false), error: Type.Object({ code: Type.String(), message: Type.String() }), requestId: Type.String() }) },
      },
    },
    async (_request, reply) => {
      const { store, runtime } = app.services;
      if (!(await store.ping())) return sendError(reply, 503, 'store_unavailable', 'the database does not answer');
      const sandboxProcesses = runtime.stats().hosts?.ready ?? 1;
      if (sandboxProcesses === 0) return sendError(reply, 503, 'sandbox_unavailable', 'no sandbox process is up yet');
      return { status: 'ready' as const, store: store.dialect, sandboxProcesses };
    },
  );
}

/**
 * GET /metrics. On the main listener it needs `Authorization: Bearer <TILLER_METRICS_TOKEN>` (Basic
 * with the token as password works too) and is refused while that setting is unset; on the metrics
 * listener (`open`) it needs nothing, since that port belongs on a private network. The runtime
 * listener never registers it.
 */
export async function metricsRoutes(app: App, options: { open: boolean }): Promise<void> {
  const { config, metrics } = app.services;
  // Compared as keyed digests of equal length, so the comparison takes the same time for every guess.
  const expected = config.metricsToken === undefined ? undefined : digestSecret(config.pepper, config.metricsToken);
  app.get(
    '/metrics',
    {
      config: { auth: 'none' },
      schema: { summary: 'Prometheus metrics (Bearer TILLER_METRICS_TOKEN, or none on TILLER_METRICS_PORT)', tags: ['operations'], produces: ['text/plain'], ...(options.open ? {} : { security: [{ metricsToken: [] }] }) },
    },
    async (request, reply) => {
      if (!options.open) {
        if (expected === undefined) {
          return sendError(reply, 404, 'metrics_disabled', 'GET /metrics is off on this listener: set TILLER_METRICS_TOKEN to scrape it here with that Bearer token, or TILLER_METRICS_PORT to serve it on a private port');
        }
        const parsed = parseAuthorization(request.headers.authorization);
        if (!parsed.ok || !digestsEqual(digestSecret(config.pepper, parsed.secret), expected)) {
          metrics.authFailures.inc({ reason: parsed.ok ? 'unknown' : parsed.reason });
          return sendUnauthorized(reply);
        }
      }
      reply.type(metrics.registry.contentType);
      return metrics.registry.metrics();
    },
  );
}
