import * as path from 'node:path';
import type { ServerConfig } from '../config';
import type { Store } from './types';
import { openSqliteStore } from './sqlite';
import { openPostgresStore } from './postgres';

/** SQLite in the data directory unless JOINERY_DATABASE_URL names a postgres:// database. */
export async function openStore(config: Pick<ServerConfig, 'dataDir' | 'databaseUrl'> & Partial<Pick<ServerConfig, 'sqliteSynchronous'>>, opts: { warn?: (message: string) => void } = {}): Promise<Store> {
  const url = config.databaseUrl;
  if (url && /^postgres(ql)?:\/\//.test(url)) return openPostgresStore(url);
  if (url && !/^sqlite:/.test(url)) throw new Error(`JOINERY_DATABASE_URL must start with postgres:// or sqlite: (got ${url.split(':')[0]}:...)`);
  const file = url ? url.replace(/^sqlite:(\/\/)?/, '') : path.join(config.dataDir, 'joinery.db');
  return openSqliteStore(path.resolve(config.dataDir, file), { ...opts, synchronous: config.sqliteSynchronous });
}
