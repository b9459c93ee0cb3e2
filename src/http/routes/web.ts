import { readFile } from 'node:fs/promises';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

/**
 * The dashboard: `GET /` answers index.html (never cached, so a new build is picked up at once) and
 * `GET /ui/assets/<file>` answers the content-hashed bundles Vite emits (cached for a year). No
 * wildcard route is registered, so no API path can ever be shadowed by the dashboard.
 */

// Vite names assets like `index-Bx3k9_aZ.js`: one path segment, no dots at the start.
const ASSET_FILE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,200}$/;

// The dashboard talks only to this origin and bundles everything it needs. CodeMirror injects
// its own <style> elements, hence 'unsafe-inline' for styles only.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Every HTML page Tiller serves (the dashboard, /docs) is never sniffed or framed and sends no referrer. */
export function setPageSafetyHeaders(reply: FastifyReply): FastifyReply {
  return reply.header('X-Content-Type-Options', 'nosniff').header('X-Frame-Options', 'DENY').header('Referrer-Policy', 'no-referrer');
}

function setPageHeaders(reply: FastifyReply): FastifyReply {
  return setPageSafetyHeaders(reply).header('Cache-Control', 'no-cache').header('Content-Security-Policy', CONTENT_SECURITY_POLICY).type('text/html; charset=utf-8');
}

const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Tiller: dashboard not built</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1c2321}code{background:#eef1ee;padding:.1em .35em;border-radius:4px}</style></head>
<body>
<h1>The Tiller dashboard is not built</h1>
<p>This server is running and its HTTP API works (see <a href="/docs">/docs</a>), but the dashboard files are missing.</p>
<p>Build them from the Tiller source folder with <code>npm run build</code> (or only the dashboard with <code>npm run build:web</code>), then reload this page. No restart is needed.</p>
</body>
</html>
`;

function isMissingFile(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

export interface DashboardOptions {
  /** The folder `vite build` wrote (index.html and assets/), usually `<repo>/dist/web`. */
  distDir: string;
}

// Accepts the app whatever its type provider; the routes here declare no typed schemas.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyFastify = FastifyInstance<any, any, any, any, any>;

export async function registerDashboard(app: AnyFastify, opts: DashboardOptions): Promise<void> {
  const distDir = path.resolve(opts.distDir);
  const assetsDir = path.join(distDir, 'assets');
  const indexFile = path.join(distDir, 'index.html');

  await app.register(async (scope: AnyFastify) => {
    // Only the reply.sendFile decorator (ETag, Last-Modified, ranges, content types) is used:
    // routes are declared here so that each carries Tiller's `auth: 'none'` policy.
    await scope.register(fastifyStatic, {
      root: assetsDir,
      serve: false,
      suppressWarning: true,
      dotfiles: 'deny',
      index: false,
      cacheControl: true,
      maxAge: '365d',
      immutable: true,
      // The build writes .br/.gz siblings; browsers that accept them get those bytes.
      preCompressed: true,
    });

    scope.get('/', { config: { auth: 'none' }, schema: { hide: true } }, async (_request, reply) => {
      let html: string;
      try {
        // Read per request (a few kB) so that rebuilding the dashboard needs no restart.
        html = await readFile(indexFile, 'utf8');
      } catch (error) {
        if (!isMissingFile(error)) throw error;
        return setPageHeaders(reply).send(NOT_BUILT_PAGE);
      }
      return setPageHeaders(reply).send(html);
    });

    // Old links and bookmarks to the asset prefix land on the dashboard itself.
    scope.get('/ui', { config: { auth: 'none' }, schema: { hide: true } }, async (_request, reply) => reply.redirect('/', 302));

    scope.get('/ui/assets/:file', { config: { auth: 'none' }, schema: { hide: true } }, async (request, reply) => {
      const { file } = request.params as { file: string };
      if (!ASSET_FILE.test(file)) return reply.callNotFound();
      reply.header('X-Content-Type-Options', 'nosniff');
      return reply.sendFile(file);
    });
  });
}
