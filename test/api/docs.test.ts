import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe('GET /openapi.json and /docs', () => {
  it('GET /openapi.json describes the access-token routes with their security', async () => {
    const res = await fetch(`${server.url}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, { security?: unknown[] }>> };
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.paths['/accessTokens']?.post?.security).toEqual([{ workspaceToken: [] }]);
    expect(doc.paths['/accessTokens']?.get?.security).toEqual([{ workspaceToken: [] }]);
    expect(doc.paths['/accessTokens']?.delete?.security).toEqual([{ workspaceToken: [] }]);
    expect(doc.paths['/accessTokens/{id}']?.delete).toBeDefined();
    expect(doc.paths['/accessTokens/{id}/rotate']?.post).toBeDefined();
    expect(doc.paths['/accessTokens/self']?.get?.security).toEqual([{ accessTokenBasic: [] }, { accessTokenBearer: [] }]);
    expect(doc.paths['/auditLog']?.get).toBeDefined();
    expect(doc.paths['/health']?.get?.security).toBeUndefined();
    // OpenAPI 3.0 has no null type: nullable fields are declared with nullable: true.
    const entry = (doc.paths['/accessTokens/self']?.get as unknown as { responses: Record<string, { content: Record<string, { schema: { properties: Record<string, unknown> } }> }> }).responses['200']!.content['application/json']!.schema.properties;
    expect(entry.lastUsedAt).toMatchObject({ type: 'string', format: 'date-time', nullable: true });
    expect(entry.allowedIps).toMatchObject({ type: 'array', nullable: true });
  });

  it('/docs answers HTML', async () => {
    const res = await fetch(`${server.url}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(await res.text()).toMatch(/<html/i);
  });
});
