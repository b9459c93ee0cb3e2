import { Type } from '@sinclair/typebox';
import type { App } from '../app.js';
import { sendError } from '../errors.js';

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
        summary: 'Readiness: the store answers',
        tags: ['operations'],
        response: { 200: Type.Object({ status: Type.Literal('ready'), store: Type.String() }), 503: Type.Object({ success: Type.Literal(false), error: Type.Object({ code: Type.String(), message: Type.String() }), requestId: Type.String() }) },
      },
    },
    async (_request, reply) => {
      if (await app.services.store.ping()) return { status: 'ready' as const, store: app.services.store.dialect };
      return sendError(reply, 503, 'store_unavailable', 'the database does not answer');
    },
  );

  app.get('/metrics', { config: { auth: 'none' }, schema: { summary: 'Prometheus metrics', tags: ['operations'], produces: ['text/plain'] } }, async (_request, reply) => {
    const { registry } = app.services.metrics;
    reply.type(registry.contentType);
    return registry.metrics();
  });
}
