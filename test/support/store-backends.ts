// The two store backends for suites that must behave the same on both: SQLite in a file, and a
// fresh database per call on one PostgreSQL server the suite starts (and stops) itself.

import * as path from 'node:path';
import { openPostgresStore } from '../../api/store/postgres';
import { openSqliteStore } from '../../api/store/sqlite';
import type { Store } from '../../api/store/types';
import { createDatabase, startPostgres, type TestPostgres } from './postgres';

/** Registers the suite's PostgreSQL server; `sqliteDir` names the directory of the SQLite file at call time. */
export function storeBackends(sqliteDir: () => string, prefix: string): [string, () => Promise<Store>][] {
  let pg: TestPostgres;
  let count = 0;
  beforeAll(async () => {
    pg = await startPostgres();
  }, 60_000);
  afterAll(() => pg?.stop());
  return [
    ['sqlite', async () => openSqliteStore(path.join(sqliteDir(), 'j.db'))],
    ['postgres', async () => openPostgresStore(await createDatabase(pg, `${prefix}${++count}`))],
  ];
}
