import swaggerUi from '@fastify/swagger-ui';
import type { App } from '../app.js';

/**
 * GET /openapi.json (the document @fastify/swagger builds from every route's schema, registered in
 * buildApp before any route) and the Swagger UI under /docs.
 */
export async function docsRoutes(app: App): Promise<void> {
  app.get('/openapi.json', { schema: { hide: true }, config: { auth: 'none' } }, async () => app.swagger());
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { deepLinking: true }, staticCSP: true });
}
