import type { App, Surface } from './app.js';
import { accessTokenRoutes } from './routes/access-tokens.js';
import { auditRoutes } from './routes/audit.js';
import { configBackendRoutes } from './routes/config-backend.js';
import { dataplaneRoutes } from './routes/dataplane.js';
import { credentialRoutes } from './routes/credentials.js';
import { docsRoutes } from './routes/docs.js';
import { healthRoutes } from './routes/health.js';
import { libraryRoutes } from './routes/libraries.js';
import { liveEventRoutes } from './routes/live-events.js';
import { metricsRoutes } from './routes/metrics.js';
import { publishRoutes } from './routes/publish.js';
import { releaseRoutes } from './routes/release.js';
import { runtimeRoutes } from './routes/runtime.js';
import { statsRoutes } from './routes/stats.js';
import { transformationRoutes } from './routes/transformations.js';
import { registerDashboard } from './routes/web.js';
import { workspaceConfigRoutes } from './routes/workspace-config.js';

/**
 * Every route plugin, in registration order, with the listeners that serve it: `main` (the API
 * port), `runtime` (the credential-free runtime listener) and `metrics` (TILLER_METRICS_PORT).
 * A new route file gets one line here; the route-table test walks every route this registers.
 */
export interface RouteEntry {
  /** The route file under src/http/routes/. */
  file: string;
  surfaces: readonly Surface[];
  register(app: App, surface: Surface): PromiseLike<unknown>;
}

export const ROUTE_TABLE: readonly RouteEntry[] = [
  { file: 'health', surfaces: ['main', 'runtime'], register: (app) => app.register(healthRoutes) },
  { file: 'metrics', surfaces: ['main', 'metrics'], register: (app, surface) => app.register(metricsRoutes, { open: surface === 'metrics' }) },
  { file: 'access-tokens', surfaces: ['main'], register: (app) => app.register(accessTokenRoutes) },
  { file: 'audit', surfaces: ['main'], register: (app) => app.register(auditRoutes) },
  { file: 'docs', surfaces: ['main'], register: (app) => app.register(docsRoutes) },
  { file: 'runtime', surfaces: ['main', 'runtime'], register: (app, surface) => app.register(runtimeRoutes, { surface }) },
  { file: 'config-backend', surfaces: ['main', 'runtime'], register: (app) => app.register(configBackendRoutes) },
  { file: 'transformations', surfaces: ['main'], register: (app) => app.register(transformationRoutes) },
  { file: 'stats', surfaces: ['main'], register: (app) => app.register(statsRoutes) },
  { file: 'release', surfaces: ['main'], register: (app) => app.register(releaseRoutes) },
  { file: 'libraries', surfaces: ['main'], register: (app) => app.register(libraryRoutes) },
  { file: 'credentials', surfaces: ['main'], register: (app) => app.register(credentialRoutes) },
  { file: 'publish', surfaces: ['main'], register: (app) => app.register(publishRoutes) },
  { file: 'workspace-config', surfaces: ['main'], register: (app) => app.register(workspaceConfigRoutes) },
  { file: 'live-events', surfaces: ['main'], register: (app) => app.register(liveEventRoutes) },
  { file: 'dataplane', surfaces: ['main'], register: (app) => app.register(dataplaneRoutes) },
  { file: 'web', surfaces: ['main'], register: (app) => registerDashboard(app, { distDir: app.services.config.webDistDir }) },
];

/** A route as registered: which entry of the table added it and the auth policy it declares. */
export interface RegisteredRoute {
  file: string;
  method: string;
  url: string;
  auth: string | undefined;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route this listener serves, filled while registerRoutes runs. */
    registeredRoutes: RegisteredRoute[];
  }
}

/** Registers the table's plugins for one listener and records every route they add. */
export async function registerRoutes(app: App, surface: Surface): Promise<void> {
  const routes: RegisteredRoute[] = [];
  app.decorate('registeredRoutes', routes);
  let file = '';
  app.addHook('onRoute', (route) => {
    const auth = (route.config as { auth?: string } | undefined)?.auth;
    for (const method of [route.method].flat()) routes.push({ file, method, url: route.url, auth });
  });
  for (const entry of ROUTE_TABLE) {
    if (!entry.surfaces.includes(surface)) continue;
    file = entry.file;
    await entry.register(app, surface);
  }
}
