import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config.js';
import { credentialMapForConfig, MAX_CREDENTIALS_PER_WORKSPACE, MAX_CREDENTIAL_VALUE_BYTES } from '../../src/domain/credentials.js';
import { DomainError } from '../../src/domain/errors.js';
import { newId, nowIso } from '../../src/domain/ids.js';
import { captureLog, eventually } from '../helpers/observe.js';
import { startTestServer, testDialect, type TestServer } from '../helpers/server.js';
import { client, expectEnvelope, startCatalog, type Catalog, type Client } from './transformations.helpers.js';

// Workspace credentials (ext) over real HTTP: CRUD, scopes, workspaces, validation, limits, and
// the promises about secrets: never answered after they go in, never in the audit log or the
// server log, sealed in the database and bound to their row, under a key kept outside it.

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const log = captureLog();
let catalog: Catalog;
let api: Client;
/** Every secret value sent in this file, to look for where it must not be. */
const secretsSent: string[] = [];

function secret(label: string): string {
  const value = `s3cr3t-${label}-${newId()}`;
  secretsSent.push(value);
  return value;
}

const services = () => catalog.server.server.services;
const db = () => services().store.db;

async function create(body: Record<string, unknown>, as: Client = api): Promise<{ id: string; key: string; isSecret: boolean; value?: string; createdAt: string; updatedAt: string }> {
  const answer = await as.post('/credentials', body);
  if (answer.status !== 201) throw new Error(`create credential: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
}

const patch = (path: string, body: unknown, as: Client = api) => as.call('PATCH', path, body);

beforeAll(async () => {
  catalog = await startCatalog({ logStream: log.stream });
  api = catalog.api;
});

afterAll(async () => {
  await catalog?.server.close();
});

describe('POST /credentials', () => {
  it('creates a non-secret and answers it with its value (201)', async () => {
    const answer = await api.post('/credentials', { key: 'REGION', value: 'eu-west-1' });
    expect(answer.status).toBe(201);
    expect(answer.body).toEqual({ id: expect.any(String), key: 'REGION', isSecret: false, value: 'eu-west-1', createdAt: expect.stringMatching(ISO_MS), updatedAt: answer.body.createdAt });
    expect(answer.body.id).toHaveLength(27);
  });

  it('creates a secret and answers it without its value, not even now', async () => {
    const value = secret('create');
    const answer = await api.call('POST', '/credentials', { key: 'api.key-1', value, isSecret: true });
    expect(answer.status).toBe(201);
    expect(answer.body).toEqual({ id: expect.any(String), key: 'api.key-1', isSecret: true, createdAt: expect.stringMatching(ISO_MS), updatedAt: expect.stringMatching(ISO_MS) });
    expect(JSON.stringify(answer.body)).not.toContain(value);
  });

  it('keeps values as given: empty, Unicode, multi-line', async () => {
    const pem = '-----BEGIN KEY-----\nQUJD\n-----END KEY-----\n';
    expect((await create({ key: 'EMPTY', value: '' })).value).toBe('');
    expect((await create({ key: 'GREETING', value: '¡hola! 👋' })).value).toBe('¡hola! 👋');
    expect((await create({ key: 'PEM', value: pem })).value).toBe(pem);
  });

  it('answers 409 naming the key when the workspace already has it', async () => {
    await create({ key: 'DUPLICATE', value: 'one' });
    const again = await api.post('/credentials', { key: 'DUPLICATE', value: secret('duplicate'), isSecret: true });
    expectEnvelope(again, 409, 'credential_key_taken');
    expect(again.body.error.message).toContain('"DUPLICATE"');
    expect(again.body.error.key).toBe('DUPLICATE');
    // Keys are case-sensitive, as getCredential is.
    expect((await api.post('/credentials', { key: 'duplicate', value: 'two' })).status).toBe(201);
  });

  it('answers 400 for keys outside the rule, saying the rule', async () => {
    for (const key of ['', 'has space', 'semi;colon', 'ключ', 'tab\t', 'k'.repeat(101), 'slash/key']) {
      const answer = await api.post('/credentials', { key, value: 'x' });
      expectEnvelope(answer, 400, 'invalid_field');
      expect(answer.body.error.field).toBe('key');
      expect(answer.body.error.message).toBe('key must be 1 to 100 characters of letters A-Z and a-z, digits 0-9, "_", "." and "-"');
    }
    expect((await api.post('/credentials', { key: 'k'.repeat(100), value: 'x' })).status).toBe(201);
    const reserved = await api.post('/credentials', { key: '__proto__', value: 'x' });
    expectEnvelope(reserved, 400, 'invalid_field');
    expect(reserved.body.error.message).toContain('reserved');
  });

  it('answers 400 for missing or mistyped fields and values over 64 KiB', async () => {
    expectEnvelope(await api.post('/credentials', { value: 'x' }), 400, 'missing_field');
    expectEnvelope(await api.post('/credentials', { key: 'NO_VALUE' }), 400, 'missing_field');
    expectEnvelope(await api.post('/credentials', { key: 'NUMBER', value: 7 }), 400, 'invalid_field');
    expectEnvelope(await api.post('/credentials', { key: 'FLAG', value: 'x', isSecret: 'yes' }), 400, 'invalid_field');
    expectEnvelope(await api.call('POST', '/credentials', '[1]'), 400, 'invalid_body');
    expectEnvelope(await api.call('POST', '/credentials', '{"key":'), 400, 'invalid_json');
    // 64 KiB counted in UTF-8 bytes: 30,000 euro signs are 90,000 bytes.
    const wide = await api.post('/credentials', { key: 'WIDE', value: '€'.repeat(30_000), isSecret: true });
    expectEnvelope(wide, 400, 'invalid_field');
    expect(wide.body.error.message).toBe('value must be at most 65536 bytes (64 KiB) as UTF-8; it is 90000');
    expect((await api.post('/credentials', { key: 'FULL', value: 'x'.repeat(MAX_CREDENTIAL_VALUE_BYTES) })).status).toBe(201);
    expect((await api.get('/credentials')).body.credentials.some((c: { key: string }) => ['WIDE', 'NUMBER', 'FLAG', 'NO_VALUE'].includes(c.key))).toBe(false);
  });
});

describe('GET /credentials and /credentials/{id}', () => {
  it('lists oldest first with non-secret values only, and gets one', async () => {
    const plain = await create({ key: 'LISTED_PLAIN', value: 'visible' });
    const value = secret('listed');
    const hidden = await create({ key: 'LISTED_SECRET', value, isSecret: true });
    const list = await api.get('/credentials');
    expect(list.status).toBe(200);
    const keys = list.body.credentials.map((c: { key: string }) => c.key);
    expect(keys.indexOf('LISTED_PLAIN')).toBeLessThan(keys.indexOf('LISTED_SECRET'));
    expect(keys.indexOf('REGION')).toBe(0);
    expect(list.body.credentials.find((c: { id: string }) => c.id === plain.id)).toEqual(plain);
    const listedSecret = list.body.credentials.find((c: { id: string }) => c.id === hidden.id);
    expect(listedSecret).toEqual(hidden);
    expect('value' in listedSecret).toBe(false);
    expect(JSON.stringify(list.body)).not.toContain(value);

    expect((await api.get(`/credentials/${plain.id}`)).body).toEqual(plain);
    const one = await api.get(`/credentials/${hidden.id}`);
    expect(one.body).toEqual(hidden);
    expect(JSON.stringify(one.body)).not.toContain(value);
    expectEnvelope(await api.get('/credentials/no-such-credential'), 404, 'not_found');
  });
});

describe('PATCH /credentials/{id}', () => {
  it("replaces a secret's value without ever answering it", async () => {
    const first = secret('before-replace');
    const created = await create({ key: 'ROTATED', value: first, isSecret: true });
    const second = secret('after-replace');
    const answer = await patch(`/credentials/${created.id}`, { value: second });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ ...created, updatedAt: expect.stringMatching(ISO_MS) });
    expect(answer.body.updatedAt >= created.updatedAt).toBe(true);
    expect(JSON.stringify(answer.body)).not.toContain(second);
    expect((await services().credentials.valuesFor(catalog.server.workspaceId)).ROTATED).toBe(second);
  });

  it('turns a secret into a non-secret only with a new value', async () => {
    const created = await create({ key: 'UNSEALED', value: secret('unsealed'), isSecret: true });
    const refused = await patch(`/credentials/${created.id}`, { isSecret: false });
    expectEnvelope(refused, 400, 'value_required');
    expect(refused.body.error.field).toBe('value');
    const answer = await patch(`/credentials/${created.id}`, { isSecret: false, value: 'now public' });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ key: 'UNSEALED', isSecret: false, value: 'now public' });
    const row = await db().selectFrom('credentials').selectAll().where('id', '=', created.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ is_secret: 0, value: 'now public', value_sealed: null, sealed_key_id: null });
  });

  it('turns a non-secret into a secret keeping its value, which is answered no more', async () => {
    const created = await create({ key: 'SEALED_LATER', value: 'was visible' });
    const answer = await patch(`/credentials/${created.id}`, { isSecret: true });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ id: created.id, key: 'SEALED_LATER', isSecret: true, createdAt: created.createdAt, updatedAt: expect.stringMatching(ISO_MS) });
    expect((await api.get(`/credentials/${created.id}`)).body.value).toBeUndefined();
    expect((await services().credentials.valuesFor(catalog.server.workspaceId)).SEALED_LATER).toBe('was visible');
    const row = await db().selectFrom('credentials').selectAll().where('id', '=', created.id).executeTakeFirstOrThrow();
    expect(row.value).toBeNull();
    expect(row.value_sealed).not.toContain('was visible');
  });

  it('refuses a new key (400), accepts the current one, and needs something to change', async () => {
    const created = await create({ key: 'FIXED_KEY', value: 'v1' });
    const renamed = await patch(`/credentials/${created.id}`, { key: 'OTHER_KEY', value: 'v2' });
    expectEnvelope(renamed, 400, 'key_immutable');
    expect(renamed.body.error.message).toContain('"FIXED_KEY"');
    expect((await patch(`/credentials/${created.id}`, { key: 'FIXED_KEY', value: 'v2' })).body.value).toBe('v2');
    expectEnvelope(await patch(`/credentials/${created.id}`, {}), 400, 'missing_field');
    expectEnvelope(await patch(`/credentials/${created.id}`, { key: 'FIXED_KEY' }), 400, 'missing_field');
    expectEnvelope(await patch(`/credentials/${created.id}`, { value: 12 }), 400, 'invalid_field');
    expectEnvelope(await patch(`/credentials/${created.id}`, { value: 'x'.repeat(MAX_CREDENTIAL_VALUE_BYTES + 1) }), 400, 'invalid_field');
    expectEnvelope(await patch('/credentials/unknown-credential', { value: 'x' }), 404, 'not_found');
    // Nothing to change is answered as it is, with no write.
    const same = await patch(`/credentials/${created.id}`, { isSecret: false });
    expect(same.status).toBe(200);
    expect(same.body.value).toBe('v2');
  });
});

describe('DELETE /credentials/{id}', () => {
  it('answers 204 with no body, then 404; the value is gone from the runtime map', async () => {
    const created = await create({ key: 'DOOMED', value: secret('doomed'), isSecret: true });
    expect((await services().credentials.valuesFor(catalog.server.workspaceId)).DOOMED).toBeDefined();
    const answer = await api.del(`/credentials/${created.id}`);
    expect(answer.status).toBe(204);
    expect(answer.body).toBeUndefined();
    expectEnvelope(await api.get(`/credentials/${created.id}`), 404, 'not_found');
    expectEnvelope(await api.del(`/credentials/${created.id}`), 404, 'not_found');
    expect((await services().credentials.valuesFor(catalog.server.workspaceId)).DOOMED).toBeUndefined();
    // The key is free again.
    expect((await api.post('/credentials', { key: 'DOOMED', value: 'reborn' })).status).toBe(201);
  });
});

describe('scopes and workspaces', () => {
  it('lets a read-only token list and get, and refuses it every change (403)', async () => {
    const target = await create({ key: 'READ_TARGET', value: 'v' });
    const { token } = await catalog.server.issueAccessToken({ name: 'reader', scopes: ['read'] });
    const reader = client(catalog.server.url, `Bearer ${token}`);
    expect((await reader.get('/credentials')).status).toBe(200);
    expect((await reader.get(`/credentials/${target.id}`)).body.value).toBe('v');
    expectEnvelope(await reader.post('/credentials', { key: 'NOPE', value: 'x' }), 403, 'insufficient_scope');
    expectEnvelope(await patch(`/credentials/${target.id}`, { value: 'x' }, reader), 403, 'insufficient_scope');
    expectEnvelope(await reader.del(`/credentials/${target.id}`), 403, 'insufficient_scope');
    expect((await api.get(`/credentials/${target.id}`)).body.value).toBe('v');
  });

  it('refuses the workspace token (the API is for access tokens)', async () => {
    const owner = client(catalog.server.url, catalog.server.workspaceAuth);
    expectEnvelope(await owner.get('/credentials'), 401, 'unauthorized');
  });

  it("answers 404 for another workspace's credentials and lets it use the same key", async () => {
    const value = secret('private');
    const mine = await create({ key: 'PRIVATE_KEY', value, isSecret: true });
    const other = await catalog.server.createWorkspace('other');
    const { token } = await catalog.server.issueAccessToken({ name: 'other' }, other.workspaceAuth);
    const stranger = client(catalog.server.url, `Bearer ${token}`);
    expect((await stranger.get('/credentials')).body).toEqual({ credentials: [] });
    expectEnvelope(await stranger.get(`/credentials/${mine.id}`), 404, 'not_found');
    expectEnvelope(await patch(`/credentials/${mine.id}`, { value: 'stolen' }, stranger), 404, 'not_found');
    expectEnvelope(await stranger.del(`/credentials/${mine.id}`), 404, 'not_found');
    expect((await stranger.post('/credentials', { key: 'PRIVATE_KEY', value: 'theirs' })).status).toBe(201);
    expect(await services().credentials.valuesFor(other.workspaceId)).toEqual({ PRIVATE_KEY: 'theirs' });
    expect((await services().credentials.valuesFor(catalog.server.workspaceId)).PRIVATE_KEY).toBe(value);
  });
});

describe('limits', () => {
  it(`refuses credential ${MAX_CREDENTIALS_PER_WORKSPACE + 1} of a workspace (409)`, async () => {
    const other = await catalog.server.createWorkspace('crowded');
    const { token } = await catalog.server.issueAccessToken({ name: 'crowded' }, other.workspaceAuth);
    const crowded = client(catalog.server.url, `Bearer ${token}`);
    const now = nowIso();
    const rows = Array.from({ length: MAX_CREDENTIALS_PER_WORKSPACE - 1 }, (_, i) => ({
      id: newId(),
      workspace_id: other.workspaceId,
      key: `K${i}`,
      is_secret: 0,
      value: 'v',
      value_sealed: null,
      sealed_key_id: null,
      value_bytes: 1,
      created_at: now,
      updated_at: now,
      created_by: null,
      updated_by: null,
    }));
    for (let i = 0; i < rows.length; i += 250) await db().insertInto('credentials').values(rows.slice(i, i + 250)).execute();
    expect((await crowded.post('/credentials', { key: 'LAST', value: 'v' })).status).toBe(201);
    const over = await crowded.post('/credentials', { key: 'ONE_TOO_MANY', value: 'v' });
    expectEnvelope(over, 409, 'credential_limit');
    expect(over.body.error.message).toContain(String(MAX_CREDENTIALS_PER_WORKSPACE));
  });

  it("refuses values past 1 MiB for the workspace, on create and on a growing replace (409)", async () => {
    const other = await catalog.server.createWorkspace('heavy');
    const { token } = await catalog.server.issueAccessToken({ name: 'heavy' }, other.workspaceAuth);
    const heavy = client(catalog.server.url, `Bearer ${token}`);
    const full = 'x'.repeat(MAX_CREDENTIAL_VALUE_BYTES);
    const ids: string[] = [];
    for (let i = 0; i < 16; i++) ids.push((await create({ key: `BIG_${i}`, value: full, isSecret: i % 2 === 0 }, heavy)).id);
    const over = await heavy.post('/credentials', { key: 'STRAW', value: 'x' });
    expectEnvelope(over, 409, 'credential_size_limit');
    expect(over.body.error.message).toContain('1 MiB');
    // Shrinking one makes room, and growing it back past the total is refused.
    expect((await patch(`/credentials/${ids[1]}`, { value: 'small' }, heavy)).status).toBe(200);
    expect((await heavy.post('/credentials', { key: 'STRAW', value: 'x' })).status).toBe(201);
    expectEnvelope(await patch(`/credentials/${ids[1]}`, { value: full }, heavy), 409, 'credential_size_limit');
  });
});

describe('audit', () => {
  it('records create, update and delete with the key and never the value', async () => {
    const first = secret('audited-1');
    const second = secret('audited-2');
    const created = await create({ key: 'AUDITED', value: first, isSecret: true });
    await patch(`/credentials/${created.id}`, { value: second });
    await patch(`/credentials/${created.id}`, { isSecret: false, value: 'plain now' });
    await api.del(`/credentials/${created.id}`);
    const auditLog = await client(catalog.server.url, catalog.server.workspaceAuth).get('/auditLog?limit=1000');
    const entries = (auditLog.body as { action: string; target: string; reason: string; actor: { id: string } }[]).filter((e) => e.target === created.id);
    expect(entries.map((e) => [e.action, e.reason]).reverse()).toEqual([
      ['credential.create', 'key AUDITED (secret)'],
      ['credential.update', 'key AUDITED: value replaced'],
      ['credential.update', 'key AUDITED: value replaced, made non-secret'],
      ['credential.delete', 'key AUDITED'],
    ]);
    expect(entries.every((e) => e.actor.id === catalog.tokenId)).toBe(true);
    const everything = JSON.stringify(await db().selectFrom('audit_events').selectAll().execute());
    for (const value of secretsSent) expect(everything.includes(value), value).toBe(false);
  });
});

describe('sealing in the database', () => {
  it('stores a secret only sealed, never its plaintext in any form', async () => {
    const value = secret('at-rest');
    const created = await create({ key: 'AT_REST', value, isSecret: true });
    const row = await db().selectFrom('credentials').selectAll().where('id', '=', created.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ is_secret: 1, value: null, value_bytes: Buffer.byteLength(value), created_by: catalog.tokenId, updated_by: catalog.tokenId });
    expect(row.value_sealed).toMatch(/^[A-Za-z0-9_-]+$/);
    const dump = JSON.stringify(await db().selectFrom('credentials').selectAll().execute());
    for (const form of [value, Buffer.from(value).toString('base64'), Buffer.from(value).toString('base64url'), Buffer.from(value).toString('hex')]) {
      expect(dump.includes(form), form).toBe(false);
    }
    // Each seal draws a new IV: the same value twice seals differently.
    const twin = await create({ key: 'AT_REST_TWIN', value, isSecret: true });
    const twinRow = await db().selectFrom('credentials').select('value_sealed').where('id', '=', twin.id).executeTakeFirstOrThrow();
    expect(twinRow.value_sealed).not.toBe(row.value_sealed);
  });

  it('binds a sealed value to its row: swapped between rows, neither opens; the runtime map leaves them out and the log says why', async () => {
    const other = await catalog.server.createWorkspace('swapped');
    const { token } = await catalog.server.issueAccessToken({ name: 'swapped' }, other.workspaceAuth);
    const swapped = client(catalog.server.url, `Bearer ${token}`);
    const a = await create({ key: 'SWAP_A', value: secret('swap-a'), isSecret: true }, swapped);
    const b = await create({ key: 'SWAP_B', value: secret('swap-b'), isSecret: true }, swapped);
    const read = (id: string) => db().selectFrom('credentials').select('value_sealed').where('id', '=', id).executeTakeFirstOrThrow();
    const [sealedA, sealedB] = [(await read(a.id)).value_sealed, (await read(b.id)).value_sealed];
    await db().updateTable('credentials').set({ value_sealed: sealedB }).where('id', '=', a.id).execute();
    await db().updateTable('credentials').set({ value_sealed: sealedA }).where('id', '=', b.id).execute();
    services().credentials.invalidate(other.workspaceId);

    // One bad row must not stall every batch of the workspace: user code reads undefined for it.
    expect(await services().credentials.valuesFor(other.workspaceId)).toEqual({});
    const integrity = 'credential \\"SWAP_A\\" failed its integrity check: its stored value was altered or copied from another row; replace its value';
    expect(await eventually(async () => log.text(), (text) => text.includes(integrity))).toContain(integrity);
    expect(await services().credentials.mapForConfig(other.workspaceId)).toEqual({});
    // Read directly (not through the runtime's map), the failure names the row.
    const failure = await credentialMapForConfig(services().credentials.context, other.workspaceId).then(
      () => null,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(DomainError);
    expect(failure).toMatchObject({ kind: 'unavailable', code: 'credential_unreadable', details: { key: 'SWAP_A' } });

    // A sealed value moved to another workspace's row does not open there either.
    const theirs = await create({ key: 'SWAP_A', value: 'x', isSecret: true });
    await db().updateTable('credentials').set({ value_sealed: sealedA }).where('id', '=', theirs.id).execute();
    services().credentials.invalidate(catalog.server.workspaceId);
    expect((await services().credentials.valuesFor(catalog.server.workspaceId)).SWAP_A).toBeUndefined();
    await patch(`/credentials/${theirs.id}`, { value: 'replaced' });

    // The API is unaffected (it never opens a secret), and replacing the values heals the map.
    expect((await swapped.get('/credentials')).status).toBe(200);
    await patch(`/credentials/${a.id}`, { value: 'new a' }, swapped);
    await patch(`/credentials/${b.id}`, { value: 'new b' }, swapped);
    expect(await services().credentials.valuesFor(other.workspaceId)).toEqual({ SWAP_A: 'new a', SWAP_B: 'new b' });
    expect((await services().credentials.valuesFor(catalog.server.workspaceId)).SWAP_A).toBe('replaced');
  });
});

describe('the runtime map', () => {
  it('answers every value by key, secrets decrypted, and sees each write at once', async () => {
    const other = await catalog.server.createWorkspace('runtime-map');
    const { token } = await catalog.server.issueAccessToken({ name: 'runtime-map' }, other.workspaceAuth);
    const owner = client(catalog.server.url, `Bearer ${token}`);
    const value = secret('runtime');
    const sealed = await create({ key: 'TOKEN', value, isSecret: true }, owner);
    await create({ key: 'HOST', value: 'api.example.com' }, owner);
    const credentials = services().credentials;
    expect(await credentials.valuesFor(other.workspaceId)).toEqual({ HOST: 'api.example.com', TOKEN: value });
    expect(await credentials.mapForConfig(other.workspaceId)).toEqual({
      HOST: { key: 'HOST', value: 'api.example.com', isSecret: false },
      TOKEN: { key: 'TOKEN', value, isSecret: true },
    });
    // Callers get their own object: changing it changes nothing for the next caller.
    const mine = await credentials.valuesFor(other.workspaceId);
    mine.HOST = 'changed';
    expect((await credentials.valuesFor(other.workspaceId)).HOST).toBe('api.example.com');

    await patch(`/credentials/${sealed.id}`, { value: 'rotated' }, owner);
    expect((await credentials.valuesFor(other.workspaceId)).TOKEN).toBe('rotated');
    await owner.del(`/credentials/${sealed.id}`);
    expect(await credentials.valuesFor(other.workspaceId)).toEqual({ HOST: 'api.example.com' });
  });
});

describe('two instances', () => {
  it("see each other's writes: at once on PostgreSQL (NOTIFY), within the cache TTL on SQLite", async () => {
    const env = { TILLER_CREDENTIALS_KEY: randomBytes(32).toString('base64') };
    const first = await startTestServer({ env });
    let second: TestServer | undefined;
    try {
      second = await startTestServer({
        dataDir: first.config.dataDir,
        ...(first.config.databaseUrl ? { databaseUrl: first.config.databaseUrl } : {}),
        workspace: { workspaceId: first.workspaceId, workspaceToken: first.workspaceToken },
        env,
      });
      const { token } = await first.issueAccessToken({ name: 'writer' });
      const writer = client(first.url, `Bearer ${token}`);
      const created = await create({ key: 'SHARED', value: 'v1', isSecret: true }, writer);
      const elsewhere = second.server.services.credentials;
      expect(await elsewhere.valuesFor(first.workspaceId)).toEqual({ SHARED: 'v1' });

      await patch(`/credentials/${created.id}`, { value: 'v2' }, writer);
      const started = Date.now();
      const seen = await eventually(() => elsewhere.valuesFor(first.workspaceId), (values) => values.SHARED === 'v2', 8000);
      expect(seen).toEqual({ SHARED: 'v2' });
      expect(Date.now() - started).toBeLessThan(testDialect() === 'postgres' ? 2000 : 7000);
    } finally {
      await second?.close();
      await first.close();
    }
  });
});

describe('the credentials key', () => {
  it('is generated once in the data dir, 0600, and reused', async () => {
    const file = join(catalog.server.config.dataDir, 'credentials.key');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    expect(key).toHaveLength(32);
    expect(key.equals(catalog.server.config.credentialsKey)).toBe(true);
  });

  it('is refused at start when TILLER_CREDENTIALS_KEY is not 32 bytes, without echoing it', async () => {
    for (const bad of [Buffer.alloc(16, 7).toString('base64'), 'ab'.repeat(31), 'not a key at all!', Buffer.alloc(33, 1).toString('base64')]) {
      const dataDir = mkdtempSync(join(tmpdir(), 'tiller-credkey-'));
      try {
        const started = startTestServer({ dataDir, env: { TILLER_CREDENTIALS_KEY: bad } });
        const error = await started.then(
          async (server) => {
            await server.close();
            return null;
          },
          (err: unknown) => err,
        );
        expect(error, bad).toBeInstanceOf(ConfigError);
        expect((error as ConfigError).setting).toBe('TILLER_CREDENTIALS_KEY');
        expect((error as Error).message).toMatch(/^invalid setting TILLER_CREDENTIALS_KEY: must be 32 bytes written as 64 hex digits or as base64/);
        expect((error as Error).message).not.toContain(bad);
        expect(existsSync(join(dataDir, 'credentials.key'))).toBe(false);
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    }
  });

  it('is taken from TILLER_CREDENTIALS_KEY in hex or base64; an instance with another key says so and cannot open the secrets', async () => {
    const key = Buffer.alloc(32, 0xab);
    const first = await startTestServer({ env: { TILLER_CREDENTIALS_KEY: key.toString('hex') } });
    const otherLog = captureLog();
    let second: TestServer | undefined;
    try {
      expect(first.config.credentialsKey.equals(key)).toBe(true);
      expect(existsSync(join(first.config.dataDir, 'credentials.key'))).toBe(false);
      const { token } = await first.issueAccessToken({ name: 'first' });
      const owner = client(first.url, `Bearer ${token}`);
      const value = secret('other-key');
      await create({ key: 'SHARED', value, isSecret: true }, owner);
      expect(await first.server.services.credentials.valuesFor(first.workspaceId)).toEqual({ SHARED: value });

      // The same store, a different key: the data dir (SQLite) or database (PostgreSQL) is shared.
      second = await startTestServer({
        dataDir: first.config.dataDir,
        ...(first.config.databaseUrl ? { databaseUrl: first.config.databaseUrl } : {}),
        workspace: { workspaceId: first.workspaceId, workspaceToken: first.workspaceToken },
        logStream: otherLog.stream,
        env: { TILLER_CREDENTIALS_KEY: Buffer.alloc(32, 0xcd).toString('base64') },
      });
      expect(otherLog.text()).toContain('1 secret credential(s) were sealed under a credentials key this server does not hold');
      expect(await second.server.services.credentials.valuesFor(first.workspaceId)).toEqual({});
      const mismatch = 'credential \\"SHARED\\" was sealed under a credentials key this server does not hold; every instance must run with the TILLER_CREDENTIALS_KEY it was written with';
      expect(await eventually(async () => otherLog.text(), (text) => text.includes(mismatch))).toContain(mismatch);
      expect(otherLog.text()).not.toContain(value);
    } finally {
      await second?.close();
      await first.close();
    }
  });
});

describe('the server log', () => {
  it('holds no secret value sent in this file', async () => {
    // Let the access-log lines of the last requests land.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const text = log.text();
    expect(text).toContain('"url":"/credentials"');
    for (const value of secretsSent) expect(text.includes(value), value).toBe(false);
  });
});
