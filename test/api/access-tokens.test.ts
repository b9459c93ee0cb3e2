import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuth, startTestServer, type TestServer } from '../helpers/server.js';

// The compat calls of the seed document (POST, GET, DELETE /accessTokens) and the ext calls
// (revoke by id, rotate, self), route by route: the happy path, every 4xx, the security cases.

interface Answer {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

let server: TestServer;

async function call(method: string, path: string, options: { auth?: string | null; body?: unknown; raw?: string; contentType?: string | null; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  const auth = options.auth === undefined ? server.workspaceAuth : options.auth;
  if (auth !== null) headers.authorization = auth;
  let body: string | undefined;
  if (options.raw !== undefined) body = options.raw;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  const contentType = options.contentType === undefined ? (body !== undefined ? 'application/json' : null) : options.contentType;
  if (contentType !== null) headers['content-type'] = contentType;
  const res = await fetch(server.url + path, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

function expectError(answer: Answer, status: number, code?: string) {
  expect(answer.status).toBe(status);
  expect(answer.body).toMatchObject({ success: false, error: { code: expect.any(String), message: expect.any(String) }, requestId: expect.any(String) });
  expect(answer.headers.get('x-request-id')).toBe(answer.body.requestId);
  if (code) expect(answer.body.error.code).toBe(code);
}

function expectUnauthorized(answer: Answer) {
  expectError(answer, 401, 'unauthorized');
  expect(answer.headers.get('www-authenticate')).toBe('Basic realm="tiller"');
}

const bearer = (token: string) => `Bearer ${token}`;
const self = (token: string, headers: Record<string, string> = {}) => call('GET', '/accessTokens/self', { auth: bearer(token), headers });

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe('POST /accessTokens (compat)', () => {
  it('issues a token from the seed body and answers the compat shape with ext fields inside data', async () => {
    const answer = await call('POST', '/accessTokens', { body: { name: 'some-test-access-token', description: 'some-description' } });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      success: true,
      data: {
        token: expect.stringMatching(/^tlr_at_[0-9A-Za-z]{36}$/),
        id: expect.any(String),
        name: 'some-test-access-token',
        description: 'some-description',
        scopes: ['read', 'write'],
        hint: expect.stringMatching(/^tlr_at_…[0-9A-Za-z]{4}$/),
        createdAt: expect.any(String),
        expiresAt: null,
      },
    });
    expect(answer.body.data.hint.endsWith(answer.body.data.token.slice(-4))).toBe(true);
    expect(answer.headers.get('x-request-id')).toBeTruthy();
    expect((await self(answer.body.data.token)).status).toBe(200);
  });

  it('accepts the name alone', async () => {
    const answer = await call('POST', '/accessTokens', { body: { name: 'only-a-name' } });
    expect(answer.status).toBe(200);
    expect(answer.body.data.description).toBe('');
  });

  it('trims the name and keeps Unicode exactly', async () => {
    const name = 'Ünïcødé 名前 🚀 עברית e\u0301';
    const description = 'line one\nline two\ttabbed — «quoted» 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \u202e';
    const answer = await call('POST', '/accessTokens', { body: { name: `  ${name}\t `, description } });
    expect(answer.status).toBe(200);
    expect(answer.body.data.name).toBe(name);
    const list = await call('GET', '/accessTokens');
    const entry = list.body.find((t: { id: string }) => t.id === answer.body.data.id);
    expect(entry.name).toBe(name);
    expect(entry.description).toBe(description);
  });

  it('treats SQL metacharacters as plain characters', async () => {
    const names = ["x'; DROP TABLE access_tokens; --", 'a%', 'a_', 'ab', 'back\\slash', '"quoted"', 'semi;colon'];
    for (const name of names) expect((await call('POST', '/accessTokens', { body: { name, description: "O'Reilly %_ \\" } })).status).toBe(200);
    const list = await call('GET', '/accessTokens');
    for (const name of names) expect(list.body.filter((t: { name: string }) => t.name === name)).toHaveLength(1);
    // A LIKE pattern would match "ab" too; names match exactly.
    const deleted = await call('DELETE', `/accessTokens?name=${encodeURIComponent('a%')}`);
    expect(deleted.body).toEqual({ success: true, deleted: 1 });
    const after = await call('GET', '/accessTokens');
    expect(after.body.some((t: { name: string }) => t.name === 'ab')).toBe(true);
    expect(after.body.some((t: { name: string }) => t.name === "x'; DROP TABLE access_tokens; --")).toBe(true);
  });

  it('accepts names of exactly 100 characters, counted as characters not UTF-16 units', async () => {
    expect((await call('POST', '/accessTokens', { body: { name: 'n'.repeat(100) } })).status).toBe(200);
    expect((await call('POST', '/accessTokens', { body: { name: '🚀'.repeat(100) } })).status).toBe(200);
    expect((await call('POST', '/accessTokens', { body: { name: ` ${'n'.repeat(100)} ` } })).status).toBe(200);
    expect((await call('POST', '/accessTokens', { body: { name: 'x', description: '🚀'.repeat(1000) } })).status).toBe(200);
  });

  it.each([
    ['no name', { description: 'x' }, 'missing_field', 'name'],
    ['an empty name', { name: '' }, 'invalid_field', 'name'],
    ['a blank name', { name: '   \t ' }, 'invalid_field', 'name'],
    ['a 101-character name', { name: 'n'.repeat(101) }, 'invalid_field', 'name'],
    ['a name that is not a string', { name: 42 }, 'invalid_field', 'name'],
    ['a null name', { name: null }, 'invalid_field', 'name'],
    ['a name with a NUL', { name: 'a\u0000b' }, 'invalid_field', 'name'],
    ['a name with a newline', { name: 'a\nb' }, 'invalid_field', 'name'],
    ['a 1001-character description', { name: 'x', description: 'd'.repeat(1001) }, 'invalid_field', 'description'],
    ['a description with a NUL', { name: 'x', description: 'a\u0000b' }, 'invalid_field', 'description'],
    ['a description that is not a string', { name: 'x', description: ['d'] }, 'invalid_field', 'description'],
    ['unknown scopes', { name: 'x', scopes: ['admin'] }, 'invalid_field', 'scopes'],
    ['empty scopes', { name: 'x', scopes: [] }, 'invalid_field', 'scopes'],
    ['expiresAt in the past', { name: 'x', expiresAt: '2001-01-01T00:00:00Z' }, 'invalid_field', 'expiresAt'],
    ['expiresAt that is not a date', { name: 'x', expiresAt: 'tomorrow' }, 'invalid_field', 'expiresAt'],
    ['both expiresAt and expiresInDays', { name: 'x', expiresAt: '2999-01-01T00:00:00Z', expiresInDays: 3 }, 'invalid_field', 'expiresAt'],
    ['expiresInDays of 0', { name: 'x', expiresInDays: 0 }, 'invalid_field', 'expiresInDays'],
    ['fractional expiresInDays', { name: 'x', expiresInDays: 1.5 }, 'invalid_field', 'expiresInDays'],
    ['expiresInDays as text', { name: 'x', expiresInDays: '3' }, 'invalid_field', 'expiresInDays'],
    ['an allowedIps entry that is no CIDR', { name: 'x', allowedIps: ['10.0.0.0/33'] }, 'invalid_field', 'allowedIps'],
    ['an allowedIps host name', { name: 'x', allowedIps: ['example.com'] }, 'invalid_field', 'allowedIps'],
    ['an allowedIps zone id', { name: 'x', allowedIps: ['fe80::1%eth0'] }, 'invalid_field', 'allowedIps'],
    ['empty allowedIps', { name: 'x', allowedIps: [] }, 'invalid_field', 'allowedIps'],
    ['an email that is none', { name: 'x', email: 'not-an-email' }, 'invalid_field', 'email'],
  ])('answers 400 for %s', async (_label, body, code, field) => {
    const answer = await call('POST', '/accessTokens', { body });
    expectError(answer, 400, code);
    expect(answer.body.error.field).toBe(field);
    expect(answer.body.error.message).toContain(field);
  });

  it('answers 400 "name is required" with the spec envelope', async () => {
    const answer = await call('POST', '/accessTokens', { body: {} });
    expectError(answer, 400, 'missing_field');
    expect(answer.body.error.message).toBe('name is required');
  });

  it('refuses a lone surrogate (it could not round-trip) with 400', async () => {
    const answer = await call('POST', '/accessTokens', { raw: '{"name":"x\\ud800y"}' });
    expectError(answer, 400, 'invalid_field');
  });

  it.each([
    ['truncated JSON', '{"name": "x"'],
    ['not JSON at all', 'name=x'],
    ['a JSON array', '[{"name":"x"}]'],
    ['JSON null', 'null'],
    ['a JSON string', '"x"'],
  ])('answers 400 for a body that is %s', async (_label, raw) => {
    expectError(await call('POST', '/accessTokens', { raw }), 400);
  });

  it('answers 400 for no body at all', async () => {
    expectError(await call('POST', '/accessTokens', { contentType: null }), 400);
    expectError(await call('POST', '/accessTokens', { raw: '', contentType: 'application/json' }), 400);
  });

  it('refuses prototype-poisoning keys with 400', async () => {
    expectError(await call('POST', '/accessTokens', { raw: '{"name":"x","__proto__":{"admin":true}}' }), 400);
  });

  it.each(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml'])('answers 415 for Content-Type %s', async (contentType) => {
    expectError(await call('POST', '/accessTokens', { raw: '{"name":"x"}', contentType }), 415, 'unsupported_media_type');
  });

  it('accepts application/json with a charset', async () => {
    expect((await call('POST', '/accessTokens', { raw: '{"name":"charset"}', contentType: 'application/json; charset=utf-8' })).status).toBe(200);
  });

  it('answers 413 for a body over the limit', async () => {
    const answer = await call('POST', '/accessTokens', { body: { name: 'x', description: 'd'.repeat(server.config.bodyLimitBytes + 10) } });
    expectError(answer, 413, 'body_too_large');
  });

  it('does not read the body of an unauthenticated caller: 401 before 413, 415 or 400', async () => {
    expectUnauthorized(await call('POST', '/accessTokens', { auth: null, body: { name: 'x', description: 'd'.repeat(server.config.bodyLimitBytes + 10) } }));
    expectUnauthorized(await call('POST', '/accessTokens', { auth: null, raw: 'x', contentType: 'text/plain' }));
    expectUnauthorized(await call('POST', '/accessTokens', { auth: null, raw: '{' }));
  });

  it('refuses an access token (wrong kind) with 401', async () => {
    const { token } = await server.issueAccessToken({ name: 'not-a-workspace-token' });
    expectUnauthorized(await call('POST', '/accessTokens', { auth: basicAuth(token), body: { name: 'x' } }));
    expectUnauthorized(await call('POST', '/accessTokens', { auth: bearer(token), body: { name: 'x' } }));
  });

  it('issues a token for another member with email, and that member is its userId', async () => {
    const answer = await call('POST', '/accessTokens', { body: { name: 'for-dev', email: 'Dev@Example.com' } });
    expect(answer.status).toBe(200);
    const list = (await call('GET', '/accessTokens')).body as { id: string; userId: string; email: string }[];
    const entry = list.find((t) => t.id === answer.body.data.id)!;
    const owner = list.find((t) => t.email !== 'dev@example.com')!;
    expect(entry.email).toBe('dev@example.com');
    expect(entry.userId).not.toBe(owner.userId);
    // A second token for the same member shares the userId.
    const again = await call('POST', '/accessTokens', { body: { name: 'for-dev-2', email: 'dev@example.com' } });
    const list2 = (await call('GET', '/accessTokens')).body as { id: string; userId: string }[];
    expect(list2.find((t) => t.id === again.body.data.id)!.userId).toBe(entry.userId);
  });

  it('issues for a new member twice at once without a conflict', async () => {
    const answers = await Promise.all([1, 2, 3].map((i) => call('POST', '/accessTokens', { body: { name: `race-${i}`, email: 'race@example.com' } })));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
  });

  it('sets expiresAt from expiresInDays', async () => {
    const before = Date.now();
    const answer = await call('POST', '/accessTokens', { body: { name: 'days', expiresInDays: 7 } });
    expect(answer.status).toBe(200);
    const expires = Date.parse(answer.body.data.expiresAt);
    expect(expires).toBeGreaterThanOrEqual(before + 7 * 86_400_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 7 * 86_400_000);
  });

  it('keeps an explicit expiresAt, normalized to UTC', async () => {
    const answer = await call('POST', '/accessTokens', { body: { name: 'at', expiresAt: '2999-06-01T12:00:00+02:00' } });
    expect(answer.body.data.expiresAt).toBe('2999-06-01T10:00:00.000Z');
  });
});

describe('GET /accessTokens (compat)', () => {
  let other: { workspaceId: string; workspaceAuth: string };

  beforeAll(async () => {
    other = await server.createWorkspace('other');
    await server.issueAccessToken({ name: 'theirs' }, other.workspaceAuth);
  });

  it('answers a bare array with the compat fields and never a secret', async () => {
    const issued = await call('POST', '/accessTokens', { body: { name: 'listed' } });
    const answer = await call('GET', '/accessTokens');
    expect(answer.status).toBe(200);
    expect(Array.isArray(answer.body)).toBe(true);
    const entry = answer.body.find((t: { id: string }) => t.id === issued.body.data.id);
    expect(entry).toEqual({
      name: 'listed',
      description: '',
      userId: expect.any(String),
      id: issued.body.data.id,
      hint: issued.body.data.hint,
      scopes: ['read', 'write'],
      createdAt: issued.body.data.createdAt,
      expiresAt: null,
      lastUsedAt: null,
      lastUsedIp: null,
      status: 'active',
      graceUntil: null,
      allowedIps: null,
      email: expect.stringContaining('@'),
    });
    expect(answer.text).not.toContain(issued.body.data.token);
    expect(answer.text).not.toContain(issued.body.data.token.slice(7, 30));
    expect(answer.text).not.toContain(Buffer.from(`${issued.body.data.token}:`).toString('base64'));
    expect(answer.text).not.toContain('digest');
  });

  it('lists only the caller\'s workspace', async () => {
    const mine = (await call('GET', '/accessTokens')).body as { name: string }[];
    const theirs = (await call('GET', '/accessTokens', { auth: other.workspaceAuth })).body as { name: string }[];
    expect(mine.some((t) => t.name === 'theirs')).toBe(false);
    expect(theirs.map((t) => t.name)).toEqual(['theirs']);
  });

  it('answers an empty array for a workspace without tokens', async () => {
    const empty = await server.createWorkspace('empty');
    const answer = await call('GET', '/accessTokens', { auth: empty.workspaceAuth });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual([]);
  });

  it('no longer lists deleted tokens', async () => {
    await call('POST', '/accessTokens', { body: { name: 'soon-gone' } });
    await call('DELETE', '/accessTokens?name=soon-gone');
    const list = (await call('GET', '/accessTokens')).body as { name: string }[];
    expect(list.some((t) => t.name === 'soon-gone')).toBe(false);
  });

  it('succeeds with Content-Type: application/json and an empty body, as copied commands send', async () => {
    expect((await call('GET', '/accessTokens', { contentType: 'application/json' })).status).toBe(200);
  });

  it('guards HEAD as it guards GET', async () => {
    const anonymous = await fetch(`${server.url}/accessTokens`, { method: 'HEAD' });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Basic realm="tiller"');
    expect((await fetch(`${server.url}/accessTokens`, { method: 'HEAD', headers: { authorization: server.workspaceAuth } })).status).toBe(200);
  });

  it('refuses no credentials and an access token with 401', async () => {
    const { token } = await server.issueAccessToken({ name: 'wrong-kind' });
    expectUnauthorized(await call('GET', '/accessTokens', { auth: null }));
    expectUnauthorized(await call('GET', '/accessTokens', { auth: basicAuth(token) }));
    expectUnauthorized(await call('GET', '/accessTokens', { auth: basicAuth('', token) }));
  });
});

describe('DELETE /accessTokens?name= (compat)', () => {
  it('deletes every token with that name and answers { success: true, deleted }', async () => {
    const a = await server.issueAccessToken({ name: 'twin' });
    const b = await server.issueAccessToken({ name: 'twin' });
    const keep = await server.issueAccessToken({ name: 'twin-not' });
    const answer = await call('DELETE', '/accessTokens?name=twin');
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ success: true, deleted: 2 });
    expectUnauthorized(await self(a.token));
    expectUnauthorized(await self(b.token));
    expect((await self(keep.token)).status).toBe(200);
  });

