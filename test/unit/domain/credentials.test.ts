import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeCredentialsKey } from '../../../src/config.js';
import { CredentialKeyring, UnsealError, sealKeyId, type SealBinding } from '../../../src/domain/credential-seal.js';
import {
  WorkspaceCredentials,
  createCredential,
  credentialMapForConfig,
  deleteCredential,
  listCredentials,
  updateCredential,
  type CredentialsContext,
} from '../../../src/domain/credentials.js';
import { createWorkspace } from '../../../src/domain/workspaces.js';
import { actor, useFixture } from './helpers.js';

// The sealing of secret credential values (AES-256-GCM, a key id in every sealed value, the row
// bound in as additional data) and the runtime's cached map, without HTTP.

const binding: SealBinding = { workspaceId: '0VcWorkspaceAAAAAAAAAAAAAAA', credentialId: '0VcCredentialAAAAAAAAAAAAAA', key: 'API_KEY' };

function unsealFailure(run: () => unknown): UnsealError {
  try {
    run();
  } catch (error) {
    if (error instanceof UnsealError) return error;
    throw error;
  }
  throw new Error('expected the value not to open');
}

describe('CredentialKeyring', () => {
  const key = randomBytes(32);
  const keyring = new CredentialKeyring(key);

  it('opens what it sealed: ASCII, Unicode, empty, multi-line and 64 KiB values', () => {
    for (const value of ['sk_live_123', '¡hola! 👋 €', '', '-----BEGIN KEY-----\nQUJD\n-----END KEY-----\n', 'x'.repeat(64 * 1024)]) {
      expect(keyring.open(keyring.seal(value, binding), binding)).toBe(value);
    }
  });

  it('writes base64url of format 1, the key id, a 12-byte IV, a 16-byte tag and the ciphertext', () => {
    const value = 'sk_live_123';
    const sealed = keyring.seal(value, binding);
    expect(sealed).toMatch(/^[A-Za-z0-9_-]+$/);
    const bytes = Buffer.from(sealed, 'base64url');
    expect(bytes[0]).toBe(1);
    expect(bytes.subarray(1, 5).toString('hex')).toBe(sealKeyId(key));
    expect(keyring.currentKeyId).toBe(sealKeyId(key));
    expect(bytes.length).toBe(1 + 4 + 12 + 16 + Buffer.byteLength(value));
    expect(sealed).not.toContain(Buffer.from(value).toString('base64url'));
  });

  it('draws a new IV for every seal', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) seen.add(Buffer.from(keyring.seal('same', binding), 'base64url').subarray(5, 17).toString('hex'));
    expect(seen.size).toBe(50);
  });

  it('opens only for the row it was sealed for: workspace, credential id and key are bound in', () => {
    const sealed = keyring.seal('bound', binding);
    for (const other of [
      { ...binding, workspaceId: '0VcOtherWorkspaceAAAAAAAAAA' },
      { ...binding, credentialId: '0VcOtherCredentialAAAAAAAAA' },
      { ...binding, key: 'OTHER_KEY' },
      // Moving bytes across the field boundaries changes the data too.
      { ...binding, workspaceId: binding.workspaceId + '\0' + binding.credentialId, credentialId: '' },
    ]) {
      const failure = unsealFailure(() => keyring.open(sealed, other));
      expect(failure.reason).toBe('integrity');
      expect(failure.keyId).toBe(keyring.currentKeyId);
    }
  });

  it('tells a damaged value from a foreign key and from text that is no sealed value', () => {
    const sealed = keyring.seal('damaged', binding);
    const flip = (index: number) => {
      const bytes = Buffer.from(sealed, 'base64url');
      bytes[index] = bytes[index]! ^ 0x01;
      return bytes.toString('base64url');
    };
    expect(unsealFailure(() => keyring.open(flip(0), binding)).reason).toBe('malformed');
    expect(unsealFailure(() => keyring.open(flip(2), binding)).reason).toBe('unknown_key');
    for (const index of [5, 16, 17, 32, 33, Buffer.from(sealed, 'base64url').length - 1]) {
      expect(unsealFailure(() => keyring.open(flip(index), binding)).reason, `byte ${index}`).toBe('integrity');
    }
    for (const text of ['', 'not sealed!', 'AQ', sealed.slice(0, 40), `${sealed}=`]) {
      expect(unsealFailure(() => keyring.open(text, binding)).reason, text).toBe('malformed');
    }
    const stranger = new CredentialKeyring(randomBytes(32));
    const foreign = unsealFailure(() => stranger.open(sealed, binding));
    expect(foreign).toMatchObject({ reason: 'unknown_key', keyId: keyring.currentKeyId });
    expect(foreign.message).not.toContain('damaged');
  });

  it('opens values sealed under a previous key after a rotation, and seals under the new one', () => {
    const oldKey = randomBytes(32);
    const before = new CredentialKeyring(oldKey).seal('from before', binding);
    const rotated = new CredentialKeyring(randomBytes(32), [oldKey]);
    expect(rotated.open(before, binding)).toBe('from before');
    expect(rotated.holds(sealKeyId(oldKey))).toBe(true);
    const after = rotated.seal('from after', binding);
    expect(Buffer.from(after, 'base64url').subarray(1, 5).toString('hex')).toBe(rotated.currentKeyId);
    expect(unsealFailure(() => new CredentialKeyring(oldKey).open(after, binding)).reason).toBe('unknown_key');
  });

  it('takes only 32-byte keys', () => {
    expect(() => new CredentialKeyring(randomBytes(16))).toThrow(/32 bytes, got 16/);
    expect(() => new CredentialKeyring(randomBytes(32), [randomBytes(31)])).toThrow(/32 bytes, got 31/);
  });
});

