import { Type } from '@sinclair/typebox';
import type { App } from '../app.js';
import { sendError } from '../errors.js';
import { errors } from '../schemas.js';

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
        summary: 'Readiness: the store answers, a sandbox process takes batches, and the instance is not draining',
        tags: ['operations'],
        response: { 200: Type.Object({ status: Type.Literal('ready'), store: Type.String(), sandboxProcesses: Type.Integer({ description: 'Sandbox host processes taking batches' }) }), ...errors(503) },
      },
    },
    async (_request, reply) => {
      const { store, runtime, readiness } = app.services;
      if (readiness.draining) return sendError(reply, 503, 'draining', 'this instance is shutting down; send requests to another one');
      if (!(await store.ping())) return sendError(reply, 503, 'store_unavailable', 'the database does not answer');
      const sandboxProcesses = runtime.stats().hosts?.ready ?? 1;
      if (sandboxProcesses === 0) return sendError(reply, 503, 'sandbox_unavailable', 'no sandbox process is up yet');
      return { status: 'ready' as const, store: store.dialect, sandboxProcesses };
    },
  );
}
