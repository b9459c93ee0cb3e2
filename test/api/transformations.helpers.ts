// A small HTTP client for the Transformations API suites: every call goes over real HTTP to a
// server started by startTestServer, and answers status, parsed body and headers.

import { expect } from 'vitest';
import { startTestServer, type TestServer, type TestServerOptions } from '../helpers/server.js';

export interface Answer<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface Client {
  call<T = any>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Answer<T>>;
  get<T = any>(path: string): Promise<Answer<T>>;
  post<T = any>(path: string, body?: unknown): Promise<Answer<T>>;
  del<T = any>(path: string): Promise<Answer<T>>;
}

export function client(baseUrl: string, authorization: string | undefined): Client {
  const call = async <T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer<T>> => {
    const res = await fetch(baseUrl + path, {
      method,
      headers: {
        ...(authorization ? { authorization } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // Not JSON: the raw text is the body.
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  };
  return {
    call,
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body ?? {}),
    del: (path) => call('DELETE', path),
  };
}

export interface Catalog {
  server: TestServer;
  /** A read+write access token's client (Bearer). */
  api: Client;
  tokenId: string;
  token: string;
}

/** A server with one workspace and a read+write access token. */
export async function startCatalog(options: TestServerOptions = {}): Promise<Catalog> {
  const server = await startTestServer(options);
  const { token, id } = await server.issueAccessToken({ name: 'ci', scopes: ['read', 'write'] });
  return { server, api: client(server.url, `Bearer ${token}`), tokenId: id, token };
}

export const passThrough = 'export function transformEvent(event, metadata) {\n  return event;\n}\n';

/** Code that tags each event with `tag`, so versions can be told apart by their output. */
export const tagging = (tag: string) => `export function transformEvent(event) {\n  event.tag = ${JSON.stringify(tag)};\n  return event;\n}\n`;

export async function createTransformation(api: Client, body: Record<string, unknown>, publish = false): Promise<{ id: string; versionId: string }> {
  const answer = await api.post(`/transformations?publish=${publish}`, { name: `t-${Math.random().toString(36).slice(2, 8)}`, code: passThrough, ...body });
  if (answer.status !== 200) throw new Error(`create transformation: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
}

export async function createLibrary(api: Client, body: Record<string, unknown>, publish = false): Promise<{ id: string; versionId: string; importName: string }> {
  const answer = await api.post(`/libraries?publish=${publish}`, body);
  if (answer.status !== 200) throw new Error(`create library: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
}

/** The shape of every error answer (spec section 3). */
export function expectEnvelope(answer: Answer, status: number, code?: string): void {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.body).toMatchObject({ success: false, error: { message: expect.any(String), code: expect.any(String) }, requestId: expect.any(String) });
  expect(answer.headers.get('x-request-id')).toBe(answer.body.requestId);
  if (code !== undefined) expect(answer.body.error.code, JSON.stringify(answer.body)).toBe(code);
}
