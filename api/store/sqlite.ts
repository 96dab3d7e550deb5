// The embedded default: one SQLite file in the data directory, in WAL mode so readers never block
// the writer, with a busy timeout so concurrent processes wait for the lock instead of failing.
// The WAL is checkpointed by a worker thread, never inside the server's commits
// (sqlite-checkpointer.ts).

import * as fs from 'node:fs';
import * as path from 'node:path';
import Database, { SQLITE_DRIVER } from './sqlite-driver';
import { startCheckpointer, type CheckpointOptions, type CheckpointResult } from './sqlite-checkpointer';
import { CompiledQuery, Kysely, SqliteDialect, SqliteDriver, sql, type DatabaseConnection, type SqliteDialectConfig } from 'kysely';
import { createKyselyStore, migrate, type Db, type Dialect, type Tables } from './kysely-store';
import type { Store } from './types';
import { withStatementCache } from './statement-cache';

const BUSY_TIMEOUT_MS = 10_000;
/** The WAL file is trimmed to this when it starts over after a full checkpoint. */
const WAL_SIZE_LIMIT_BYTES = 16 * 1024 * 1024;
/** Batches of a bulk delete between two checkpoints it waits for (Store.catchUp). */
export const CATCH_UP_EVERY_BATCHES = 8;

const sqliteDialect: Dialect = {
  kind: 'sqlite',
  autoId: 'INTEGER PRIMARY KEY AUTOINCREMENT',
  async writeTx(db, fn) {
    // BEGIN IMMEDIATE takes the write lock up front (waiting up to busy_timeout); a deferred
    // transaction that reads and then writes can fail with SQLITE_BUSY when another process
    // wrote in between, and the busy handler cannot help there.
    return db.connection().execute(async (conn) => {
      await sql`BEGIN IMMEDIATE`.execute(conn);
      try {
        const result = await fn(conn as Db);
        await sql`COMMIT`.execute(conn);
        return result;
      } catch (e) {
        await sql`ROLLBACK`.execute(conn).catch(() => undefined);
        throw e;
      }
    });
  },
  isUniqueViolation(e) {
    const code = (e as { code?: string })?.code ?? '';
    return code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
  },
};

/**
 * The database holds every `token`-method secret, so it is created 0600 whatever the umask and
 * an existing one that others can read is tightened. SQLite gives the -wal and -shm files the
 * database file's mode when it creates them; existing ones are tightened too.
 */
function protectDatabaseFiles(file: string, warn: (message: string) => void): void {
  const dir = path.dirname(file);
  const dirMode = fs.statSync(dir).mode & 0o777;
  if (dirMode & 0o007) warn(`the data directory ${dir} is open to other users (mode ${dirMode.toString(8)}); run chmod 700 ${dir}`);
  if (!fs.existsSync(file)) fs.closeSync(fs.openSync(file, 'a', 0o600));
  for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) {
    let mode: number;
    try {
      mode = fs.statSync(f).mode & 0o777;
    } catch {
      continue;
    }
    if (mode & 0o077) {
      try {
        fs.chmodSync(f, 0o600);
      } catch (e) {
        // Another process may delete its -wal/-shm between the stat and the chmod: nothing to do.
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw e;
      }
      warn(`${f} was readable by others (mode ${mode.toString(8)}); it is now 0600`);
    }
  }
}

/**
 * Every transaction on the server's connection begins IMMEDIATE, as writeTx's do. A deferred one
 * that reads and then writes must upgrade its read lock, and SQLite answers that with SQLITE_BUSY at
 * once, without the busy handler, when another connection holds a WAL lock even for an instant:
 * the checkpoint worker's does whenever it reads the WAL header while a commit is writing it.
 * There is one connection, so transactions are serialised anyway; taking the write lock first
 * costs nothing.
 */
class ImmediateSqliteDialect extends SqliteDialect {
  constructor(private readonly settings: SqliteDialectConfig) {
    super(settings);
  }
  override createDriver(): SqliteDriver {
    return new (class extends SqliteDriver {
      override async beginTransaction(connection: DatabaseConnection): Promise<void> {
        await connection.executeQuery(CompiledQuery.raw('BEGIN IMMEDIATE'));
      }
    })(this.settings);
  }
}

export interface SqliteOptions {
  warn?: (message: string) => void;
  synchronous?: 'normal' | 'full';
  /** The checkpoint worker's timing and bound; false for none (the WAL then only grows until close). */
  checkpoint?: CheckpointOptions | false;
}

export interface SqliteStore extends Store {
  /** The checkpoints the worker ran (the last 100), for tests and the bench. */
  checkpoints: readonly CheckpointResult[];
}

export async function openSqliteStore(file: string, opts: SqliteOptions = {}): Promise<SqliteStore> {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const warn = opts.warn ?? ((m: string) => process.stderr.write(`warning: ${m}\n`));
  protectDatabaseFiles(file, warn);
  const database = new Database(file);
  database.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  database.pragma('journal_mode = WAL');
  // NORMAL is durable across process crashes (kill -9) in WAL mode; only a power loss can drop
  // the last commits. FULL when the operator asks for it.
  const synchronous = opts.synchronous === 'full' ? 'FULL' : 'NORMAL';
  database.pragma(`synchronous = ${synchronous}`);
  database.pragma('foreign_keys = ON');
  // No checkpoint inside this connection's commits: they run on the event loop.
  database.pragma('wal_autocheckpoint = 0');
  database.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
  const db: Db = new Kysely<Tables>({ dialect: new ImmediateSqliteDialect({ database: withStatementCache(database) }) });
  await migrate(db, sqliteDialect);
  const checkpointer = opts.checkpoint === false ? undefined : startCheckpointer(file, require.resolve(SQLITE_DRIVER), BUSY_TIMEOUT_MS, { synchronous, ...opts.checkpoint }, warn);
  // A checkpoint in the worker every few batches of a bulk delete keeps the WAL small (the
  // checkpointer's header says why); about 1,100 pages (4 MiB) of WAL between two.
  let batches = 0;
  const catchUp = async () => {
    if (checkpointer && ++batches % CATCH_UP_EVERY_BATCHES === 0) await checkpointer.checkpointNow();
  };
  // The worker's connection closes first, so the server's is the last and checkpoints the WAL
  // into the database as it closes.
  return Object.assign(
    createKyselyStore(db, sqliteDialect, async () => {
      await checkpointer?.stop();
      await db.destroy();
    }),
    { checkpoints: checkpointer?.results ?? [], catchUp },
  );
}
