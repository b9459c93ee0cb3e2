import type { App, Surface } from '../app.js';
import { configBackendRoutes } from './config-backend.js';
import { runtimeRoutes } from './runtime.js';
import { libraryRoutes } from './libraries.js';
import { publishRoutes } from './publish.js';
import { transformationRoutes } from './transformations.js';
import { registerDashboard } from './web.js';

/**
 * Route plugins beyond the access-token service, in registration order. Runtime and
 * config-backend routes are served on both surfaces; everything else only on the main one.
 */
export async function extraRoutes(app: App, surface: Surface): Promise<void> {
  void app;
  void surface;
  await app.register(runtimeRoutes, { surface });
  await app.register(configBackendRoutes);
  if (surface === 'main') {
    await app.register(transformationRoutes);
    await app.register(libraryRoutes);
    await app.register(publishRoutes);
  }
  if (surface === 'main') await registerDashboard(app, { distDir: app.services.config.webDistDir });
}
