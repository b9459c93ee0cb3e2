// Token verification without HTTP: the rules a credential must pass, the cache and its
// invalidation, and the verifier on a real SQLite store (last use, failure audit).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { issueAccessToken, revokeAccessToken, rotateAccessToken } from '../../../src/domain/access-tokens.js';
import { listAuditEvents, systemActor } from '../../../src/domain/audit.js';
import { CredentialCache } from '../../../src/domain/auth/credential-cache.js';
import { accessCredential, refusal, workspaceCredential, type VerifyResult } from '../../../src/domain/auth/credential.js';
import { findAccessTokenByDigest, type AccessTokenRow } from '../../../src/domain/auth/tokens-store.js';
import { CredentialVerifier } from '../../../src/domain/auth/verifier.js';
import { digestSecret, generateSecret } from '../../../src/domain/secrets.js';
import { createWorkspace } from '../../../src/domain/workspaces.js';
import { openStore, type Store } from '../../../src/store/db.js';

const NOW = Date.parse('2030-01-01T00:00:00.000Z');

function row(overrides: Partial<AccessTokenRow> = {}): AccessTokenRow {
  return {
    // who and what
    id: 'tok-1', workspace_id: 'ws-1', member_id: 'mem-1', email: 'dev@example.com', name: 'ci', description: '', scopes: 'read,write',
    // the secret, as stored
    digest: 'd', hint: 'tlr_at_…abcd',
    // its state: live, never used, no address list
    created_at: '2029-01-01T00:00:00.000Z', expires_at: null, grace_until: null, rotated_from: null, revoked_at: null, last_used_at: null, last_used_ip: null, allowed_ips: null,
    ...overrides,
  };
}

describe('the rules a credential must pass on every use', () => {
  it('passes a live token from anywhere, and keeps no digest', () => {
    const credential = accessCredential(row());
    expect(refusal(credential, NOW, { ip: '203.0.113.9' })).toBeNull();
    expect(credential.usage?.record).not.toHaveProperty('digest');
    expect(credential.id).toBe('access:tok-1');
  });

  it.each([
    ['revoked', { revoked_at: '2029-06-01T00:00:00.000Z' }, 'revoked'],
    ['expired at this very moment', { expires_at: new Date(NOW).toISOString() }, 'expired'],
    ['past its rotation grace', { grace_until: new Date(NOW - 1).toISOString() }, 'rotated_out'],
    // A replaced secret that is also revoked is reported as reuse after rotation: that is the alarm.
    ['rotated out and revoked', { grace_until: new Date(NOW - 1).toISOString(), revoked_at: '2029-06-01T00:00:00.000Z' }, 'rotated_out'],
    ['outside its allowed addresses', { allowed_ips: JSON.stringify(['10.0.0.0/8']) }, 'ip_not_allowed'],
  ] as const)('refuses a token %s', (_label, overrides, reason) => {
    expect(refusal(accessCredential(row(overrides)), NOW, { ip: '203.0.113.9' })).toBe(reason);
  });

  it('still passes during a rotation grace period and before expiry', () => {
    const credential = accessCredential(row({ grace_until: new Date(NOW + 1).toISOString(), expires_at: new Date(NOW + 1).toISOString() }));
    expect(refusal(credential, NOW, { ip: '127.0.0.1' })).toBeNull();
  });

  it('matches allowed addresses, IPv4-mapped clients included', () => {
    const credential = accessCredential(row({ allowed_ips: JSON.stringify(['10.0.0.0/8', '2001:db8::/32']) }));
    for (const ip of ['10.1.2.3', '::ffff:10.1.2.3', '2001:db8::1']) expect(refusal(credential, NOW, { ip })).toBeNull();
    for (const ip of ['11.0.0.1', '::ffff:11.0.0.1', '2001:db9::1', 'not an address']) expect(refusal(credential, NOW, { ip })).toBe('ip_not_allowed');
  });

  it('checks a Basic user name against the token owner, ignoring case', () => {
    const credential = accessCredential(row());
    expect(refusal(credential, NOW, { ip: '127.0.0.1', email: 'DEV@example.com' })).toBeNull();
    expect(refusal(credential, NOW, { ip: '127.0.0.1', email: 'other@example.com' })).toBe('email_mismatch');
    // A workspace token has no owner to compare with.
    expect(refusal(workspaceCredential('ws-1'), NOW, { ip: '127.0.0.1', email: 'anyone@example.com' })).toBeNull();
  });
});

describe('the credential cache', () => {
  const entry = () => accessCredential(row());

  it('keeps a credential by secret and evicts it by the id announcements use', () => {
    const cache = new CredentialCache({ size: 10, ttlMs: 60_000 });
    const key = cache.keyOf('secret');
    expect(key).not.toContain('secret');
    cache.remember(key, entry(), cache.mark());
    expect(cache.get(key)?.id).toBe('access:tok-1');
    cache.evict('access:tok-1');
    expect(cache.get(key)).toBeUndefined();
  });

  it('does not keep a lookup that raced with an eviction', () => {
    const cache = new CredentialCache({ size: 10, ttlMs: 60_000 });
    const mark = cache.mark();
    cache.evict('access:someone-else');
    cache.remember('k', entry(), mark);
    expect(cache.get('k')).toBeUndefined();
  });

  it('is bounded, and off with size 0 or TTL 0', () => {
    const bounded = new CredentialCache({ size: 2, ttlMs: 60_000 });
    for (const key of ['a', 'b', 'c']) bounded.remember(key, entry(), bounded.mark());
    expect([bounded.get('a'), bounded.get('b')?.id, bounded.get('c')?.id]).toEqual([undefined, 'access:tok-1', 'access:tok-1']);
    for (const options of [{ size: 0, ttlMs: 60_000 }, { size: 10, ttlMs: 0 }]) {
      const off = new CredentialCache(options);
      off.remember('k', entry(), off.mark());
      expect(off.get('k')).toBeUndefined();
    }
  });
});

