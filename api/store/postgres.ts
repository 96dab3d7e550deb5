// PostgreSQL backend for running several API replicas against one database. Same queries as
// SQLite (kysely-store.ts); only transactions and error codes differ.

import { Kysely, PostgresDialect, sql } from 'kysely';
import { Pool } from 'pg';
import { createKyselyStore, migrate, type Db, type Dialect, type Tables } from './kysely-store';
import type { Store } from './types';

const postgresDialect: Dialect = {
  kind: 'postgres',
  autoId: 'BIGSERIAL PRIMARY KEY',
  async writeTx(db, fn) {
    return db.transaction().execute(async (tx) => {
      // Serialize writers cluster-wide; token writes are rare, so one lock is simplest and safe.
      await sql`SELECT pg_advisory_xact_lock(4242)`.execute(tx);
      return fn(tx);
    });
  },
  isUniqueViolation(e) {
    return (e as { code?: string })?.code === '23505';
  },
};

export async function openPostgresStore(url: string): Promise<Store> {
  const pool = new Pool({ connectionString: url, max: 10 });
  // An idle connection the server ends (a restart, a failover, an administrator) is emitted as an
  // 'error' on the pool; unheard, it would end the process. The pool has already dropped that
  // connection and opens a new one for the next query, so there is nothing more to do.
  pool.on('error', () => undefined);
  const db: Db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }) });
  await migrate(db, postgresDialect);
  return createKyselyStore(db, postgresDialect, () => db.destroy());
}
