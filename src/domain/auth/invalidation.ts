import { sql } from 'kysely';
import type { Store } from '../../store/db.js';
import { TOKENS_CHANNEL } from '../workspaces.js';
import type { CredentialCache } from './credential-cache.js';

const SQLITE_WATCH_INTERVAL_MS = 250;

/**
 * Keeps the cache honest across instances: revocations and rotations announced on the store's
 * change channel evict the credential they name, and a reconnect (messages may be lost) clears all.
 * Answers a function that stops the watching.
 */
export async function watchCredentialChanges(store: Store, cache: CredentialCache): Promise<() => void> {
  await store.listen(TOKENS_CHANNEL, (id) => cache.evict(id), () => cache.clear());
  return store.dialect === 'sqlite' ? watchSqliteWriters(store, cache) : () => {};
}

/**
 * Announcements on SQLite reach only this process, but the CLI (e.g. `workspace rotate-token`)
 * writes from another one. SQLite's data_version changes whenever another connection commits, so
 * polling it bounds how long such a change can hide behind the cache.
 */
async function watchSqliteWriters(store: Store, cache: CredentialCache): Promise<() => void> {
  const read = async (): Promise<number> => {
    const result = await sql<{ data_version: number }>`pragma data_version`.execute(store.db);
    return Number(result.rows[0]?.data_version ?? 0);
  };
  let seen = await read();
  const timer = setInterval(() => {
    read().then(
      (version) => {
        if (version !== seen) cache.clear();
        seen = version;
      },
      // The store was closed: nothing left to watch.
      () => clearInterval(timer),
    );
  }, SQLITE_WATCH_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
