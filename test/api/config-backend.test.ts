import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type SandboxRuntime } from '../../src/runtime/index.js';
import { camelCaseName, createLibrary, createTransformation, deleteTransformation, trackEvent } from '../helpers/fixtures.js';
import { basicAuth, startTestServer, type TestServer } from '../helpers/server.js';

// The config-backend reads of spec 7.4, as an external rudder-transformer uses them: fetch a
// transformation's code by version id, then the libraries it imports, then run it.

let server: TestServer;
let accessAuth: string;
let runtime: SandboxRuntime;
const transformationCode = `import { double } from 'mathHelpers';\nexport function transformEvent(event) { event.properties.price = double(event.properties.price); return event; }`;
const libraryCode = `export function double(x) { return x * 2; }`;
let transformation: { id: string; versionId: string };
let library: { id: string; versionId: string; importName: string };

interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

async function get(path: string, auth: string | null = accessAuth, base = server.url): Promise<Answer> {
  const res = await fetch(base + path, { headers: auth === null ? {} : { authorization: auth } });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

beforeAll(async () => {
  server = await startTestServer({ env: { TILLER_RUNTIME_PORT: '0' } });
  accessAuth = basicAuth((await server.issueAccessToken({ name: 'transformer', scopes: ['read'] })).token);
  library = await createLibrary(server, { workspaceId: server.workspaceId, name: 'Math Helpers', code: libraryCode });
  transformation = await createTransformation(server, { workspaceId: server.workspaceId, code: transformationCode, name: 'Double prices', description: 'doubles' });
  runtime = createRuntime({ limits: { cpuTimeMs: 1000, wallTimeMs: 2000 } });
});

afterAll(async () => {
  await runtime?.close();
  await server?.close();
});

describe('GET /transformation/getByVersionId', () => {
  it('answers the version\'s code and identity', async () => {
    const res = await get(`/transformation/getByVersionId?versionId=${transformation.versionId}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: transformation.id,
      versionId: transformation.versionId,
      name: 'Double prices',
      description: 'doubles',
      code: transformationCode,
      codeVersion: '1',
      language: 'javascript',
      workspaceId: server.workspaceId,
      imports: ['mathHelpers'],
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    expect(res.headers.get('cache-control')).toContain('immutable');
  });

  it('answers 400 { error: "versionId is required" } when versionId is missing or empty', async () => {
    for (const path of ['/transformation/getByVersionId', '/transformation/getByVersionId?versionId=', '/transformation/getByVersionId?versionId=%20']) {
      const res = await get(path);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('versionId is required');
      expect(res.body.requestId).toBe(res.headers.get('x-request-id'));
    }
  });

  it('answers 404 for an unknown version and keeps serving versions of a deleted transformation', async () => {
    const unknown = await get('/transformation/getByVersionId?versionId=unknown');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ success: false, error: { code: 'not_found' } });
    const doomed = await createTransformation(server, { workspaceId: server.workspaceId, code: `export function transformEvent(e) { return e; }` });
    await deleteTransformation(server, doomed.id);
    expect((await get(`/transformation/getByVersionId?versionId=${doomed.versionId}`)).status).toBe(200);
  });
});

describe('GET /transformationLibrary/getByVersionId', () => {
  it('answers the library version\'s code and import name', async () => {
    const res = await get(`/transformationLibrary/getByVersionId?versionId=${library.versionId}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: library.id,
      versionId: library.versionId,
      name: 'Math Helpers',
      importName: 'mathHelpers',
      description: '',
      code: libraryCode,
      language: 'javascript',
      workspaceId: server.workspaceId,
      createdAt: expect.any(String),
    });
  });

  it('answers 400 without versionId and 404 for an unknown or transformation version id', async () => {
    const missing = await get('/transformationLibrary/getByVersionId');
    expect(missing.status).toBe(400);
    expect(missing.body.error).toBe('versionId is required');
    expect((await get('/transformationLibrary/getByVersionId?versionId=unknown')).status).toBe(404);
    expect((await get(`/transformationLibrary/getByVersionId?versionId=${transformation.versionId}`)).status).toBe(404);
  });
});

