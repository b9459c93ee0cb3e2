// Workspace credentials: the values user code reads with getCredential(key) (spec 7.5), managed in
// Tiller. A non-secret is stored and answered as given; a secret is sealed (credential-seal.ts) and
// never answered again, by any call: it is only replaced. Only the runtime (valuesFor) and the
// workspace's own rudder-server config (credentialMapForConfig) ever see a secret's plaintext.

import type { Transaction } from 'kysely';
import { WorkspaceCache } from './workspace-cache.js';
import type { Store } from '../store/db.js';
import type { CredentialsTable, Database } from '../store/schema.js';
import { recordAudit, type Actor } from './audit.js';
import { UnsealError, type CredentialKeyring, type SealBinding } from './credential-seal.js';
import { DomainError, conflict, invalid, notFound } from './errors.js';
import { newId, nowIso } from './ids.js';
import { isUniqueViolation } from './libraries.js';
import { touchServedConfig } from './served-config.js';

export const MAX_CREDENTIAL_KEY_CHARS = 100;
export const MAX_CREDENTIAL_VALUE_BYTES = 64 * 1024;
export const MAX_CREDENTIALS_PER_WORKSPACE = 1000;
/**
 * Every value of a workspace, summed. The runtime hands the whole map to each batch it runs, so
 * it stays small next to a batch; 1 MiB holds many keys and certificates, not a thousand blobs.
 */
export const MAX_WORKSPACE_CREDENTIAL_BYTES = 1024 * 1024;
/** Change announcements name the workspace whose credentials changed. */
export const CREDENTIALS_CHANNEL = 'tiller_credentials';

const KEY_PATTERN = new RegExp(`^[A-Za-z0-9_.-]{1,${MAX_CREDENTIAL_KEY_CHARS}}$`);
export const CREDENTIAL_KEY_RULE = `1 to ${MAX_CREDENTIAL_KEY_CHARS} characters of letters A-Z and a-z, digits 0-9, "_", "." and "-"`;

export interface CredentialView {
  id: string;
  key: string;
  isSecret: boolean;
  /** Present only for a non-secret. */
  value?: string;
  createdAt: string;
  updatedAt: string;
}

/** A credential with its plaintext value, for the runtime and the config that rudder-server fetches. */
export interface CredentialValue {
  id: string;
  key: string;
  value: string;
  isSecret: boolean;
}

/** rudder-server's ConfigT `credentials` entry. */
export interface ConfigCredential {
  key: string;
  value: string;
  isSecret: boolean;
}

export interface CredentialsContext {
  store: Store;
  keyring: CredentialKeyring;
  /** Runs once a write has committed, so this instance's cache forgets the workspace at once. */
  onChange(workspaceId: string): void;
}

export interface CreateCredentialInput {
  key: string;
  value: string;
  isSecret?: boolean | undefined;
}

export interface UpdateCredentialInput {
  /** Accepted only when it is the current key: keys never change. */
  key?: string | undefined;
  value?: string | undefined;
  isSecret?: boolean | undefined;
}

function validKey(key: string): string {
  if (!KEY_PATTERN.test(key)) throw invalid('invalid_field', `key must be ${CREDENTIAL_KEY_RULE}`, { field: 'key' });
  // As an object key it would set a prototype instead of a property wherever a map is built by assignment.
  if (key === '__proto__') throw invalid('invalid_field', 'key "__proto__" is reserved; choose another key', { field: 'key' });
  return key;
}

function valueBytes(value: string): number {
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > MAX_CREDENTIAL_VALUE_BYTES) {
    throw invalid('invalid_field', `value must be at most ${MAX_CREDENTIAL_VALUE_BYTES} bytes (64 KiB) as UTF-8; it is ${bytes}`, { field: 'value' });
  }
  return bytes;
}

type StoredValue = Pick<CredentialsTable, 'is_secret' | 'value' | 'value_sealed' | 'sealed_key_id' | 'value_bytes'>;

