// Migrations through Kysely's Migrator: fresh databases, databases made by the releases before
// it (schema_migrations only), newer databases refused, and concurrent starts migrating once.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from '../../api/store/sqlite-driver';
import { Client } from 'pg';
import { openSqliteStore } from '../../api/store/sqlite';
import { openPostgresStore } from '../../api/store/postgres';
import { LATEST_MIGRATION } from '../../api/store/migrations';
import type { Store } from '../../api/store/types';
import { createDatabase, startPostgres, type TestPostgres } from '../support/postgres';
import { REPO_ROOT } from '../support/server';

const NAMES = ['0001_tokens_nodes_challenges_audit_settings', '0002_host_certificate_lifecycle', '0003_audit_query_indexes', '0004_fleet_scale_counters_and_indexes', '0005_console_sessions', '0006_inventory_and_locks'];

/** The schema exactly as the releases before the Migrator left it at version 2. */
const oldSchema = (autoId: string) => [
  'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
  'CREATE TABLE tokens (name TEXT PRIMARY KEY, resource TEXT NOT NULL, revision TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)',
  'CREATE TABLE nodes (host_id TEXT PRIMARY KEY, join_method TEXT NOT NULL, token_name TEXT NOT NULL, role TEXT NOT NULL, joined_at TEXT NOT NULL, cert_serial TEXT NOT NULL, attributes TEXT NOT NULL)',
  'CREATE TABLE iam_challenges (challenge TEXT PRIMARY KEY, expires_at TEXT NOT NULL, used_at TEXT)',
  `CREATE TABLE audit_events (id ${autoId}, time TEXT NOT NULL, type TEXT NOT NULL, success INTEGER NOT NULL, code TEXT, message TEXT, token_name TEXT, host_id TEXT, remote_addr TEXT, details TEXT)`,
  'CREATE INDEX audit_events_time ON audit_events (time)',
  'CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)',
  "INSERT INTO schema_migrations VALUES (1, 'tokens, nodes, challenges, audit, settings', '2026-01-01T00:00:00.000Z')",
  'CREATE TABLE host_certificates (serial TEXT PRIMARY KEY, host_id TEXT NOT NULL, issued_at TEXT NOT NULL, not_after TEXT NOT NULL, revoked_at TEXT)',
  'CREATE INDEX host_certificates_host_id ON host_certificates (host_id)',
  'CREATE INDEX host_certificates_revoked_at ON host_certificates (revoked_at)',
  'ALTER TABLE nodes ADD COLUMN cert_not_after TEXT',
  'ALTER TABLE nodes ADD COLUMN last_renewed_at TEXT',
  'ALTER TABLE nodes ADD COLUMN removed_at TEXT',
  'CREATE INDEX nodes_cert_not_after ON nodes (cert_not_after)',
  'CREATE INDEX iam_challenges_expires_at ON iam_challenges (expires_at)',
  "INSERT INTO schema_migrations VALUES (2, 'host certificate lifecycle: issued certificates, renewal and removal on nodes', '2026-02-01T00:00:00.000Z')",
  `INSERT INTO tokens VALUES ('kept-token', '{"kind":"token","version":"v2","metadata":{"name":"kept-token"},"spec":{"roles":["Node"],"join_method":"token"}}', 'rev-1', '2026-01-02T00:00:00.000Z', '2026-01-02T00:00:00.000Z')`,
  "INSERT INTO nodes VALUES ('kept-host', 'token', 'kept-token', 'Node', '2026-02-02T00:00:00.000Z', 'ab', '{}', '2030-01-01T00:00:00.000Z', NULL, NULL)",
  "INSERT INTO host_certificates VALUES ('ab', 'kept-host', '2026-02-02T00:00:00.000Z', '2030-01-01T00:00:00.000Z', NULL)",
  "INSERT INTO settings VALUES ('ca_cert_pem', 'PEM')",
];

interface Backend {
  /** A new empty database: its handle for open() and raw SQL. */
  fresh(): Promise<string>;
  open(db: string): Promise<Store>;
  exec(db: string, statements: string[]): Promise<void>;
  query(db: string, q: string): Promise<Record<string, unknown>[]>;
  autoId: string;
}