  it('matches the trimmed name', async () => {
    await server.issueAccessToken({ name: 'spaced' });
    expect((await call('DELETE', `/accessTokens?name=${encodeURIComponent('  spaced ')}`)).body).toEqual({ success: true, deleted: 1 });
  });

  it('deletes Unicode names given percent-encoded', async () => {
    await server.issueAccessToken({ name: 'jeton 🚀 é' });
    expect((await call('DELETE', `/accessTokens?name=${encodeURIComponent('jeton 🚀 é')}`)).body).toEqual({ success: true, deleted: 1 });
  });

  it('answers 404 with the envelope when nothing matches, also the second time', async () => {
    expectError(await call('DELETE', '/accessTokens?name=never-existed'), 404, 'not_found');
    await server.issueAccessToken({ name: 'once' });
    expect((await call('DELETE', '/accessTokens?name=once')).status).toBe(200);
    expectError(await call('DELETE', '/accessTokens?name=once'), 404, 'not_found');
  });

  it('cannot reach another workspace\'s tokens: 404, and theirs keeps working', async () => {
    const other = await server.createWorkspace('victim');
    const theirs = await server.issueAccessToken({ name: 'their-token' }, other.workspaceAuth);
    expectError(await call('DELETE', '/accessTokens?name=their-token'), 404);
    expect((await self(theirs.token)).status).toBe(200);
  });