describe('decodeCredentialsKey', () => {
  const key = randomBytes(32);

  it('reads 64 hex digits, base64 and base64url, padded or not, around whitespace', () => {
    for (const text of [key.toString('hex'), key.toString('hex').toUpperCase(), key.toString('base64'), key.toString('base64url'), key.toString('base64').replace(/=+$/, ''), `  ${key.toString('base64')}\n`]) {
      const decoded = decodeCredentialsKey(text);
      expect('key' in decoded && decoded.key.equals(key), text).toBe(true);
    }
  });

  it('says what is wrong with anything else, never repeating it', () => {
    const cases: [string, string][] = [
      [randomBytes(16).toString('base64'), 'it decodes to 16 bytes'],
      [randomBytes(33).toString('base64'), 'it decodes to 33 bytes'],
      [randomBytes(31).toString('hex'), 'it decodes to 46 bytes'],
      ['', 'it is neither hex nor base64'],
      ['not a key, not at all', 'it is neither hex nor base64'],
    ];
    for (const [text, problem] of cases) {
      expect(decodeCredentialsKey(text), text).toEqual({ problem });
    }
  });
});

describe('WorkspaceCredentials', () => {
  const fixture = useFixture();
  const sealingKey = randomBytes(32);
  const keyring = new CredentialKeyring(sealingKey);

  function setup(options?: { ttlMs: number }) {
    const credentials = new WorkspaceCredentials(fixture.current.store, keyring, { ttlMs: options?.ttlMs ?? 60_000, maxWorkspaces: 100, maxBytes: 1024 * 1024 });
    return { credentials, ctx: credentials.context, workspaceId: fixture.current.workspaceId };
  }

  it('answers every value by key with secrets opened, and the config map in rudder-server\'s shape', async () => {
    const { credentials, ctx, workspaceId } = setup();
    await createCredential(ctx, workspaceId, actor, { key: 'HOST', value: 'api.example.com' });
    await createCredential(ctx, workspaceId, actor, { key: 'TOKEN', value: 'sk_live_1', isSecret: true });
    expect(await credentials.valuesFor(workspaceId)).toEqual({ HOST: 'api.example.com', TOKEN: 'sk_live_1' });
    const expected = { HOST: { key: 'HOST', value: 'api.example.com', isSecret: false }, TOKEN: { key: 'TOKEN', value: 'sk_live_1', isSecret: true } };
    expect(await credentialMapForConfig(ctx, workspaceId)).toEqual(expected);
    expect(await credentials.mapForConfig(workspaceId)).toEqual(expected);
    // The API view never carries the secret.
    expect(await listCredentials(fixture.current.store, workspaceId)).toEqual([
      expect.objectContaining({ key: 'HOST', value: 'api.example.com' }),
      expect.not.objectContaining({ value: expect.anything() }),
    ]);
  });

  it('serves from memory until a write through its context evicts the workspace', async () => {
    const { credentials, ctx, workspaceId } = setup();
    const created = await createCredential(ctx, workspaceId, actor, { key: 'K', value: 'one' });
    expect(await credentials.valuesFor(workspaceId)).toEqual({ K: 'one' });
    // A change behind the cache's back is not seen while the entry lives...
    await fixture.current.store.db.updateTable('credentials').set({ value: 'behind' }).where('id', '=', created.id).execute();
    expect(await credentials.valuesFor(workspaceId)).toEqual({ K: 'one' });
    // ...and each write through the domain functions is seen at once.
    await updateCredential(ctx, workspaceId, actor, created.id, { value: 'two' });
    expect(await credentials.valuesFor(workspaceId)).toEqual({ K: 'two' });
    await deleteCredential(ctx, workspaceId, actor, created.id);
    expect(await credentials.valuesFor(workspaceId)).toEqual({});
  });

  it('forgets an entry after its TTL, so other instances\' writes show up', async () => {
    const { credentials, ctx, workspaceId } = setup({ ttlMs: 50 });
    const created = await createCredential(ctx, workspaceId, actor, { key: 'K', value: 'one' });
    expect(await credentials.valuesFor(workspaceId)).toEqual({ K: 'one' });
    await fixture.current.store.db.updateTable('credentials').set({ value: 'elsewhere' }).where('id', '=', created.id).execute();
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(await credentials.valuesFor(workspaceId)).toEqual({ K: 'elsewhere' });
  });

  it('shares one load between concurrent callers, and does not keep a load that a write overtook', async () => {
    const { credentials, ctx, workspaceId } = setup();
    const created = await createCredential(ctx, workspaceId, actor, { key: 'K', value: 'old' });
    const [first, second] = [credentials.valuesFor(workspaceId), credentials.valuesFor(workspaceId)];
    // The write lands while the load is in flight: the load may answer the old value, but not keep it.
    await updateCredential(ctx, workspaceId, actor, created.id, { value: 'new' });
    expect((await first).K).toBe((await second).K);
    expect(await credentials.valuesFor(workspaceId)).toEqual({ K: 'new' });
  });

  it('keeps workspaces apart', async () => {
    const { credentials, ctx, workspaceId } = setup();
    const { workspace } = await createWorkspace(fixture.current.store, Buffer.alloc(32, 1), { name: 'second', ownerEmail: 'second@example.com' });
    await createCredential(ctx, workspaceId, actor, { key: 'K', value: 'mine', isSecret: true });
    await createCredential(ctx, workspace.id, actor, { key: 'K', value: 'theirs', isSecret: true });
    expect(await credentials.valuesFor(workspaceId)).toEqual({ K: 'mine' });
    expect(await credentials.valuesFor(workspace.id)).toEqual({ K: 'theirs' });
    await expect(updateCredential(ctx, workspace.id, actor, (await listCredentials(fixture.current.store, workspaceId))[0]!.id, { value: 'x' })).rejects.toMatchObject({ kind: 'not_found' });
  });

  it('leaves out, and reports, a secret sealed under a key it does not hold; counts such secrets; a direct read fails clearly', async () => {
    const { ctx, workspaceId } = setup();
    await createCredential(ctx, workspaceId, actor, { key: 'SEALED', value: 'v', isSecret: true });
    await createCredential(ctx, workspaceId, actor, { key: 'PLAIN', value: 'v' });
    const reported: Array<{ workspaceId: string; code: string; key: unknown }> = [];
    const elsewhere = new WorkspaceCredentials(fixture.current.store, new CredentialKeyring(randomBytes(32)), undefined, (id, error) =>
      reported.push({ workspaceId: id, code: error.code, key: (error.details as { key?: unknown } | undefined)?.key }),
    );
    expect(await elsewhere.countSealedUnderOtherKeys()).toBe(1);
    expect(await new WorkspaceCredentials(fixture.current.store, keyring).countSealedUnderOtherKeys()).toBe(0);
    // One unreadable row must not stall the workspace's batches: the others are still there.
    expect(await elsewhere.valuesFor(workspaceId)).toEqual({ PLAIN: 'v' });
    expect(reported).toEqual([{ workspaceId, code: 'credential_unreadable', key: 'SEALED' }]);
    await expect(credentialMapForConfig({ store: fixture.current.store, keyring: new CredentialKeyring(randomBytes(32)) }, workspaceId)).rejects.toMatchObject({
      kind: 'unavailable',
      code: 'credential_unreadable',
      details: { key: 'SEALED' },
    });
    // A rotated keyring (a new key, the old one beside it) still reads them.
    const rotated: Pick<CredentialsContext, 'store' | 'keyring'> = { store: fixture.current.store, keyring: new CredentialKeyring(randomBytes(32), [sealingKey]) };
    expect(await credentialMapForConfig(rotated, workspaceId)).toEqual({ PLAIN: { key: 'PLAIN', value: 'v', isSecret: false }, SEALED: { key: 'SEALED', value: 'v', isSecret: true } });
  });

  it('rejects what the routes reject, before writing anything', async () => {
    const { ctx, workspaceId } = setup();
    await expect(createCredential(ctx, workspaceId, actor, { key: 'bad key', value: 'v' })).rejects.toMatchObject({ kind: 'invalid', code: 'invalid_field' });
    await expect(createCredential(ctx, workspaceId, actor, { key: '__proto__', value: 'v' })).rejects.toMatchObject({ kind: 'invalid' });
    await expect(createCredential(ctx, workspaceId, actor, { key: 'K', value: 'é'.repeat(40_000) })).rejects.toMatchObject({ kind: 'invalid', code: 'invalid_field' });
    const created = await createCredential(ctx, workspaceId, actor, { key: 'K', value: 'v', isSecret: true });
    await expect(createCredential(ctx, workspaceId, actor, { key: 'K', value: 'v' })).rejects.toMatchObject({ kind: 'conflict', code: 'credential_key_taken' });
    await expect(updateCredential(ctx, workspaceId, actor, created.id, { isSecret: false })).rejects.toMatchObject({ kind: 'invalid', code: 'value_required' });
    await expect(updateCredential(ctx, workspaceId, actor, created.id, { key: 'L', value: 'w' })).rejects.toMatchObject({ kind: 'invalid', code: 'key_immutable' });
    expect(await listCredentials(fixture.current.store, workspaceId)).toHaveLength(1);
  });
});
