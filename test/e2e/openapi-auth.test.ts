import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSecret } from '../../src/domain/secrets.js';
import { basicAuth, startTestServer, type TestServer } from '../helpers/server.js';

// One walk over every operation in /openapi.json: each one that declares `security` must refuse
// missing and invalid credentials with the one 401. Routes added later are covered by the walk.

interface Operation {
  security?: Record<string, unknown>[];
  parameters?: { in: string; name: string; required?: boolean; schema?: JsonSchema }[];
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
}
interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  minimum?: number;
  minLength?: number;
  default?: unknown;
}

const DUMMY_ID = '0VcAAAAAAAAAAAAAAAAAAAAAAAA';

/** A value that satisfies the schema well enough to look like a real call. */
function example(schema: JsonSchema | undefined, depth = 0): unknown {
  if (!schema || depth > 6) return null;
  if (schema.default !== undefined) return schema.default;
  if (schema.const !== undefined) return schema.const;
  if (schema.enum?.length) return schema.enum[0];
  const variant = schema.anyOf?.[0] ?? schema.oneOf?.[0];
  if (variant) return example(variant, depth + 1);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(schema.properties ?? {})) if (schema.required?.includes(key)) out[key] = example(value, depth + 1);
      return out;
    }
    case 'array':
      return [example(schema.items, depth + 1)];
    case 'integer':
    case 'number':
      return schema.minimum ?? 1;
    case 'boolean':
      return true;
    case 'string':
      return 'x'.repeat(Math.max(1, schema.minLength ?? 1));
    default:
      return schema.properties ? example({ ...schema, type: 'object' }, depth) : 'x';
  }
}

let server: TestServer;
let operations: { method: string; path: string; url: string; body: string | undefined; schemes: string[] }[];
let accessToken: string;

beforeAll(async () => {
  server = await startTestServer();
  accessToken = (await server.issueAccessToken({ name: 'walker' })).token;
  const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, Operation>> };
  operations = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      if (!operation.security?.length) continue;
      let url = path.replace(/\{[^}]+\}/g, DUMMY_ID);
      const query = (operation.parameters ?? []).filter((p) => p.in === 'query' && p.required).map((p) => `${encodeURIComponent(p.name)}=${encodeURIComponent(String(example(p.schema)))}`);
      if (query.length) url += `?${query.join('&')}`;
      const schema = operation.requestBody?.content?.['application/json']?.schema;
      operations.push({
        method: method.toUpperCase(),
        path,
        url,
        body: operation.requestBody ? JSON.stringify(example(schema) ?? {}) : undefined,
        schemes: operation.security.flatMap((s) => Object.keys(s)),
      });
    }
  }
});
afterAll(async () => {
  await server?.close();
});

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

describe('every secured route in /openapi.json refuses bad credentials', () => {
  it('lists at least the access-token and audit routes, each with security', () => {
    const listed = new Set(operations.map((o) => `${o.method} ${o.path}`));
    for (const route of ['POST /accessTokens', 'GET /accessTokens', 'DELETE /accessTokens', 'GET /accessTokens/self', 'DELETE /accessTokens/{id}', 'POST /accessTokens/{id}/rotate', 'GET /auditLog']) {
      expect(listed, route).toContain(route);
    }
  });

  it('answers 401 with the envelope and WWW-Authenticate for missing and invalid credentials', async () => {
    for (const operation of operations) {
      for (const [label, authorization] of invalidCredentials()) {
        const headers: Record<string, string> = {};
        if (authorization !== undefined) headers.authorization = authorization;
        if (operation.body !== undefined) headers['content-type'] = 'application/json';
        const res = await fetch(server.url + operation.url, { method: operation.method, headers, body: operation.body });
        const where = `${operation.method} ${operation.path} with ${label}`;
        expect(res.status, where).toBe(401);
        expect(res.headers.get('www-authenticate'), where).toBe('Basic realm="tiller"');
        const body = (await res.json()) as { success: boolean; error: { code: string; message: string }; requestId: string };
        expect(body, where).toEqual({ success: false, error: { code: 'unauthorized', message: 'missing or invalid credentials' }, requestId: res.headers.get('x-request-id') });
      }
    }
  });

  it('answers 401 to the other kind of secret where only one kind is accepted', async () => {
    let checked = 0;
    for (const operation of operations) {
      const workspaceOnly = operation.schemes.every((s) => s === 'workspaceToken');
      const accessOnly = operation.schemes.every((s) => s.startsWith('accessToken'));
      if (!workspaceOnly && !accessOnly) continue;
      const authorization = workspaceOnly ? `Bearer ${accessToken}` : server.workspaceAuth;
      const headers: Record<string, string> = { authorization };
      if (operation.body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(server.url + operation.url, { method: operation.method, headers, body: operation.body });
      expect(res.status, `${operation.method} ${operation.path}`).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Basic realm="tiller"');
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(7);
  });
});