function storedValue(keyring: CredentialKeyring, binding: SealBinding, value: string, bytes: number, isSecret: boolean): StoredValue {
  if (!isSecret) return { is_secret: 0, value, value_sealed: null, sealed_key_id: null, value_bytes: bytes };
  return { is_secret: 1, value: null, value_sealed: keyring.seal(value, binding), sealed_key_id: keyring.currentKeyId, value_bytes: bytes };
}

function credentialView(row: Pick<CredentialsTable, 'id' | 'key' | 'is_secret' | 'value' | 'created_at' | 'updated_at'>): CredentialView {
  const isSecret = row.is_secret === 1;
  return {
    id: row.id,
    key: row.key,
    isSecret,
    ...(isSecret ? {} : { value: row.value ?? '' }),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

const VIEW_COLUMNS = ['id', 'key', 'is_secret', 'value', 'created_at', 'updated_at'] as const;

/**
 * Serializes credential writes per workspace, so the limits hold under concurrent creates. On
 * PostgreSQL a NO KEY UPDATE lock on the workspace row: it does not block the foreign-key checks
 * of other tables' inserts. SQLite runs one write transaction at a time anyway.
 */
async function lockWorkspaceCredentials(trx: Transaction<Database>, store: Store, workspaceId: string): Promise<void> {
  if (store.dialect !== 'postgres') return;
  await trx.selectFrom('workspaces').select('id').where('id', '=', workspaceId).forNoKeyUpdate().execute();
}

async function workspaceUsage(trx: Transaction<Database>, workspaceId: string): Promise<{ count: number; bytes: number }> {
  const row = await trx
    .selectFrom('credentials')
    .select((eb) => [eb.fn.countAll().as('count'), eb.fn.sum('value_bytes').as('bytes')])
    .where('workspace_id', '=', workspaceId)
    .executeTakeFirst();
  // PostgreSQL answers count and sum as text (bigint, numeric); sum is null with no rows.
  return { count: Number(row?.count ?? 0), bytes: Number(row?.bytes ?? 0) };
}

function keyTaken(key: string): DomainError {
  return conflict('credential_key_taken', `a credential with key "${key}" already exists in this workspace; replace its value instead`, { field: 'key', key });
}

function assertWithinTotal(totalBytes: number): void {
  if (totalBytes > MAX_WORKSPACE_CREDENTIAL_BYTES) {
    throw conflict(
      'credential_size_limit',
      `the workspace's credential values would come to ${totalBytes} bytes, over the ${MAX_WORKSPACE_CREDENTIAL_BYTES} bytes (1 MiB) a workspace may hold; delete or shorten others first`,
      { limit: MAX_WORKSPACE_CREDENTIAL_BYTES },
    );
  }
}

export async function listCredentials(store: Store, workspaceId: string): Promise<CredentialView[]> {
  const rows = await store.db.selectFrom('credentials').select(VIEW_COLUMNS).where('workspace_id', '=', workspaceId).orderBy('created_at', 'asc').orderBy('id', 'asc').execute();
  return rows.map(credentialView);
}

export async function getCredential(store: Store, workspaceId: string, id: string): Promise<CredentialView> {
  const row = await store.db.selectFrom('credentials').select(VIEW_COLUMNS).where('id', '=', id).where('workspace_id', '=', workspaceId).executeTakeFirst();
  if (!row) throw notFound('credential');
  return credentialView(row);
}

export async function createCredential(ctx: CredentialsContext, workspaceId: string, actor: Actor, input: CreateCredentialInput): Promise<CredentialView> {
  const key = validKey(input.key);
  const bytes = valueBytes(input.value);
  const isSecret = input.isSecret ?? false;
  const id = newId();
  const now = nowIso();
  const row: CredentialsTable = {
    id,
    workspace_id: workspaceId,
    key,
    ...storedValue(ctx.keyring, { workspaceId, credentialId: id, key }, input.value, bytes, isSecret),
    created_at: now,
    updated_at: now,
    created_by: actor.id,
    updated_by: actor.id,
  };
  const { store } = ctx;
  try {
    await store.db.transaction().execute(async (trx) => {
      await lockWorkspaceCredentials(trx, store, workspaceId);
      const taken = await trx.selectFrom('credentials').select('id').where('workspace_id', '=', workspaceId).where('key', '=', key).executeTakeFirst();
      if (taken) throw keyTaken(key);
      const usage = await workspaceUsage(trx, workspaceId);
      if (usage.count >= MAX_CREDENTIALS_PER_WORKSPACE) {
        throw conflict('credential_limit', `this workspace already has ${usage.count} credentials, the most allowed (${MAX_CREDENTIALS_PER_WORKSPACE}); delete one first`, {
          limit: MAX_CREDENTIALS_PER_WORKSPACE,
        });
      }
      assertWithinTotal(usage.bytes + bytes);
      await trx.insertInto('credentials').values(row).execute();
      await recordAudit(trx, workspaceId, actor, { action: 'credential.create', target: id, reason: `key ${key}${isSecret ? ' (secret)' : ''}` });
      await touchServedConfig(trx, workspaceId);
      await store.announce(trx, CREDENTIALS_CHANNEL, workspaceId);
    });
  } catch (error) {
    // A create on another instance that got past the check first (SQLite has no row lock to wait on).
    if (isUniqueViolation(error)) throw keyTaken(key);
    throw error;
  }
  ctx.onChange(workspaceId);
  return credentialView(row);
}

/**
 * Replaces the value, changes whether it is secret, or both. A secret's value is never read back,
 * so it can become a non-secret only with a new value; a non-secret becomes a secret as it is.
 */
export async function updateCredential(ctx: CredentialsContext, workspaceId: string, actor: Actor, id: string, input: UpdateCredentialInput): Promise<CredentialView> {
  if (input.value === undefined && input.isSecret === undefined) {
    throw invalid('missing_field', 'give a new value, isSecret, or both', { field: 'value' });
  }
  const newBytes = input.value === undefined ? undefined : valueBytes(input.value);
  const { store } = ctx;
  const result = await store.db.transaction().execute(async (trx) => {
    await lockWorkspaceCredentials(trx, store, workspaceId);
    const current = await trx.selectFrom('credentials').selectAll().where('id', '=', id).where('workspace_id', '=', workspaceId).executeTakeFirst();
    if (!current) throw notFound('credential');
    if (input.key !== undefined && input.key !== current.key) {
      throw invalid('key_immutable', `a credential's key cannot change (it is "${current.key}"), because transformations read it by that key; create a credential with the new key and delete this one`, {
        field: 'key',
      });
    }
    const wasSecret = current.is_secret === 1;
    const isSecret = input.isSecret ?? wasSecret;
    if (wasSecret && !isSecret && input.value === undefined) {
      throw invalid('value_required', "a secret becomes a non-secret only with a new value, because a secret's value is never read back", { field: 'value' });
    }
    if (input.value === undefined && isSecret === wasSecret) return { row: current, changed: false };
    // Without a new value the credential only turns secret, and a non-secret's value is at hand.
    const value = input.value ?? current.value ?? '';
    const bytes = newBytes ?? current.value_bytes;
    if (bytes > current.value_bytes) assertWithinTotal((await workspaceUsage(trx, workspaceId)).bytes - current.value_bytes + bytes);
    const changes = {
      ...storedValue(ctx.keyring, { workspaceId, credentialId: id, key: current.key }, value, bytes, isSecret),
      updated_at: nowIso(),
      updated_by: actor.id,
    };
    await trx.updateTable('credentials').set(changes).where('id', '=', id).where('workspace_id', '=', workspaceId).execute();
    const what = [input.value !== undefined ? 'value replaced' : null, isSecret !== wasSecret ? (isSecret ? 'made secret' : 'made non-secret') : null].filter(Boolean).join(', ');
    await recordAudit(trx, workspaceId, actor, { action: 'credential.update', target: id, reason: `key ${current.key}: ${what}` });
    await touchServedConfig(trx, workspaceId);
    await store.announce(trx, CREDENTIALS_CHANNEL, workspaceId);
    return { row: { ...current, ...changes }, changed: true };
  });
  if (result.changed) ctx.onChange(workspaceId);
  return credentialView(result.row);
}

export async function deleteCredential(ctx: CredentialsContext, workspaceId: string, actor: Actor, id: string): Promise<void> {
  const { store } = ctx;
  await store.db.transaction().execute(async (trx) => {
    const deleted = await trx.deleteFrom('credentials').where('id', '=', id).where('workspace_id', '=', workspaceId).returning('key').executeTakeFirst();
    if (!deleted) throw notFound('credential');
    await recordAudit(trx, workspaceId, actor, { action: 'credential.delete', target: id, targetName: deleted.key, reason: `key ${deleted.key}` });
    await touchServedConfig(trx, workspaceId);
    await store.announce(trx, CREDENTIALS_CHANNEL, workspaceId);
  });
  ctx.onChange(workspaceId);
}

function unreadableCredential(key: string, error: UnsealError): DomainError {
  const message =
    error.reason === 'unknown_key'
      ? `credential "${key}" was sealed under a credentials key this server does not hold; every instance must run with the TILLER_CREDENTIALS_KEY it was written with`
      : error.reason === 'integrity'
        ? `credential "${key}" failed its integrity check: its stored value was altered or copied from another row; replace its value`
        : `credential "${key}" has a stored value Tiller cannot read; replace its value`;
  // Tiller's own state is wrong, not the request: 503, so rudder-server holds its events rather
  // than have user code run without the credential.
  return new DomainError('unavailable', 'credential_unreadable', message, { key }, 30, error);
}

/**
 * Every credential of the workspace with its plaintext value, by key; secrets are opened here. A
 * secret that cannot be opened throws, unless `skipUnreadable` takes it (it is then left out).
 */
export async function readCredentialValues(
  ctx: Pick<CredentialsContext, 'store' | 'keyring'>,
  workspaceId: string,
  skipUnreadable?: (error: DomainError) => void,
): Promise<CredentialValue[]> {
  const rows = await ctx.store.db
    .selectFrom('credentials')
    .select(['id', 'key', 'is_secret', 'value', 'value_sealed'])
    .where('workspace_id', '=', workspaceId)
    .orderBy('key', 'asc')
    .execute();
  const values: CredentialValue[] = [];
  for (const row of rows) {
    if (row.is_secret !== 1) {
      values.push({ id: row.id, key: row.key, value: row.value ?? '', isSecret: false });
      continue;
    }
    try {
      values.push({ id: row.id, key: row.key, value: ctx.keyring.open(row.value_sealed ?? '', { workspaceId, credentialId: row.id, key: row.key }), isSecret: true });
    } catch (error) {
      if (!(error instanceof UnsealError)) throw error;
      const unreadable = unreadableCredential(row.key, error);
      if (!skipUnreadable) throw unreadable;
      skipUnreadable(unreadable);
    }
  }
  return values;
}

function configMapOf(values: readonly CredentialValue[]): Record<string, ConfigCredential> {
  return Object.fromEntries(values.map((entry) => [entry.key, { key: entry.key, value: entry.value, isSecret: entry.isSecret }]));
}

/**
 * The workspace's credentials in rudder-server's ConfigT shape, `{ <key>: { key, value, isSecret } }`,
 * secrets decrypted: it goes to the workspace's own rudder-server, which hands it to user code.
 */
export async function credentialMapForConfig(ctx: Pick<CredentialsContext, 'store' | 'keyring'>, workspaceId: string): Promise<Record<string, ConfigCredential>> {
  return configMapOf(await readCredentialValues(ctx, workspaceId));
}

export interface CredentialCacheOptions {
  /** How long a workspace's values are served from memory; other instances' writes show up within it. */
  ttlMs: number;
  maxWorkspaces: number;
  /** Bound on the summed size of cached values (each workspace holds at most 1 MiB). */
  maxBytes: number;
}

export const defaultCredentialCacheOptions: CredentialCacheOptions = { ttlMs: 5000, maxWorkspaces: 1000, maxBytes: 64 * 1024 * 1024 };

/** UTF-16 length is a cheap, conservative stand-in for the memory a cached entry holds. */
function valuesWeight(values: readonly CredentialValue[]): number {
  let weight = 64;
  for (const entry of values) weight += (entry.key.length + entry.value.length) * 2 + 96;
  return weight;
}

/**
 * A workspace's credential values for the runtime, built once per process (createServices) and
 * cached briefly: a write evicts its workspace here at once and, through the store's change
 * channel, on the other instances; the TTL bounds what a lost announcement can cost.
 */
export class WorkspaceCredentials {
  /** What the credential routes pass to the write functions above. */
  readonly context: CredentialsContext;
  private readonly cache: WorkspaceCache<readonly CredentialValue[]>;
  /** Told of every eviction (null: all workspaces), so caches built from these values can follow. */
  private readonly watchers = new Set<(workspaceId: string | null) => void>();

  constructor(
    private readonly store: Store,
    private readonly keyring: CredentialKeyring,
    options: CredentialCacheOptions = defaultCredentialCacheOptions,
    /**
     * A secret the runtime's map leaves out because this server cannot open it (a key mismatch
     * between instances, a tampered row). User code then reads undefined for that key alone: one
     * bad row must not stall every batch of its workspace. services.ts logs it.
     */
    private readonly onUnreadable: (workspaceId: string, error: DomainError) => void = () => undefined,
  ) {
    this.context = { store, keyring, onChange: (workspaceId) => this.invalidate(workspaceId) };
    this.cache = new WorkspaceCache<readonly CredentialValue[]>((workspaceId) => readCredentialValues(this.context, workspaceId, (error) => this.onUnreadable(workspaceId, error)), {
      maxWorkspaces: options.maxWorkspaces,
      ttlMs: options.ttlMs,
      maxSize: options.maxBytes,
      sizeOf: valuesWeight,
    });
  }

  /** Listens for other instances' writes; a reconnect (announcements may be lost) clears all. */
  async start(): Promise<void> {
    await this.store.listen(CREDENTIALS_CHANNEL, (workspaceId) => this.invalidate(workspaceId), () => this.clear());
  }

  /**
   * Every credential's plaintext value by key (with `secrets: false`, the non-secret ones only): a
   * new object on each call, so callers may change it.
   */
  async valuesFor(workspaceId: string, options: { secrets?: boolean } = {}): Promise<Record<string, string>> {
    const values = await this.cache.get(workspaceId);
    const wanted = options.secrets === false ? values.filter((entry) => !entry.isSecret) : values;
    return Object.fromEntries(wanted.map((entry) => [entry.key, entry.value]));
  }

  /** As credentialMapForConfig, from the same cache. */
  async mapForConfig(workspaceId: string): Promise<Record<string, ConfigCredential>> {
    return configMapOf(await this.cache.get(workspaceId));
  }

  invalidate(workspaceId: string): void {
    this.cache.invalidate(workspaceId);
    for (const watcher of this.watchers) watcher(workspaceId);
  }

  clear(): void {
    this.cache.clear();
    for (const watcher of this.watchers) watcher(null);
  }

  /** Runs after every eviction here (a write on this instance or another, a listener reset). */
  watch(watcher: (workspaceId: string | null) => void): void {
    this.watchers.add(watcher);
  }

  /** Secrets sealed under keys this server does not hold (instances started with different keys). */
  async countSealedUnderOtherKeys(): Promise<number> {
    const rows = await this.store.db.selectFrom('credentials').select((eb) => ['sealed_key_id', eb.fn.countAll().as('count')]).where('is_secret', '=', 1).groupBy('sealed_key_id').execute();
    return rows.filter((row) => row.sealed_key_id === null || !this.keyring.holds(row.sealed_key_id)).reduce((sum, row) => sum + Number(row.count), 0);
  }

}
