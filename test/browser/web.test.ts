import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registerDashboard } from '../../src/http/routes/web.js';

// The dashboard routes on their own, in an app that, like Tiller's, refuses any route without a
// declared auth policy and answers unknown paths with the JSON error envelope.
async function buildApp(distDir: string): Promise<FastifyInstance> {
  const app = Fastify();
  app.addHook('onRoute', (route) => {
    if ((route.config as { auth?: string } | undefined)?.auth === undefined) throw new Error(`route ${route.url} declares no auth policy`);
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ success: false, error: { code: 'not_found', message: `no route ${request.method} ${request.url}` } }));
  await registerDashboard(app, { distDir });
  app.get('/transformations', { config: { auth: 'access' } }, async () => ({ transformations: [] }));
  await app.ready();
  return app;
}

describe('registerDashboard', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tiller-web-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers a page explaining how to build when the dashboard is missing, then serves it once built', async () => {
    const app = await buildApp(join(dir, 'web'));
    const before = await app.inject({ url: '/' });
    expect(before.statusCode).toBe(200);
    expect(before.headers['content-type']).toContain('text/html');
    expect(before.body).toContain('not built');
    expect(before.body).toContain('npm run build');

    // Building later needs no restart.
    mkdirSync(join(dir, 'web', 'assets'), { recursive: true });
    writeFileSync(join(dir, 'web', 'index.html'), '<!doctype html><title>Tiller</title><script type="module" src="/ui/assets/index-abc123.js"></script>');
    writeFileSync(join(dir, 'web', 'assets', 'index-abc123.js'), 'console.log(1)');
    const after = await app.inject({ url: '/' });
    expect(after.body).toContain('/ui/assets/index-abc123.js');
    await app.close();
  });

  it('serves index.html uncached with a strict content security policy', async () => {
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Tiller</title>');
    const app = await buildApp(dir);
    const page = await app.inject({ url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers['content-security-policy']).toContain("default-src 'self'");
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    const head = await app.inject({ method: 'HEAD', url: '/' });
    expect(head.statusCode).toBe(200);
    const redirect = await app.inject({ url: '/ui' });
    expect(redirect.statusCode).toBe(302);
    expect(redirect.headers.location).toBe('/');
    await app.close();
  });

  it('serves hashed assets for a year, precompressed when the browser accepts it', async () => {
    const source = 'export const answer = 42;\n'.repeat(200);
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html>');
    writeFileSync(join(dir, 'assets', 'main-Ab12_x.js'), source);
    writeFileSync(join(dir, 'assets', 'main-Ab12_x.js.br'), brotliCompressSync(source));
    writeFileSync(join(dir, 'assets', 'main-Ab12_x.js.gz'), gzipSync(source));
    const app = await buildApp(dir);

    const plain = await app.inject({ url: '/ui/assets/main-Ab12_x.js' });
    expect(plain.statusCode).toBe(200);
    expect(plain.headers['content-type']).toContain('javascript');
    expect(plain.headers['cache-control']).toContain('max-age=31536000');
    expect(plain.headers['cache-control']).toContain('immutable');
    expect(plain.body).toBe(source);

    const brotli = await app.inject({ url: '/ui/assets/main-Ab12_x.js', headers: { 'accept-encoding': 'br, gzip' } });
    expect(brotli.headers['content-encoding']).toBe('br');
    expect(brotli.rawPayload.length).toBeLessThan(source.length);
    await app.close();
  });

  it('never serves files outside the assets folder, nor dotfiles', async () => {
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html>');
    writeFileSync(join(dir, 'secret.txt'), 'do not serve');
    writeFileSync(join(dir, 'assets', '.env'), 'TOKEN=1');
    const app = await buildApp(dir);
    for (const url of ['/ui/assets/..%2fsecret.txt', '/ui/assets/../secret.txt', '/ui/assets/.env', '/ui/assets/%2e%2e%2fsecret.txt', '/ui/index.html', '/ui/assets/missing.js']) {
      const response = await app.inject({ url });
      expect(response.statusCode, url).toBe(404);
      expect(response.body).not.toContain('do not serve');
      expect(response.body).not.toContain('TOKEN');
    }
    await app.close();
  });

  it('leaves API paths to the API', async () => {
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html>');
    const app = await buildApp(dir);
    const api = await app.inject({ url: '/transformations' });
    expect(api.json()).toEqual({ transformations: [] });
    for (const url of ['/accessTokens', '/health', '/openapi.json', '/docs', '/tokens', '/transformations/abc']) {
      const response = await app.inject({ url });
      expect(response.statusCode, url).toBe(404);
      expect(response.headers['content-type'], url).toContain('application/json');
    }
    await app.close();
  });
});