  it.each([
    ['no name', '/accessTokens', 'missing_field'],
    ['an empty name', '/accessTokens?name=', 'invalid_field'],
    ['a blank name', '/accessTokens?name=%20%20', 'invalid_field'],
  ])('answers 400 for %s', async (_label, path, code) => {
    expectError(await call('DELETE', path), 400, code);
  });

  it('succeeds with Content-Type: application/json and an empty body', async () => {
    await server.issueAccessToken({ name: 'ct-delete' });
    const answer = await call('DELETE', '/accessTokens?name=ct-delete', { contentType: 'application/json', raw: '' });
    expect(answer.body).toEqual({ success: true, deleted: 1 });
    await server.issueAccessToken({ name: 'ct-delete-2' });
    expect((await call('DELETE', '/accessTokens?name=ct-delete-2', { contentType: 'application/json' })).status).toBe(200);
  });

  it('refuses no credentials and an access token with 401', async () => {
    const { token } = await server.issueAccessToken({ name: 'delete-me-not' });
    expectUnauthorized(await call('DELETE', '/accessTokens?name=delete-me-not', { auth: null }));
    expectUnauthorized(await call('DELETE', '/accessTokens?name=delete-me-not', { auth: bearer(token) }));
    expect((await self(token)).status).toBe(200);
  });
});

