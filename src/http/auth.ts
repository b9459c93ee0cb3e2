import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import type { Scope } from '../domain/access-tokens.js';
import type { AuthFailureReason, Principal, VerifyResult } from '../domain/auth/credential.js';
import type { CredentialVerifier } from '../domain/auth/verifier.js';
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

declare module 'fastify' {
  interface FastifyInstance {
    /** Answers a failed authentication (401, or 429 past the per-address limit) and counts it. */
    refuseCredential(request: FastifyRequest, reply: FastifyReply, reason: AuthFailureReason): false;
  }
}

export interface AuthPluginOptions {
  verifier: CredentialVerifier;
  throttle: AuthThrottle;
  /** True on the credential-free runtime listener, or when TILLER_RUNTIME_AUTH=none. */
  runtimeOpen: boolean;
  onFailure?: (reason: AuthFailureReason) => void;
}

const READ: readonly Scope[] = ['read'];
const WRITE: readonly Scope[] = ['write'];

/**
 * One guard for every route, driven by the route's declared policy. Authentication runs before the
 * body is read, so unauthenticated callers cannot make the server parse large bodies.
 *
 * The guard is attached to each route that needs one, with its policy and scopes resolved when the
 * route is registered: public routes (health, docs) carry no authentication work at all, and a
 * request reads nothing from the route's options. It is a callback hook, so a cached credential
 * passes without a promise; only a store lookup is waited for.
 */
export const authPlugin = fp<AuthPluginOptions>(
  async (app: FastifyInstance, options) => {
    app.decorateRequest('principal', null);

    // Only failures are throttled: a valid credential from a throttled address still passes, so
    // one noisy client behind a shared NAT cannot lock out its neighbours.
    const refuse = (request: FastifyRequest, reply: FastifyReply, reason: AuthFailureReason): false => {
      options.onFailure?.(reason);
      request.log.info({ authFailure: reason }, 'authentication failed');
      const wait = options.throttle.retryAfter(request.ip);
      if (wait > 0) {
        reply.header('Retry-After', String(wait));
        sendError(reply, 429, 'too_many_requests', `too many failed authentication attempts; retry in ${wait} s`);
        return false;
      }
      options.throttle.recordFailure(request.ip);
      sendUnauthorized(reply);
      return false;
    };
    // Routes that check a secret of their own (GET /metrics) refuse through the same limiter.
    app.decorate('refuseCredential', refuse);

    const guard = (policy: Exclude<AuthPolicy, 'none'>, declaredScope: Scope | readonly Scope[] | undefined): onRequestHookHandler => {
      const wanted = policy === 'workspace' ? 'workspace' : policy === 'access' ? 'access' : null;
      const declared = typeof declaredScope === 'string' ? [declaredScope] : declaredScope;
      /** Whether the verifier's answer lets the request on (the principal is then set); otherwise the refusal is sent. */
      const admit = (request: FastifyRequest, reply: FastifyReply, result: VerifyResult): boolean => {
        if (!result.ok) return refuse(request, reply, result.reason);
        const principal = result.principal;
        if (wanted !== null && principal.kind !== wanted) return refuse(request, reply, 'wrong_kind');
        if (principal.kind === 'access') {
          const accepted = declared ?? (request.method === 'GET' || request.method === 'HEAD' ? READ : WRITE);
          if (!hasScope(principal.scopes, accepted)) {
            sendError(reply, 403, 'insufficient_scope', `this access token needs the ${accepted.join(' or ')} scope`);
            return false;
          }
        }
        request.principal = principal;
        return true;
      };
      return (request, reply, done) => {
        const header = request.headers.authorization ?? (request.headers['authorisation'] as string | undefined);
        if (policy === 'runtime' && options.runtimeOpen && header === undefined) return done();
        const parsed = parseAuthorization(header);
        if (!parsed.ok) {
          refuse(request, reply, parsed.reason);
          return;
        }
        const pending = options.verifier.verify(parsed.secret, { ip: request.ip, email: parsed.email, userAgent: request.headers['user-agent'] ?? null });
        if (!(pending instanceof Promise)) {
          if (admit(request, reply, pending)) done();
          return;
        }
        // A failing lookup (the store is away) goes to the error handler, like a throw would.
        pending.then((result) => admit(request, reply, result)).then((pass) => pass && done(), done);
      };
    };

    app.addHook('onRoute', (route) => {
      const config = route.config as { auth?: AuthPolicy; scope?: Scope | readonly Scope[] } | undefined;
      const policy = config?.auth;
      // Fail closed: a route that forgot to declare its policy would otherwise be public.
      if (policy === undefined && !String(route.url).startsWith('/docs')) {
        throw new Error(`route ${String(route.method)} ${route.url} declares no auth policy`);
      }
      if (policy === undefined || policy === 'none') return;
      // A new array, never the route's own: Fastify copies a GET route's options for its HEAD
      // route before this hook runs, and that copy gets its own guard.
      const own = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
      route.onRequest = [guard(policy, config?.scope), ...own];
    });
  },
  { name: 'tiller-auth' },
);

function hasScope(held: readonly Scope[], accepted: readonly Scope[]): boolean {
  for (const scope of accepted) if (held.includes(scope)) return true;
  return false;
}

/** The principal of a route whose policy guarantees one; throws if the guard was bypassed. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error('route reached without a principal');
  return request.principal;
}

export function workspaceIdOf(request: FastifyRequest): string {
  return principalOf(request).workspaceId;
}

/**
 * Whether the caller may change the workspace: its workspace token, or an access token with write
 * scope. No principal (the credential-free runtime listener, protected by the network) counts as
 * the workspace's own rudder-server.
 */
export function callerMayWrite(request: FastifyRequest): boolean {
  const principal = request.principal;
  return principal === null || principal.kind === 'workspace' || principal.scopes.includes('write');
}

/** The audit actor for the request's principal: token ids, never secrets. */
export function actorOf(request: FastifyRequest) {
  const principal = request.principal;
  const base = { ip: request.ip, userAgent: request.headers['user-agent'] ?? null };
  if (!principal) return { type: 'anonymous' as const, id: null, ...base };
  return principal.kind === 'access' ? { type: 'access_token' as const, id: principal.tokenId, ...base } : { type: 'workspace' as const, id: principal.workspaceId, ...base };
}
