import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSecret } from '../../src/domain/secrets.js';
import { ROUTE_TABLE, type RegisteredRoute } from '../../src/http/route-table.js';
import { basicAuth, startTestServer, type TestServer } from '../helpers/server.js';

// One walk over every route the route table registers on the main listener: each one that needs a
// credential refuses missing and invalid ones with the one 401, and /openapi.json documents it with
// its security. A route added to any file in the table is covered by the walk without a change here.

const DUMMY_ID = '0VcAAAAAAAAAAAAAAAAAAAAAAAA';

let server: TestServer;
let routes: RegisteredRoute[];
let accessToken: string;

beforeAll(async () => {
  server = await startTestServer();
  accessToken = (await server.issueAccessToken({ name: 'walker' })).token;
  routes = server.server.app.registeredRoutes;
});
afterAll(async () => {
  await server?.close();
});

/** Routes that need a credential (HEAD answers as GET does, without a body to check). */
const credentialed = () => routes.filter((r) => r.auth !== undefined && r.auth !== 'none' && r.method !== 'HEAD');
const label = (route: RegisteredRoute) => `${route.method} ${route.url} (${route.file})`;

/** Authentication runs before the body is read or validated, so any JSON body will do. */
function call(route: RegisteredRoute, authorization: string | undefined): Promise<Response> {
  const headers: Record<string, string> = {};
  if (authorization !== undefined) headers.authorization = authorization;
  const withBody = route.method !== 'GET' && route.method !== 'HEAD';
  if (withBody) headers['content-type'] = 'application/json';
  const url = route.url.replace(/:[^/]+/g, DUMMY_ID).replace(/\*$/, 'x');
  return fetch(server.url + url, { method: route.method, headers, body: withBody ? '{}' : undefined });
}

function invalidCredentials(): [string, string | undefined][] {
  const good = generateSecret('access');
  const broken = good.slice(0, -2) + (good.endsWith('00') ? '11' : '00');
  return [
    ['no Authorization header', undefined],
    ['garbage', 'garbage'],
    ['an empty header', ''],
    ['a wrong scheme', `Digest username="${generateSecret('access')}"`],
    ['Basic without credentials', 'Basic'],
    ['bad base64', 'Basic ***not base64***'],
    ['base64 of a bare colon', `Basic ${Buffer.from(':').toString('base64')}`],
    ['a well-formed unknown access token (Basic)', basicAuth('', generateSecret('access'))],
    ['a well-formed unknown access token (Bearer)', `Bearer ${generateSecret('access')}`],
    ['a well-formed unknown workspace token', basicAuth(generateSecret('workspace'))],
    ['a token with a broken checksum', `Bearer ${broken}`],
    ['a compat-shaped 27-character token', basicAuth('1pHxUIA3jmxS2ip01zY696F80j7')],
  ];
}

describe('the route table', () => {
  it('registers routes from every entry served on the main listener, each declaring its auth policy', () => {
    for (const entry of ROUTE_TABLE.filter((e) => e.surfaces.includes('main'))) {
      expect(routes.some((r) => r.file === entry.file), entry.file).toBe(true);
    }
    for (const route of routes) if (!route.url.startsWith('/docs')) expect(route.auth, label(route)).toBeDefined();
    expect(credentialed().length).toBeGreaterThanOrEqual(20);
  });

  it('documents every credentialed route in /openapi.json with its security, and marks no other route secured', async () => {
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { security?: unknown[] }>> };
    const documented = new Set<string>();
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(methods)) if (operation.security?.length) documented.add(`${method.toUpperCase()} ${path}`);
    }
    const expected = new Set(credentialed().map((r) => `${r.method} ${r.url.replace(/:([^/]+)/g, '{$1}')}`));
    // GET /metrics checks its own operator token instead of a tenant credential.
    expected.add('GET /metrics');
    expect([...documented].sort()).toEqual([...expected].sort());
  });
});

describe('every credentialed route refuses bad credentials', () => {
  it('answers 401 with the envelope and WWW-Authenticate for missing and invalid credentials', async () => {
    for (const route of credentialed()) {
      for (const [what, authorization] of invalidCredentials()) {
        const res = await call(route, authorization);
        const where = `${label(route)} with ${what}`;
        expect(res.status, where).toBe(401);
        expect(res.headers.get('www-authenticate'), where).toBe('Basic realm="tiller"');
        const body = (await res.json()) as { success: boolean; error: { code: string; message: string }; requestId: string };
        expect(body, where).toEqual({ success: false, error: { code: 'unauthorized', message: 'missing or invalid credentials' }, requestId: res.headers.get('x-request-id') });
      }
    }
  });

  it('answers 401 to the other kind of secret where only one kind is accepted', async () => {
    let checked = 0;
    for (const route of credentialed()) {
      if (route.auth !== 'workspace' && route.auth !== 'access') continue;
      const res = await call(route, route.auth === 'workspace' ? `Bearer ${accessToken}` : server.workspaceAuth);
      expect(res.status, label(route)).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Basic realm="tiller"');
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(7);
  });
});