describe('DELETE /accessTokens/{id} (ext)', () => {
  it('revokes one token at once and answers { success: true }', async () => {
    const a = await server.issueAccessToken({ name: 'same' });
    const b = await server.issueAccessToken({ name: 'same' });
    expect((await self(a.token)).status).toBe(200); // now cached
    const answer = await call('DELETE', `/accessTokens/${a.id}`);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ success: true });
    expectUnauthorized(await self(a.token));
    expect((await self(b.token)).status).toBe(200);
  });

  it('answers 404 for an unknown id, a revoked one and another workspace\'s', async () => {
    expectError(await call('DELETE', '/accessTokens/0000000000000000000000000000'), 404, 'not_found');
    const gone = await server.issueAccessToken({ name: 'gone' });
    await call('DELETE', `/accessTokens/${gone.id}`);
    expectError(await call('DELETE', `/accessTokens/${gone.id}`), 404, 'not_found');
    const other = await server.createWorkspace('neighbour');
    const theirs = await server.issueAccessToken({ name: 'theirs' }, other.workspaceAuth);
    expectError(await call('DELETE', `/accessTokens/${theirs.id}`), 404, 'not_found');
    expect((await self(theirs.token)).status).toBe(200);
  });

  it('answers 400 for an id longer than ids can be', async () => {
    expectError(await call('DELETE', `/accessTokens/${'x'.repeat(65)}`), 400);
  });

  it('refuses no credentials and an access token with 401', async () => {
    const { token, id } = await server.issueAccessToken({ name: 'keep' });
    expectUnauthorized(await call('DELETE', `/accessTokens/${id}`, { auth: null }));
    expectUnauthorized(await call('DELETE', `/accessTokens/${id}`, { auth: bearer(token) }));
    expect((await self(token)).status).toBe(200);
  });
});