describe('config-backend credentials', () => {
  const paths = () => [`/transformation/getByVersionId?versionId=${transformation.versionId}`, `/transformationLibrary/getByVersionId?versionId=${library.versionId}`];

  it('accepts Basic base64(<secret>:) with a workspace or an access token', async () => {
    for (const path of paths()) {
      expect((await get(path, basicAuth(server.workspaceToken))).status).toBe(200);
      expect((await get(path, accessAuth)).status).toBe(200);
    }
  });

  it('answers 401 without credentials on the main listener', async () => {
    for (const path of paths()) {
      const res = await get(path, null);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Basic realm="tiller"');
    }
  });

  it('hides other workspaces\' versions (404), whichever kind of secret the caller holds', async () => {
    const other = await server.createWorkspace('other');
    const otherAccess = basicAuth((await server.issueAccessToken({ name: 'theirs' }, other.workspaceAuth)).token);
    for (const path of paths()) {
      expect((await get(path, other.workspaceAuth)).status).toBe(404);
      expect((await get(path, otherAccess)).status).toBe(404);
    }
  });

  it('needs no credentials on the runtime listener', async () => {
    for (const path of paths()) expect((await get(path, null, server.runtimeUrl)).status).toBe(200);
  });

  it('opens the main listener too when TILLER_RUNTIME_AUTH=none', async () => {
    const open = await startTestServer({ env: { TILLER_RUNTIME_AUTH: 'none' } });
    try {
      const { versionId } = await createTransformation(open, { workspaceId: open.workspaceId, code: `export function transformEvent(e) { return e; }` });
      const res = await fetch(`${open.url}/transformation/getByVersionId?versionId=${versionId}`);
      expect(res.status).toBe(200);
      // The management API stays closed.
      expect((await fetch(`${open.url}/accessTokens`)).status).toBe(401);
    } finally {
      await open.close();
    }
  });
});

/**
 * The statuses an external rudder-transformer acts on (its responseStatusHandler): 200 is the code;
 * 401/403 make it answer rudder-server 503 with X-Rudder-Should-Retry; 5xx makes it ask
 * rudder-server to retry; anything else (404, 429, ...) fails every event of the group for good.
 * So what will clear (the store away, throttling) must answer 5xx with Retry-After, never 429.
 */
