import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Scope } from '../domain/access-tokens.js';
import type { AuthFailureReason, CredentialVerifier, Principal } from '../domain/authentication.js';
import { sendError, sendUnauthorized } from './errors.js';

/**
 * Who may call a route, declared in each route's `config.auth`:
 * - none: public (health, docs)
 * - workspace: the workspace token (token management, audit log)
 * - access: an access token, with `config.scope` (default: read for GET, write otherwise)
 * - any: either kind of secret (config-backend reads); an access token still needs the scope
 * - runtime: like any, but credential-free when the operator opened the runtime surface
 */
export type AuthPolicy = 'none' | 'workspace' | 'access' | 'any' | 'runtime';

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: AuthPolicy;
    /** The scope an access token needs; a list means any one of them. */
    scope?: Scope | readonly Scope[];
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export type ParsedCredentials = { ok: true; secret: string; email: string | null } | { ok: false; reason: AuthFailureReason };

/**
 * Reads every Authorization form Tiller accepts: Basic with the secret as user name or password
 * (an e-mail may stand beside it), and Bearer. Never throws, whatever the header holds.
 */
export function parseAuthorization(header: string | undefined): ParsedCredentials {
  if (header === undefined || header.trim() === '') return { ok: false, reason: 'missing' };
  const match = /^\s*(\S+)\s+(\S+)\s*$/.exec(header);
  if (!match) return { ok: false, reason: 'bad_scheme' };
  const scheme = match[1]!.toLowerCase();
  const value = match[2]!;
  if (scheme === 'bearer') return { ok: true, secret: value, email: null };
  if (scheme !== 'basic') return { ok: false, reason: 'bad_scheme' };
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) return { ok: false, reason: 'malformed' };
  // `echo "$TOKEN:" | base64` encodes a trailing newline too; secrets never end in one.
  const decoded = Buffer.from(value, 'base64').toString('utf8').replace(/[\r\n]+$/, '');
  const colon = decoded.indexOf(':');
  const user = colon === -1 ? decoded : decoded.slice(0, colon);
  const password = colon === -1 ? '' : decoded.slice(colon + 1);
  if (password !== '') return { ok: true, secret: password, email: user !== '' ? user : null };
  if (user !== '') return { ok: true, secret: user, email: null };
  return { ok: false, reason: 'malformed' };
}

/** Counts failed authentications per client address in fixed windows. */
export class AuthThrottle {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Seconds until the address may fail again, or 0 while it is under the limit. */
  retryAfter(ip: string, now = Date.now()): number {
    if (this.limit <= 0) return 0;
    const w = this.windows.get(ip);
    if (!w || w.resetAt <= now || w.count < this.limit) return 0;
    return Math.max(1, Math.ceil((w.resetAt - now) / 1000));
  }

  recordFailure(ip: string, now = Date.now()): void {
    if (this.limit <= 0) return;
    const w = this.windows.get(ip);
    if (!w || w.resetAt <= now) {
      if (this.windows.size >= 100_000) this.sweep(now);
      this.windows.set(ip, { count: 1, resetAt: now + this.windowMs });
    } else {
      w.count++;
    }
  }

  private sweep(now: number): void {
    for (const [ip, w] of this.windows) if (w.resetAt <= now) this.windows.delete(ip);
    // Still full: an address flood. Forget everything rather than grow without bound.
    if (this.windows.size >= 100_000) this.windows.clear();
  }
}

export interface AuthPluginOptions {
  verifier: CredentialVerifier;
  throttle: AuthThrottle;
  /** True on the credential-free runtime listener, or when TILLER_RUNTIME_AUTH=none. */
  runtimeOpen: boolean;
  onFailure?: (reason: AuthFailureReason) => void;
}


/**
 * One guard for every route, driven by the route's declared policy. Authentication runs before the
 * body is read, so unauthenticated callers cannot make the server parse large bodies.
 */
export const authPlugin = fp<AuthPluginOptions>(
  async (app: FastifyInstance, options) => {
    app.decorateRequest('principal', null);

    app.addHook('onRoute', (route) => {
      // Fail closed: a route that forgot to declare its policy would otherwise be public.
      const policy = (route.config as { auth?: AuthPolicy } | undefined)?.auth;
      if (policy === undefined && !String(route.url).startsWith('/docs')) {
        throw new Error(`route ${String(route.method)} ${route.url} declares no auth policy`);
      }
    });

    // Only failures are throttled: a valid credential from a throttled address still passes, so
    // one noisy client behind a shared NAT cannot lock out its neighbours.
    const refuse = (request: FastifyRequest, reply: FastifyReply, reason: AuthFailureReason) => {
      options.onFailure?.(reason);
      request.log.info({ authFailure: reason }, 'authentication failed');
      const wait = options.throttle.retryAfter(request.ip);
      if (wait > 0) {
        reply.header('Retry-After', String(wait));
        return sendError(reply, 429, 'too_many_requests', `too many failed authentication attempts; retry in ${wait} s`);
      }
      options.throttle.recordFailure(request.ip);
      return sendUnauthorized(reply);
    };

    app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      // routeOptions is rebuilt on every read: read it once.
      const route = request.routeOptions;
      const policy = route.config.auth ?? (route.url === undefined || route.url.startsWith('/docs') ? 'none' : 'access');
      if (policy === 'none') return;
      const header = request.headers.authorization ?? (request.headers['authorisation'] as string | undefined);
      if (policy === 'runtime' && options.runtimeOpen && header === undefined) return;

      const parsed = parseAuthorization(header);
      if (!parsed.ok) return refuse(request, reply, parsed.reason);
      // A cached credential is answered synchronously; only a store lookup is awaited.
      const pending = options.verifier.verify(parsed.secret, { ip: request.ip, email: parsed.email, userAgent: request.headers['user-agent'] ?? null });
      const result = pending instanceof Promise ? await pending : pending;
      if (!result.ok) return refuse(request, reply, result.reason);
      const principal = result.principal;

      const wanted = policy === 'workspace' ? 'workspace' : policy === 'access' ? 'access' : null;
      if (wanted !== null && principal.kind !== wanted) return refuse(request, reply, 'wrong_kind');
      if (principal.kind === 'access') {
        const scope = route.config.scope ?? (request.method === 'GET' || request.method === 'HEAD' ? 'read' : 'write');
        const accepted = typeof scope === 'string' ? [scope] : scope;
        if (!accepted.some((s) => principal.scopes.includes(s))) {
          return sendError(reply, 403, 'insufficient_scope', `this access token needs the ${accepted.join(' or ')} scope`);
        }
      }
      request.principal = principal;
    });
  },
  { name: 'tiller-auth' },
);

/** The principal of a route whose policy guarantees one; throws if the guard was bypassed. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error('route reached without a principal');
  return request.principal;
}

export function workspaceIdOf(request: FastifyRequest): string {
  return principalOf(request).workspaceId;
}

/** The audit actor for the request's principal: token ids, never secrets. */
export function actorOf(request: FastifyRequest) {
  const principal = request.principal;
  const base = { ip: request.ip, userAgent: request.headers['user-agent'] ?? null };
  if (!principal) return { type: 'anonymous' as const, id: null, ...base };
  return principal.kind === 'access' ? { type: 'access_token' as const, id: principal.tokenId, ...base } : { type: 'workspace' as const, id: principal.workspaceId, ...base };
}