describe('POST /accessTokens/{id}/rotate (ext)', () => {
  it('issues a new secret with the same name, scopes and expiry; without grace the old one stops at once', async () => {
    const issued = await call('POST', '/accessTokens', { body: { name: 'rotate-me', description: 'd', scopes: ['read'], expiresInDays: 30 } });
    const old = issued.body.data;
    expect((await self(old.token)).status).toBe(200);
    const answer = await call('POST', `/accessTokens/${old.id}/rotate`, { body: {} });
    expect(answer.status).toBe(200);
    const fresh = answer.body.data;
    expect(fresh).toMatchObject({ name: 'rotate-me', description: 'd', scopes: ['read'], expiresAt: old.expiresAt });
    expect(fresh.token).not.toBe(old.token);
    expect(fresh.id).not.toBe(old.id);
    expectUnauthorized(await self(old.token));
    expect((await self(fresh.token)).status).toBe(200);
    const list = (await call('GET', '/accessTokens')).body as { id: string }[];
    expect(list.some((t) => t.id === old.id)).toBe(false);
    expect(list.some((t) => t.id === fresh.id)).toBe(true);
  });

  it('accepts no body, an empty JSON body and gracePeriodSeconds 0', async () => {
    for (const options of [{ contentType: null }, { contentType: 'application/json', raw: '' }, { body: { gracePeriodSeconds: 0 } }] as const) {
      const { id } = await server.issueAccessToken({ name: 'rotate-bodies' });
      expect((await call('POST', `/accessTokens/${id}/rotate`, options)).status).toBe(200);
    }
  });

  it('keeps the old secret working during the grace period, shown as rotating', async () => {
    const old = await server.issueAccessToken({ name: 'graceful' });
    const answer = await call('POST', `/accessTokens/${old.id}/rotate`, { body: { gracePeriodSeconds: 3600 } });
    expect(answer.status).toBe(200);
    expect((await self(old.token)).status).toBe(200);
    expect((await self(answer.body.data.token)).status).toBe(200);
    const list = (await call('GET', '/accessTokens')).body as { id: string; status: string; graceUntil: string | null }[];
    expect(list.find((t) => t.id === old.id)!.status).toBe('rotating');
    expect(list.find((t) => t.id === answer.body.data.id)!.status).toBe('active');
    // When the old secret stops: in the rotation's answer and on the list, the same instant.
    const { replaced } = answer.body.data as { replaced: { id: string; graceUntil: string } };
    expect(replaced.id).toBe(old.id);
    expect(Math.abs(Date.parse(replaced.graceUntil) - (Date.now() + 3600_000))).toBeLessThan(60_000);
    expect(list.find((t) => t.id === old.id)!.graceUntil).toBe(replaced.graceUntil);
    expect(list.find((t) => t.id === answer.body.data.id)!.graceUntil).toBeNull();
    // Rotating the outgoing secret again would fork the chain.
    expectError(await call('POST', `/accessTokens/${old.id}/rotate`, { body: {} }), 409, 'already_rotated');
    // The incoming one can be rotated.
    expect((await call('POST', `/accessTokens/${answer.body.data.id}/rotate`, { body: {} })).status).toBe(200);
  });

  it.each([
    ['negative', { gracePeriodSeconds: -1 }],
    ['over a week', { gracePeriodSeconds: 604_801 }],
    ['fractional', { gracePeriodSeconds: 1.5 }],
    ['text', { gracePeriodSeconds: '10' }],
  ])('answers 400 for a %s grace period', async (_label, body) => {
    const { id, token } = await server.issueAccessToken({ name: 'bad-grace' });
    const answer = await call('POST', `/accessTokens/${id}/rotate`, { body });
    expectError(answer, 400);
    expect(answer.body.error.field).toBe('gracePeriodSeconds');
    expect((await self(token)).status).toBe(200);
  });

  it('answers 400 for malformed JSON and 415 for another content type', async () => {
    const { id } = await server.issueAccessToken({ name: 'bad-body' });
    expectError(await call('POST', `/accessTokens/${id}/rotate`, { raw: '{' }), 400, 'invalid_json');
    expectError(await call('POST', `/accessTokens/${id}/rotate`, { raw: 'gracePeriodSeconds=1', contentType: 'application/x-www-form-urlencoded' }), 415);
  });

  it('answers 404 for an unknown id and for another workspace\'s token', async () => {
    expectError(await call('POST', '/accessTokens/0000000000000000000000000000/rotate', { body: {} }), 404);
    const other = await server.createWorkspace('rotate-victim');
    const theirs = await server.issueAccessToken({ name: 'theirs' }, other.workspaceAuth);
    expectError(await call('POST', `/accessTokens/${theirs.id}/rotate`, { body: {} }), 404);
    expect((await self(theirs.token)).status).toBe(200);
  });

  it('refuses no credentials and an access token with 401', async () => {
    const { token, id } = await server.issueAccessToken({ name: 'no-self-rotation' });
    expectUnauthorized(await call('POST', `/accessTokens/${id}/rotate`, { auth: null, body: {} }));
    expectUnauthorized(await call('POST', `/accessTokens/${id}/rotate`, { auth: bearer(token), body: {} }));
  });
});