describe('config-backend failures rudder-transformer can retry', () => {
  const paths = () => [`/transformation/getByVersionId?versionId=${transformation.versionId}`, `/transformationLibrary/getByVersionId?versionId=${library.versionId}`];
  const expectRetryable = (res: Answer, code: string) => {
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(res.headers.get('x-rudder-should-retry')).toBe('true');
    expect(res.body).toMatchObject({ success: false, error: { code } });
    expect(res.body.requestId).toBe(res.headers.get('x-request-id'));
  };

  /** Makes one method of a service object fail until the returned function restores it. */
  function breakMethod<T extends object>(target: T, name: keyof T & string, failure: () => unknown): () => void {
    const original = (target as Record<string, unknown>)[name];
    (target as Record<string, unknown>)[name] = failure;
    return () => {
      (target as Record<string, unknown>)[name] = original;
    };
  }

  it('answers 503 with Retry-After when the store fails looking the version up, on both listeners', async () => {
    const { resolver } = server.server.services;
    // Versions nobody has read yet, so the cache cannot answer.
    const fresh = await createTransformation(server, { workspaceId: server.workspaceId, code: `export function transformEvent(e) { return e; }` });
    const freshLibrary = await createLibrary(server, { workspaceId: server.workspaceId, name: 'Fresh Library', code: `export const x = 1;` });
    const restore = [
      breakMethod(resolver, 'transformation', async () => Promise.reject(new Error('connection refused'))),
      breakMethod(resolver, 'libraryVersions', async () => Promise.reject(new Error('connection refused'))),
    ];
    try {
      for (const base of [server.url, server.runtimeUrl!]) {
        const auth = base === server.url ? accessAuth : null;
        expectRetryable(await get(`/transformation/getByVersionId?versionId=${fresh.versionId}`, auth, base), 'store_unavailable');
        expectRetryable(await get(`/transformationLibrary/getByVersionId?versionId=${freshLibrary.versionId}`, auth, base), 'store_unavailable');
      }
    } finally {
      for (const undo of restore) undo();
    }
    expect((await get(`/transformation/getByVersionId?versionId=${fresh.versionId}`)).status).toBe(200);
    expect((await get(`/transformationLibrary/getByVersionId?versionId=${freshLibrary.versionId}`)).status).toBe(200);
  });

  it('answers 503 with Retry-After when the store fails while the credential is checked', async () => {
    const { verifier } = server.server.services;
    const restore = breakMethod(verifier, 'verify', async () => Promise.reject(new Error('connection refused')));
    try {
      for (const path of paths()) expectRetryable(await get(path, basicAuth('tlr_at_never-seen-before')), 'unavailable');
    } finally {
      restore();
    }
  });

  it('keeps a wrong or missing secret 401, and an unknown version 404', async () => {
    for (const path of paths()) {
      for (const auth of [null, basicAuth('tlr_at_wrong'), 'Bearer nope']) {
        const res = await get(path, auth);
        expect(res.status).toBe(401);
        expect(res.headers.get('retry-after')).toBeNull();
      }
    }
    for (const path of ['/transformation/getByVersionId?versionId=unknown', '/transformationLibrary/getByVersionId?versionId=unknown']) {
      const res = await get(path);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
  });

  it('answers 503 with Retry-After, never 429, once an address is throttled for failed authentications; a valid secret still passes', async () => {
    const throttled = await startTestServer({ env: { TILLER_AUTH_FAILURE_LIMIT: '2' } });
    try {
      const own = await createTransformation(throttled, { workspaceId: throttled.workspaceId, code: `export function transformEvent(e) { return e; }` });
      const path = `/transformation/getByVersionId?versionId=${own.versionId}`;
      const wrong = basicAuth('tlr_ws_wrong');
      expect((await get(path, wrong, throttled.url)).status).toBe(401);
      expect((await get(path, wrong, throttled.url)).status).toBe(401);
      for (const p of [path, `/transformationLibrary/getByVersionId?versionId=x`]) {
        const res = await get(p, wrong, throttled.url);
        expectRetryable(res, 'too_many_requests');
      }
      expect((await get(path, throttled.workspaceAuth, throttled.url)).status).toBe(200);
      // Other routes keep the throttle's 429.
      expect((await fetch(`${throttled.url}/accessTokens`, { headers: { authorization: wrong } })).status).toBe(429);
    } finally {
      await throttled.close();
    }
  });
});

/**
 * What rudder-transformer does with CONFIG_BACKEND_URL: fetch the transformation by version id,
 * fetch each library version the request lists, keep those whose camelCased name the code imports,
 * and run the code with them.
 */
async function runLikeRudderTransformer(base: string, auth: string | null, versionId: string, libraryVersionIds: string[], events: unknown[]) {
  const headers = auth === null ? undefined : { authorization: auth };
  const codeResponse = await fetch(`${base}/transformation/getByVersionId?versionId=${encodeURIComponent(versionId)}`, { headers });
  if (codeResponse.status !== 200) throw new Error(`transformation fetch answered ${codeResponse.status}`);
  const code = (await codeResponse.json()) as { versionId: string; code: string; codeVersion: string; workspaceId: string; imports: string[] };
  const libraries = [];
  for (const id of libraryVersionIds) {
    const res = await fetch(`${base}/transformationLibrary/getByVersionId?versionId=${encodeURIComponent(id)}`, { headers });
    if (res.status !== 200) throw new Error(`library fetch answered ${res.status}`);
    const lib = (await res.json()) as { versionId: string; name: string; importName: string; code: string };
    // rudder-transformer derives the import name from the name; both must agree.
    expect(camelCaseName(lib.name)).toBe(lib.importName);
    if (code.imports.includes(lib.importName)) libraries.push({ versionId: lib.versionId, importName: lib.importName, code: lib.code });
  }
  return runtime.run({ workspaceId: code.workspaceId, transformation: { versionId: code.versionId, code: code.code, codeVersion: code.codeVersion }, libraries, events });
}

describe('an external rudder-transformer-like consumer', () => {
  it('fetches a transformation and its library by version id and runs them', async () => {
    const output = await runLikeRudderTransformer(server.url, accessAuth, transformation.versionId, [library.versionId], [trackEvent(0), trackEvent(1)]);
    expect(output.results.map((r) => (r.statusCode === 200 ? (r.output.properties as { price: number }).price : r.error))).toEqual([2 * 19.99, 2 * 20.99]);
  });

  it('works the same without credentials against the runtime listener', async () => {
    const output = await runLikeRudderTransformer(server.runtimeUrl!, null, transformation.versionId, [library.versionId], [trackEvent(4)]);
    expect(output.results).toHaveLength(1);
    expect(output.results[0]!.statusCode).toBe(200);
  });
});
