// Kysely's SQLite driver prepares every query anew, and preparing (parsing and planning the SQL)
// costs more than running the small statements a join makes. better-sqlite3 statements are
// reusable, and the queries Kysely compiles for one call site have the same SQL text every time,
// so statements are kept in a small LRU keyed by that text.
//
// Reuse is safe because better-sqlite3 is synchronous and Kysely holds SQLite's one connection
// for each query: `all()`/`run()` bind their parameters afresh and finish before returning, so a
// cached statement is never in use twice. `iterate()` is the exception (a stream leaves the
// statement open between rows), so it always runs on a statement of its own. A closed database's
// statements are dropped, never handed out again.

import type { SqliteDatabase as KyselySqliteDatabase, SqliteStatement } from 'kysely';
import type { SqliteDatabase } from './sqlite-driver';

export const DEFAULT_STATEMENT_CACHE_SIZE = 256;

/** The database as Kysely's SqliteDialect sees it, with `prepare` served from a bounded cache. */
export function withStatementCache(database: SqliteDatabase, capacity = DEFAULT_STATEMENT_CACHE_SIZE): KyselySqliteDatabase {
  const cache = new Map<string, SqliteStatement>();

  const prepareFresh = (sql: string) => database.prepare(sql);

  const prepare = (sql: string): SqliteStatement => {
    if (!database.open) {
      cache.clear();
      return prepareFresh(sql) as unknown as SqliteStatement; // throws: the database is closed
    }
    const hit = cache.get(sql);
    if (hit) {
      // Map keeps insertion order: moving the hit to the end makes the first key the least recent.
      cache.delete(sql);
      cache.set(sql, hit);
      return hit;
    }
    const stmt = prepareFresh(sql);
    const cached: SqliteStatement = {
      reader: stmt.reader,
      // An array argument binds as the positional parameters, as Kysely's driver passes them.
      all: (parameters) => stmt.all(parameters),
      run: (parameters) => stmt.run(parameters),
      iterate: (parameters) => prepareFresh(sql).iterate(parameters),
    };
    if (cache.size >= capacity) cache.delete(cache.keys().next().value as string);
    cache.set(sql, cached);
    return cached;
  };

  return {
    prepare,
    close() {
      cache.clear();
      database.close();
    },
  };
}