let dir: string;
let pg: TestPostgres;
let dbCount = 0;
beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterAll(() => pg?.stop());
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-migrations-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const sqlite: Backend = {
  async fresh() {
    return path.join(dir, `db${++dbCount}.db`);
  },
  open: (file) => openSqliteStore(file, { warn: () => undefined }),
  async exec(file, statements) {
    const db = new Database(file);
    for (const s of statements) db.exec(s);
    db.close();
  },
  async query(file, q) {
    const db = new Database(file, { readonly: true });
    try {
      return db.prepare(q).all() as Record<string, unknown>[];
    } finally {
      db.close();
    }
  },
  autoId: 'INTEGER PRIMARY KEY AUTOINCREMENT',
};

async function withPg<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

const postgres: Backend = {
  fresh: () => createDatabase(pg, `m${++dbCount}`),
  open: (url) => openPostgresStore(url),
  async exec(url, statements) {
    await withPg(url, async (c) => {
      for (const s of statements) await c.query(s);
    });
  },
  query: (url, q) => withPg(url, async (c) => (await c.query(q)).rows),
  autoId: 'BIGSERIAL PRIMARY KEY',
};

describe.each([
  ['sqlite', sqlite],
  ['postgres', postgres],
] as const)('%s', (_name, b) => {
  test('a fresh database gets every migration, recorded by the Migrator and in schema_migrations; /readyz follows the Migrator table', async () => {
    const db = await b.fresh();
    const store = await b.open(db);
    try {
      expect((await b.query(db, 'SELECT name FROM kysely_migration ORDER BY name')).map((r) => r.name)).toEqual(NAMES);
      expect((await b.query(db, 'SELECT version FROM schema_migrations ORDER BY version')).map((r) => Number(r.version))).toEqual([1, 2, 3, 4, 5, 6]);
      expect(NAMES[NAMES.length - 1]).toBe(LATEST_MIGRATION);
      await store.settings.set('ca_cert_pem', 'PEM');
      expect(await store.ping()).toBe(true);
      // A schema behind the newest migration is not ready.
      await b.exec(db, [`DELETE FROM kysely_migration WHERE name = '${LATEST_MIGRATION}'`]);
      expect(await store.ping()).toBe(false);
    } finally {
      await store.close();
    }
  });

  test('a database made by the releases before the Migrator is adopted: nothing re-runs, data and history kept', async () => {
    const db = await b.fresh();
    await b.exec(db, oldSchema(b.autoId));
    for (let i = 0; i < 2; i++) {
      const store = await b.open(db); // the second open finds nothing to do
      try {
        expect((await store.tokens.get('kept-token'))?.token.metadata.revision).toBe('rev-1');
        expect(await store.nodes.get('kept-host')).toMatchObject({ certSerial: 'ab', certNotAfter: '2030-01-01T00:00:00.000Z' });
        expect(await store.ping()).toBe(true);
      } finally {
        await store.close();
      }
    }
    expect((await b.query(db, 'SELECT name FROM kysely_migration ORDER BY name')).map((r) => r.name)).toEqual(NAMES);
    const history = await b.query(db, 'SELECT version, applied_at FROM schema_migrations ORDER BY version');
    expect(history.slice(0, 2)).toEqual([
      { version: 1, applied_at: '2026-01-01T00:00:00.000Z' },
      { version: 2, applied_at: '2026-02-01T00:00:00.000Z' },
    ]);
    expect(history.map((r) => Number(r.version))).toEqual([1, 2, 3, 4, 5, 6]);
  });

  test('a version 1 database from before the Migrator is adopted at 1 and migrated to the newest', async () => {
    const db = await b.fresh();
    const v1 = oldSchema(b.autoId).slice(0, 8);
    await b.exec(db, [...v1, "INSERT INTO nodes VALUES ('legacy', 'ec2', 'ec2-token', 'Node', '2026-01-01T00:00:00.000Z', '0A1B2C', '{}')"]);
    const store = await b.open(db);
    try {
      expect(await store.nodes.get('legacy')).toMatchObject({ certSerial: 'a1b2c', certNotAfter: '2026-01-31T00:00:00.000Z' });
    } finally {
      await store.close();
    }
    expect((await b.query(db, 'SELECT version FROM schema_migrations ORDER BY version')).map((r) => Number(r.version))).toEqual([1, 2, 3, 4, 5, 6]);
    expect((await b.query(db, 'SELECT name FROM kysely_migration ORDER BY name')).map((r) => r.name)).toEqual(NAMES);
  });

  test.each([
    ['recorded by an old-style release', "INSERT INTO schema_migrations VALUES (7, 'future', '2030-01-01T00:00:00.000Z')"],
    ['recorded by the Migrator', "INSERT INTO kysely_migration VALUES ('0007_future', '2030-01-01T00:00:00.000Z')"],
  ])('a database from a newer release (%s) is refused with the version', async (_how, insert) => {
    const db = await b.fresh();
    await (await b.open(db)).close();
    await b.exec(db, [insert]);
    await expect(b.open(db)).rejects.toThrow('the database schema is version 7, newer than this Joinery release understands (6); upgrade Joinery');
  });
});