describe('the verifier on a store', () => {
  const pepper = Buffer.alloc(32, 7);
  let dataDir: string;
  let store: Store;
  let workspaceId: string;
  let workspaceToken: string;
  let verifier: CredentialVerifier;
  let lookups: boolean[];
  let backgroundErrors: unknown[];

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'tiller-verify-'));
    store = await openStore({ dataDir });
    await store.migrate();
    ({ workspace: { id: workspaceId }, workspaceToken } = await createWorkspace(store, pepper, { name: 'w', ownerEmail: 'owner@example.com' }));
    lookups = [];
    backgroundErrors = [];
    verifier = new CredentialVerifier(store, pepper, { cacheSize: 100, cacheTtlMs: 30_000, onCacheLookup: (hit) => lookups.push(hit), onBackgroundError: (err) => backgroundErrors.push(err) });
    await verifier.start();
  });

  afterEach(async () => {
    await verifier.stop();
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
    expect(backgroundErrors).toEqual([]);
  });

  const issue = async (input: Record<string, unknown> = {}) => issueAccessToken(store, pepper, workspaceId, systemActor, { name: 'ci', ...input });
  const reasonOf = (result: VerifyResult) => (result.ok ? 'ok' : result.reason);

  it('turns a workspace token and an access token into their principals, the second time from the cache', async () => {
    const { token, view } = await issue({ scopes: ['read'] });
    const first = await verifier.verify(token, { ip: '127.0.0.1' });
    const second = verifier.verify(token, { ip: '127.0.0.1' });
    // A cached credential is answered without a promise.
    expect(second).not.toBeInstanceOf(Promise);
    expect(first).toEqual(second);
    expect(first.ok && first.principal).toMatchObject({ kind: 'access', workspaceId, tokenId: view.id, email: 'owner@example.com', scopes: ['read'] });
    expect(lookups).toEqual([false, true]);
    const workspace = await verifier.verify(workspaceToken, { ip: '127.0.0.1' });
    expect(workspace.ok && workspace.principal).toEqual({ kind: 'workspace', workspaceId });
  });

  it('refuses malformed and unknown secrets without caching them', async () => {
    expect(reasonOf(await verifier.verify('tlr_at_nonsense', { ip: '127.0.0.1' }))).toBe('malformed');
    const unknown = generateSecret('access');
    expect(await findAccessTokenByDigest(store.db, digestSecret(pepper, unknown))).toBeUndefined();
    expect(reasonOf(await verifier.verify(unknown, { ip: '127.0.0.1' }))).toBe('unknown');
    expect(reasonOf(await verifier.verify(unknown, { ip: '127.0.0.1' }))).toBe('unknown');
    // The malformed secret never reached the cache or the store; the unknown one missed twice.
    expect(lookups).toEqual([false, false]);
  });

  it('refuses a revoked token once its eviction arrives, and audits repeated failures once', async () => {
    const { token, view } = await issue();
    expect(reasonOf(await verifier.verify(token, { ip: '127.0.0.1' }))).toBe('ok');
    await revokeAccessToken(store, workspaceId, systemActor, view.id);
    // SQLite announcements are delivered at once in this process.
    for (let i = 0; i < 5; i++) expect(reasonOf(await verifier.verify(token, { ip: '198.51.100.1', userAgent: 'script' }))).toBe('revoked');
    await expect.poll(async () => (await listAuditEvents(store.db, workspaceId, { limit: 50 })).filter((e) => e.action === 'auth.failure').length).toBe(1);
    const [failure] = (await listAuditEvents(store.db, workspaceId, { limit: 50 })).filter((e) => e.action === 'auth.failure');
    expect(failure).toMatchObject({ target: view.id, outcome: 'failure', reason: 'revoked' });
    expect(JSON.stringify(failure)).not.toContain(token);
  });

  it('reports a replaced secret used after its grace as reuse', async () => {
    const { token, view } = await issue();
    await rotateAccessToken(store, pepper, workspaceId, systemActor, view.id, 0);
    expect(reasonOf(await verifier.verify(token, { ip: '127.0.0.1' }))).toBe('rotated_out');
    await expect.poll(async () => (await listAuditEvents(store.db, workspaceId, { limit: 50 })).some((e) => e.action === 'access_token.reuse')).toBe(true);
  });

  it('shows a use at once and writes it in a batch, at most once a minute', async () => {
    const { token, view } = await issue();
    const first = await verifier.verify(token, { ip: '192.0.2.1' });
    const usedAt = first.ok && first.principal.kind === 'access' ? first.principal.record.last_used_at : null;
    expect(usedAt).not.toBeNull();
    const again = await verifier.verify(token, { ip: '192.0.2.2' });
    expect(again.ok && again.principal.kind === 'access' && again.principal.record.last_used_ip).toBe('192.0.2.1');
    const stored = () => store.db.selectFrom('access_tokens').select(['last_used_at', 'last_used_ip']).where('id', '=', view.id).executeTakeFirstOrThrow();
    // stop() writes what is still queued.
    await verifier.stop();
    expect(await stored()).toEqual({ last_used_at: usedAt, last_used_ip: '192.0.2.1' });
    // A fresh verifier (e.g. another instance) reads the stored use and does not write again within the minute.
    verifier.clear();
    const fresh = await verifier.verify(token, { ip: '192.0.2.3' });
    expect(fresh.ok && fresh.principal.kind === 'access' && fresh.principal.record.last_used_ip).toBe('192.0.2.1');
  });
});
