import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { createPrivateFile, ensurePrivateDir, makeFilePrivate } from '../private-files.js';
import type { Database } from './schema.js';
import { migrationProvider } from './migrations/index.js';
import { withStatementCache } from './sqlite-statements.js';

export type Dialect = 'sqlite' | 'postgres';

/** Cross-instance messages: sent inside a transaction, delivered to every instance after commit. */
export type ChangeHandler = (payload: string) => void;

export interface Store {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  migrate(): Promise<void>;
  /** Migrations this release would still apply, and ones the database has that this release does not know. */
  schemaStatus(): Promise<SchemaStatus>;
  /** True when the database answers a trivial query. */
  ping(): Promise<boolean>;
  /**
   * Announces a change to every instance sharing this database (PostgreSQL NOTIFY, delivered on
   * commit when `executor` is a transaction). SQLite is single-process, so delivery is in-process.
   */
  announce(executor: Kysely<Database>, channel: string, payload: string): Promise<void>;
  /** `onReset` runs when the listener reconnected and may have missed messages. */
  listen(channel: string, handler: ChangeHandler, onReset?: () => void): Promise<void>;
  close(): Promise<void>;
}

export interface SchemaStatus {
  pending: string[];
  /** Applied by a newer release: this one must not run on that schema. */
  unknown: string[];
}

export interface StoreOptions {
  dataDir: string;
  databaseUrl?: string | undefined;
  onError?: (err: Error) => void;
}

export async function openStore(options: StoreOptions): Promise<Store> {
  return options.databaseUrl ? openPostgres(options.databaseUrl, options.onError) : openSqlite(options.dataDir);
}

function migratorFor(db: Kysely<Database>): Migrator {
  return new Migrator({ db, provider: migrationProvider, migrationTableName: 'tiller_migrations', migrationLockTableName: 'tiller_migrations_lock' });
}

async function runMigrations(db: Kysely<Database>): Promise<void> {
  const { error, results } = await migratorFor(db).migrateToLatest();
  const failed = results?.find((r) => r.status === 'Error');
  if (error || failed) {
    const reason = error instanceof Error ? error.message : String(error ?? 'unknown error');
    throw new Error(`migration ${failed?.migrationName ?? ''} failed: ${reason}`);
  }
}

async function schemaStatus(db: Kysely<Database>): Promise<SchemaStatus> {
  const known = Object.keys(await migrationProvider.getMigrations());
  const tables = await db.introspection.getTables();
  const applied = tables.some((t) => t.name === 'tiller_migrations')
    ? (await sql<{ name: string }>`select name from tiller_migrations`.execute(db)).rows.map((r) => r.name)
    : [];
  return { pending: known.filter((name) => !applied.includes(name)), unknown: applied.filter((name) => !known.includes(name)).sort() };
}

function openSqlite(dataDir: string): Store {
  ensurePrivateDir(dataDir);
  // SQLite creates a new database 0644 whatever the umask, and its -wal and -shm files with the
  // database file's mode: so the database is created 0600 first, and files of older installs are
  // tightened before opening.
  const file = join(dataDir, 'tiller.db');
  createPrivateFile(file);
  for (const journal of ['-wal', '-shm', '-journal']) makeFilePrivate(file + journal);
  const database = new SQLite(file);
  // WAL for concurrent readers; synchronous=FULL so an answered write survives a power cut or SIGKILL.
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = FULL');
  database.pragma('foreign_keys = ON');
  database.pragma('busy_timeout = 5000');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(database) }) });
  const handlers = new Map<string, Set<ChangeHandler>>();
  return {
    db,
    dialect: 'sqlite',
    migrate: () => runMigrations(db),
    schemaStatus: () => schemaStatus(db),
    ping: () => ping(db),
    announce: async (_executor, channel, payload) => {
      // Delivered right away: SQLite transactions here are short and the payload only evicts caches,
      // so an early eviction is harmless.
      for (const handler of handlers.get(channel) ?? []) handler(payload);
    },
    listen: async (channel, handler) => {
      let set = handlers.get(channel);
      if (!set) handlers.set(channel, (set = new Set()));
      set.add(handler);
    },
    close: async () => {
      await db.destroy();
    },
  };
}

async function openPostgres(url: string, onError?: (err: Error) => void): Promise<Store> {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  pool.on('error', (err) => onError?.(err));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const subscriptions = new Map<string, { handlers: Set<ChangeHandler>; resets: Set<() => void> }>();
  let listener: pg.Client | undefined;
  let closed = false;
  let reconnectTimer: NodeJS.Timeout | undefined;

  const connectListener = async (): Promise<void> => {
    const client = new pg.Client({ connectionString: url });
    client.on('error', (err) => {
      onError?.(err);
      scheduleReconnect();
    });
    client.on('end', () => scheduleReconnect());
    client.on('notification', (msg) => {
      const sub = subscriptions.get(msg.channel);
      if (sub && msg.payload !== undefined) for (const handler of sub.handlers) handler(msg.payload);
    });
    await client.connect();
    for (const channel of subscriptions.keys()) await client.query(`LISTEN ${quoteIdent(channel)}`);
    listener = client;
  };

  const scheduleReconnect = (): void => {
    if (closed || reconnectTimer) return;
    listener = undefined;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      connectListener()
        .then(() => {
          // Messages sent while disconnected are lost: let every subscriber drop what it cached.
          for (const sub of subscriptions.values()) for (const reset of sub.resets) reset();
        })
        .catch((err: Error) => {
          onError?.(err);
          scheduleReconnect();
        });
    }, 500);
    reconnectTimer.unref();
  };

  return {
    db,
    dialect: 'postgres',
    migrate: () => runMigrations(db),
    schemaStatus: () => schemaStatus(db),
    ping: () => ping(db),
    announce: async (executor, channel, payload) => {
      await sql`select pg_notify(${channel}, ${payload})`.execute(executor);
    },
    listen: async (channel, handler, onReset) => {
      let sub = subscriptions.get(channel);
      const isNew = !sub;
      if (!sub) subscriptions.set(channel, (sub = { handlers: new Set(), resets: new Set() }));
      sub.handlers.add(handler);
      if (onReset) sub.resets.add(onReset);
      if (!listener) await connectListener();
      else if (isNew) await listener.query(`LISTEN ${quoteIdent(channel)}`);
    },
    close: async () => {
      closed = true;
      if (reconnectTimer) clearTimeout(reconnectTimer);
      const client = listener;
      listener = undefined;
      if (client) {
        client.removeAllListeners('end');
        await client.end().catch(() => undefined);
      }
      await db.destroy();
    },
  };
}

async function ping(db: Kysely<Database>): Promise<boolean> {
  try {
    await sql`select 1`.execute(db);
    return true;
  } catch {
    return false;
  }
}

function quoteIdent(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}
