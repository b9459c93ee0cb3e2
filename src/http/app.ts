import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Ajv } from 'ajv';
import * as ajvFormats from 'ajv-formats';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions, type RawServerDefault } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fastifyTrustProxy } from '../config.js';
import { redactSecrets } from '../domain/secrets.js';
import type { Services } from '../services.js';
import { AuthThrottle, authPlugin, type AuthPolicy } from './auth.js';
import { handleError, sendError } from './errors.js';
import { addJsonBodyParser } from './event-bodies.js';
import { registerRoutes } from './route-table.js';
import { setPageSafetyHeaders } from './routes/web.js';

export type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>;

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
  }
}

// ajv-formats is CommonJS whose default export TypeScript sees as a namespace.
const addFormats = (ajvFormats as unknown as { default: (ajv: Ajv) => Ajv }).default;

/**
 * Which routes a listener serves: everything, only the credential-free runtime surface, or only
 * GET /metrics without credentials (TILLER_METRICS_PORT).
 */
export type Surface = 'main' | 'runtime' | 'metrics';

export interface BuildAppOptions {
  services: Services;
  surface?: Surface;
  /** A pino logger or logger options; tests pass a stream to capture output. */
  logger?: FastifyServerOptions['logger'] | FastifyBaseLogger;
}

/** Paths under which secrets may appear in log objects; all are replaced before writing. */
export const REDACTED_LOG_PATHS = [
  'req.headers.authorization',
  'req.headers.authorisation',
  'req.headers.cookie',
  'headers.authorization',
  'headers.authorisation',
  'token',
  'workspaceToken',
  'secret',
  'password',
  '*.token',
  '*.workspaceToken',
  '*.secret',
  '*.password',
  // Workspace credential values (POST and PATCH /credentials bodies), should a body ever be logged.
  'value',
  '*.value',
  'body.value',
  '*.body.value',
];

export function loggerOptions(level: string, stream?: NodeJS.WritableStream): FastifyServerOptions['logger'] {
  return {
    level,
    redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' },
    ...(stream ? { stream } : {}),
  } as FastifyServerOptions['logger'];
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

// Two validators: bodies are checked strictly (a number is not a name), while query strings and
// path parameters, which are always text on the wire, are coerced to the declared types.
function buildValidators() {
  const strict = new Ajv({ coerceTypes: false, useDefaults: true, removeAdditional: false, allErrors: false, strict: false });
  const coercing = new Ajv({ coerceTypes: 'array', useDefaults: true, removeAdditional: false, allErrors: false, strict: false });
  addFormats(strict);
  addFormats(coercing);
  return { strict, coercing };
}

export async function buildApp(options: BuildAppOptions): Promise<App> {
  const { services } = options;
  const { config } = services;
  const surface = options.surface ?? 'main';
  const loggerOption = options.logger ?? loggerOptions(config.logLevel);
  const isLoggerInstance = typeof (loggerOption as FastifyBaseLogger | undefined)?.child === 'function';

  const app = Fastify({
    ...(isLoggerInstance ? { loggerInstance: loggerOption as FastifyBaseLogger } : { logger: loggerOption as FastifyServerOptions['logger'] }),
    bodyLimit: config.bodyLimitBytes,
    trustProxy: fastifyTrustProxy(config.trustProxy),
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    forceCloseConnections: 'idle',
    // A request that still arrives while the listener closes (on a connection opened before the
    // drain) is answered, not refused with 503: the store and sandbox stay up until close finishes.
    return503OnClosing: false,
    // One access-log line per request (written in onResponse) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;

  app.decorate('services', services);
  const validators = buildValidators();
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? validators.strict : validators.coercing).compile(schema as object));

  // JSON is the only body Tiller reads; anything else answers 415.
  app.removeAllContentTypeParsers();
  addJsonBodyParser(app, 'error');

  app.addHook('onRequest', async (request, reply) => {
    reply.header('X-Request-Id', request.id);
    reply.header('X-Content-Type-Options', 'nosniff');
    if (/^\/docs(?:[/?]|$)/.test(request.url)) setPageSafetyHeaders(reply);
  });
  // Draining: each answer ends its connection (those of requests that began before the drain too),
  // so keep-alive clients and load balancers reconnect to another instance instead of holding a
  // connection that the closing listener would cut.
  app.addHook('onSend', async (_request, reply, payload) => {
    if (services.readiness.draining) reply.header('Connection', 'close');
    return payload;
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const labels = { method: request.method, route, status: String(reply.statusCode) };
    services.metrics.httpRequests.inc(labels);
    services.metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
    request.log.info({ method: request.method, url: redactSecrets(request.url), status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10, ip: request.ip }, 'request');
  });

  app.setErrorHandler((error, request, reply) => handleError(error as Error, request, reply));
  app.setNotFoundHandler((request, reply) => sendError(reply, 404, 'not_found', `no route ${request.method} ${request.url.split('?')[0]}`));

  if (surface === 'main') {
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'Tiller API',
          version: '1',
          description:
            'Access tokens, transformations, libraries, publish and tests, and the transformation runtime. Wire-compatible with the RudderStack Transformation API; fields marked ext are Tiller additions.',
        },
        components: {
          securitySchemes: {
            workspaceToken: { type: 'http', scheme: 'basic', description: 'Basic base64(<workspace token>:)' },
            accessTokenBasic: { type: 'http', scheme: 'basic', description: 'Basic base64(:<access token>), base64(<access token>:) or base64(<email>:<access token>)' },
            accessTokenBearer: { type: 'http', scheme: 'bearer', description: 'Bearer <access token>' },
            metricsToken: { type: 'http', scheme: 'bearer', description: 'Bearer <TILLER_METRICS_TOKEN> (operators only)' },
          },
        },
      },
      transform: ({ schema, url, route }) => {
        const policy = (route.config as { auth?: AuthPolicy } | undefined)?.auth;
        const security =
          policy === 'workspace'
            ? [{ workspaceToken: [] }]
            : policy === 'access'
              ? [{ accessTokenBasic: [] }, { accessTokenBearer: [] }]
              : policy === 'any' || policy === 'runtime'
                ? [{ workspaceToken: [] }, { accessTokenBasic: [] }, { accessTokenBearer: [] }]
                : [];
        return { schema: { ...(schema ?? {}), ...(security.length > 0 ? { security } : {}) } as typeof schema, url };
      },
    });
  }

  // The metrics listener serves only the credential-free GET /metrics: it has nothing to guard.
  if (surface !== 'metrics') {
    await app.register(authPlugin, {
      verifier: services.verifier,
      throttle: new AuthThrottle(config.authFailureLimit, config.authFailureWindowMs),
      runtimeOpen: surface === 'runtime' || config.runtimeAuth === 'none',
      onFailure: (reason) => services.metrics.authFailures.inc({ reason }),
    });
  }

  // Every route comes from the one route table (src/http/route-table.ts).
  await registerRoutes(app, surface);
  return app;
}