describe('GET /accessTokens/self (ext)', () => {
  it('answers the calling token as a list entry, for every access-token form', async () => {
    const { token, id } = await server.issueAccessToken({ name: 'me', description: 'mine' });
    const list = (await call('GET', '/accessTokens')).body as { email: string }[];
    const ownerEmail = list[0]!.email;
    for (const auth of [bearer(token), basicAuth('', token), basicAuth(token), basicAuth(ownerEmail, token), basicAuth(ownerEmail.toUpperCase(), token)]) {
      const answer = await call('GET', '/accessTokens/self', { auth });
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ id, name: 'me', description: 'mine', scopes: ['read', 'write'], status: 'active' });
      expect(answer.text).not.toContain(token);
    }
  });

  it('shows its own use at once, and the same entry the list shows once the use is written', async () => {
    const { token, id } = await server.issueAccessToken({ name: 'self-vs-list', allowedIps: ['127.0.0.0/8', '::1/128'], scopes: ['read'] });
    const first = await self(token);
    expect(first.body.lastUsedAt).not.toBeNull();
    expect(first.body.lastUsedIp).toMatch(/127\.0\.0\.1/);
    expect(first.headers.get('content-type')).toContain('application/json');
    let entry: unknown;
    for (let i = 0; i < 60; i++) {
      entry = ((await call('GET', '/accessTokens')).body as { id: string; lastUsedAt: string | null }[]).find((t) => t.id === id);
      if ((entry as { lastUsedAt: string | null }).lastUsedAt !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect((await self(token)).body).toEqual(entry);
  });

  it('refuses a workspace token (wrong kind) and no credentials with 401', async () => {
    expectUnauthorized(await call('GET', '/accessTokens/self'));
    expectUnauthorized(await call('GET', '/accessTokens/self', { auth: null }));
  });

  it('answers 403 to a token without the read scope', async () => {
    const { token } = await server.issueAccessToken({ name: 'write-only', scopes: ['write'] });
    const answer = await self(token);
    expectError(answer, 403, 'insufficient_scope');
    expect(answer.headers.get('www-authenticate')).toBeNull();
  });

  it('answers a read-only token', async () => {
    const { token } = await server.issueAccessToken({ name: 'read-only', scopes: ['read'] });
    const answer = await self(token);
    expect(answer.status).toBe(200);
    expect(answer.body.scopes).toEqual(['read']);
  });
});
