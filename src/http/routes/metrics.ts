import type { App } from '../app.js';
import { digestSecret, digestsEqual } from '../../domain/secrets.js';
import { parseAuthorization } from '../auth.js';
import { sendError } from '../errors.js';

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
          app.refuseCredential(request, reply, parsed.ok ? 'unknown' : parsed.reason);
          return reply;
        }
      }
      reply.type(metrics.registry.contentType);
      return metrics.registry.metrics();
    },
  );
}