test('postgres: replicas starting at once on one fresh database migrate exactly once', async () => {
  const url = await postgres.fresh();
  const stores = await Promise.all(Array.from({ length: 4 }, () => openPostgresStore(url)));
  try {
    expect((await postgres.query(url, 'SELECT name FROM kysely_migration ORDER BY name')).map((r) => r.name)).toEqual(NAMES);
    expect((await postgres.query(url, 'SELECT version FROM schema_migrations ORDER BY version')).map((r) => Number(r.version))).toEqual([1, 2, 3, 4, 5, 6]);
    await stores[0].tokens.create({ kind: 'token', version: 'v2', metadata: { name: 'one' }, spec: { roles: ['Node'], join_method: 'token' } } as never);
    expect(await stores[3].tokens.count()).toBe(1);
  } finally {
    await Promise.all(stores.map((s) => s.close()));
  }
});

test('postgres: replicas upgrading one database made before the Migrator adopt it exactly once', async () => {
  const url = await postgres.fresh();
  await postgres.exec(url, oldSchema(postgres.autoId).slice(0, 8));
  const stores = await Promise.all(Array.from({ length: 4 }, () => openPostgresStore(url)));
  await Promise.all(stores.map((s) => s.close()));
  expect((await postgres.query(url, 'SELECT name FROM kysely_migration ORDER BY name')).map((r) => r.name)).toEqual(NAMES);
  expect((await postgres.query(url, 'SELECT version FROM schema_migrations ORDER BY version')).map((r) => Number(r.version))).toEqual([1, 2, 3, 4, 5, 6]);
});

/** Opens the store in a separate process (SQLite locks are per process; one thread cannot wait on itself). */
function openInChild(file: string): Promise<{ code: number | null; out: string }> {
  const script = `
    process.stdout.write('started\\n');
    require(${JSON.stringify(path.join(REPO_ROOT, 'dist', 'api', 'store', 'sqlite.js'))})
      .openSqliteStore(process.argv[1], { warn: () => undefined })
      .then((s) => s.close())
      .then(() => process.stdout.write('migrated\\n'), (e) => { process.stdout.write('failed: ' + e.message + '\\n'); process.exitCode = 1; });`;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', script, file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.once('exit', (code) => resolve({ code, out }));
  });
}

test('sqlite: processes starting at once on one file migrate exactly once (BEGIN IMMEDIATE)', async () => {
  const file = await sqlite.fresh();
  // Hold the write lock while the processes start, so that all of them reach the migration
  // together when it is released.
  const holder = new Database(file);
  holder.pragma('journal_mode = WAL');
  holder.exec('BEGIN IMMEDIATE');
  const children = Array.from({ length: 3 }, () => openInChild(file));
  await new Promise((r) => setTimeout(r, 500)); // let them start and queue on the lock (a head start, not a correctness wait)
  holder.exec('COMMIT');
  holder.close();
  const results = await Promise.all(children);
  for (const r of results) expect(r).toEqual({ code: 0, out: 'started\nmigrated\n' });
  expect((await sqlite.query(file, 'SELECT name FROM kysely_migration ORDER BY name')).map((r) => r.name)).toEqual(NAMES);
  expect((await sqlite.query(file, 'SELECT version FROM schema_migrations ORDER BY version')).map((r) => Number(r.version))).toEqual([1, 2, 3, 4, 5, 6]);
}, 60_000);

test('sqlite: a migration that fails leaves nothing behind', async () => {
  const file = await sqlite.fresh();
  // A table the first migration creates already exists: the migration fails part-way.
  await sqlite.exec(file, ['CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)']);
  await expect(sqlite.open(file)).rejects.toThrow(/settings/);
  const tables = (await sqlite.query(file, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")).map((r) => r.name);
  expect(tables).toEqual(['settings']);
});
