import type SQLite from 'better-sqlite3';
import type { SqliteDatabase } from 'kysely';
import { LRUCache } from 'lru-cache';

/**
 * The database as Kysely's SQLite driver sees it, with prepared statements kept by SQL text.
 * The driver prepares every query it runs, and compiling a statement costs more than running a
 * point lookup (e.g. authenticating a secret: about 100 µs of its 300). A statement is reused only
 * once its previous run returned (the driver runs all() / run() synchronously); SQLite re-prepares
 * a kept statement by itself when the schema changes. Queries are never streamed (iterate()), which
 * would keep a statement busy.
 */
export function withStatementCache(database: SQLite.Database, max = 256): SqliteDatabase {
  const statements = new LRUCache<string, SQLite.Statement>({ max });
  return {
    close: () => {
      statements.clear();
      database.close();
    },
    prepare: (sql) => {
      let statement = statements.get(sql);
      if (statement === undefined) statements.set(sql, (statement = database.prepare(sql)));
      return statement;
    },
  };
}
