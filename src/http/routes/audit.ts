import { Type } from '@sinclair/typebox';
import { listAuditEvents } from '../../domain/audit.js';
import type { App } from '../app.js';
import { workspaceIdOf } from '../auth.js';
import { Nullable, errors } from '../schemas.js';

const AuditEvent = Type.Object({
  id: Type.String(),
  at: Type.String({ format: 'date-time' }),
  actor: Type.Object({ type: Type.String(), id: Nullable(Type.String()), name: Nullable(Type.String({ description: "An access token's name" })) }),
  action: Type.String(),
  target: Nullable(Type.String()),
  targetName: Nullable(Type.String({ description: 'The name of the token, transformation, library or credential key when the event happened' })),
  ip: Nullable(Type.String()),
  userAgent: Nullable(Type.String()),
  outcome: Type.String(),
  reason: Nullable(Type.String()),
});

export async function auditRoutes(app: App): Promise<void> {
  app.get(
    '/auditLog',
    {
      config: { auth: 'workspace' },
      schema: {
        summary: 'Audit events of the workspace, newest first (ext)',
        tags: ['access tokens'],
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
          before: Type.Optional(Type.String({ maxLength: 64, description: 'An event id from the previous page' })),
        }),
        response: { 200: Type.Array(AuditEvent), ...errors(400, 401, 429) },
      },
    },
    async (request) => listAuditEvents(app.services.store.db, workspaceIdOf(request), { limit: request.query.limit, before: request.query.before }),
  );
}
