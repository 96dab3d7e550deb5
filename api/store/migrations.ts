// Versioned schema migrations, run by Kysely's Migrator from an in-code provider (not a folder on
// disk, so a bundled build carries them). The DDL is written in the subset SQLite and PostgreSQL
// share; the one difference (auto-increment ids) is passed in by the dialect.
//
// History: releases before the Migrator recorded migrations in `schema_migrations` (version, name,
// applied_at) and ran them themselves. That table is kept rather than converted, for two reasons:
// it holds the original applied_at of every database in the field, and a release from before the
// Migrator, started against a newer database, reads only that table to refuse it. So each
// migration still writes its row there (in the Migrator's transaction), and a migration that the
// table already records is adopted: the Migrator marks it done in `kysely_migration` without
// running its DDL again. Adoption happens inside the Migrator's run, under its lock, so it needs
// no separate one-time step that could race.

import { Migrator, sql, type Kysely, type MigrationProvider } from 'kysely';

interface SchemaMigration {
  version: number;
  /** The name recorded in schema_migrations (what releases before the Migrator wrote). */
  name: string;
  /** The Migrator's name suffix; the Migrator orders by name, so the version is zero-padded in front. */
  slug: string;
  up(db: Kysely<any>, d: { autoId: string }): Promise<void>;
}

const SCHEMA_MIGRATIONS: SchemaMigration[] = [
  {
    version: 1,
    name: 'tokens, nodes, challenges, audit, settings',
    slug: 'tokens_nodes_challenges_audit_settings',
    async up(db, d) {
      await sql`CREATE TABLE tokens (
        name TEXT PRIMARY KEY,
        resource TEXT NOT NULL,
        revision TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      )`.execute(db);
      await sql`CREATE TABLE nodes (
        host_id TEXT PRIMARY KEY,
        join_method TEXT NOT NULL,
        token_name TEXT NOT NULL,
        role TEXT NOT NULL,
        joined_at TEXT NOT NULL,
        cert_serial TEXT NOT NULL,
        attributes TEXT NOT NULL
      )`.execute(db);
      await sql`CREATE TABLE iam_challenges (
        challenge TEXT PRIMARY KEY,
        expires_at TEXT NOT NULL,
        used_at TEXT
      )`.execute(db);
      await sql`CREATE TABLE audit_events (
        id ${sql.raw(d.autoId)},
        time TEXT NOT NULL,
        type TEXT NOT NULL,
        success INTEGER NOT NULL,
        code TEXT,
        message TEXT,
        token_name TEXT,
        host_id TEXT,
        remote_addr TEXT,
        details TEXT
      )`.execute(db);
      await sql`CREATE INDEX audit_events_time ON audit_events (time)`.execute(db);
      await sql`CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)`.execute(db);
    },
  },
  {
    version: 2,
    name: 'host certificate lifecycle: issued certificates, renewal and removal on nodes',
    slug: 'host_certificate_lifecycle',
    async up(db) {
      // Every certificate issued to a host, so renewal can tell ours from a forgery with a valid
      // signature (the server's own TLS certificate, say) and the CRL can list a removed host's.
      await sql`CREATE TABLE host_certificates (
        serial TEXT PRIMARY KEY,
        host_id TEXT NOT NULL,
        issued_at TEXT NOT NULL,
        not_after TEXT NOT NULL,
        revoked_at TEXT
      )`.execute(db);
      await sql`CREATE INDEX host_certificates_host_id ON host_certificates (host_id)`.execute(db);
      await sql`CREATE INDEX host_certificates_revoked_at ON host_certificates (revoked_at)`.execute(db);
      await sql`ALTER TABLE nodes ADD COLUMN cert_not_after TEXT`.execute(db);
      await sql`ALTER TABLE nodes ADD COLUMN last_renewed_at TEXT`.execute(db);
      await sql`ALTER TABLE nodes ADD COLUMN removed_at TEXT`.execute(db);
      await sql`CREATE INDEX nodes_cert_not_after ON nodes (cert_not_after)`.execute(db);
      await sql`CREATE INDEX iam_challenges_expires_at ON iam_challenges (expires_at)`.execute(db);

      // Hosts joined before this version got certificates of the then default lifetime (30 days)
      // and nothing recorded their expiry: assume that default, so they can renew and, once
      // lapsed, join again.
      const rows = await db.selectFrom('nodes').select(['host_id', 'joined_at', 'cert_serial']).execute();
      for (const row of rows as { host_id: string; joined_at: string; cert_serial: string }[]) {
        const joined = Date.parse(row.joined_at);
        const notAfter = new Date((Number.isNaN(joined) ? 0 : joined) + LEGACY_HOST_CERT_TTL_MS).toISOString();
        const serial = normalizeSerial(row.cert_serial);
        await db.updateTable('nodes').set({ cert_not_after: notAfter, cert_serial: serial }).where('host_id', '=', row.host_id).execute();
        await db.insertInto('host_certificates').values({ serial, host_id: row.host_id, issued_at: row.joined_at, not_after: notAfter, revoked_at: null }).execute();
      }
    },
  },
  {
    version: 3,
    name: 'audit queries: indexes for the filters of joinery audit ls',
    slug: 'audit_query_indexes',
    async up(db) {
      // Each filter of `GET /v1/audit` walks its own index newest first (id descending within
      // the value), so an operator asking for one host's or one token's events among millions
      // reads that host's rows only. Refusals get a partial index: they are the rare rows.
      await sql`CREATE INDEX audit_events_type_id ON audit_events (type, id)`.execute(db);
      await sql`CREATE INDEX audit_events_host_id ON audit_events (host_id, id)`.execute(db);
      await sql`CREATE INDEX audit_events_token_name ON audit_events (token_name, id)`.execute(db);
      await sql`CREATE INDEX audit_events_code ON audit_events (code, id)`.execute(db);
      await sql`CREATE INDEX audit_events_refused ON audit_events (id) WHERE success = 0`.execute(db);
    },
  },
  {
    version: 4,
    name: 'fleet scale: counters kept by the writes, indexes for the CRL, expiry prune and status counts',
    slug: 'fleet_scale_counters_and_indexes',
    async up(db) {
      // Counts the writes keep in their own transactions, so /metrics reads two rows instead of
      // scanning the registry; crl_revision grows with every removal that revokes, so replicas
      // derive the same CRL number from it.
      await sql`CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)`.execute(db);
      await sql`INSERT INTO counters (name, value) SELECT 'nodes', COUNT(*) FROM nodes`.execute(db);
      await sql`INSERT INTO counters (name, value) SELECT 'nodes_removed', COUNT(*) FROM nodes WHERE removed_at IS NOT NULL`.execute(db);
      await sql`INSERT INTO counters (name, value) SELECT 'crl_revision', COUNT(*) FROM host_certificates WHERE revoked_at IS NOT NULL`.execute(db);
      // The CRL reads revoked serials in (revoked_at, serial) order straight from this index, its
      // expiry filter included, without touching the table; it replaces the revoked_at index.
      await sql`CREATE INDEX host_certificates_revoked ON host_certificates (revoked_at, serial, not_after)`.execute(db);
      await sql`DROP INDEX host_certificates_revoked_at`.execute(db);
      // The certificate prune deletes by expiry in batches.
      await sql`CREATE INDEX host_certificates_not_after ON host_certificates (not_after)`.execute(db);
      // Lapsed hosts not removed: the one status count that depends on the time, read as a range.
      await sql`CREATE INDEX nodes_live_cert_not_after ON nodes (cert_not_after) WHERE removed_at IS NULL`.execute(db);
    },
  },
  {
    version: 5,
    name: 'web console sessions',
    slug: 'console_sessions',
    async up(db) {
      // Signed-in browsers of the web console, shared by every replica. Only the SHA-256 of the
      // session ID (the cookie) is kept: a copy of the table signs nobody in.
      await sql`CREATE TABLE console_sessions (
        id_sha256 TEXT PRIMARY KEY,
        csrf TEXT NOT NULL,
        created_at TEXT NOT NULL,
        last_seen_at TEXT NOT NULL
      )`.execute(db);
      await sql`CREATE INDEX console_sessions_last_seen_at ON console_sessions (last_seen_at)`.execute(db);
      await sql`CREATE INDEX console_sessions_created_at ON console_sessions (created_at)`.execute(db);
    },
  },
  {
    version: 6,
    name: 'inventory (last seen, agent report, identity, labels) and locks',
    slug: 'inventory_and_locks',
    async up(db) {
      // The inventory: when a host was last seen, what its agent says of itself, the verified
      // identity as columns (locks match and revoke by them) and labels from verified sources.
      await sql`ALTER TABLE nodes ADD COLUMN last_seen TEXT`.execute(db);
      await sql`ALTER TABLE nodes ADD COLUMN agent_version TEXT`.execute(db);
      await sql`ALTER TABLE nodes ADD COLUMN hostname TEXT`.execute(db);
      await sql`ALTER TABLE nodes ADD COLUMN labels TEXT`.execute(db);
      await sql`ALTER TABLE nodes ADD COLUMN aws_account TEXT`.execute(db);
      await sql`ALTER TABLE nodes ADD COLUMN instance_id TEXT`.execute(db);
      await sql`ALTER TABLE nodes ADD COLUMN arn TEXT`.execute(db);
      await sql`UPDATE nodes SET last_seen = COALESCE(last_renewed_at, joined_at)`.execute(db);
      // The identity columns from the attributes hosts joined with, a page at a time.
      let after = '';
      for (;;) {
        const rows = (await db.selectFrom('nodes').select(['host_id', 'attributes']).where('host_id', '>', after).orderBy('host_id').limit(1000).execute()) as { host_id: string; attributes: string }[];
        if (rows.length === 0) break;
        for (const row of rows) {
          const a = JSON.parse(row.attributes) as Record<string, string>;
          if (a.account || a.instance_id || a.arn) {
            await db.updateTable('nodes').set({ aws_account: a.account ?? null, instance_id: a.instance_id ?? null, arn: a.arn ?? null }).where('host_id', '=', row.host_id).execute();
          }
        }
        after = rows[rows.length - 1].host_id;
      }
      // The filters of `nodes ls` that select few hosts walk their own index in host-ID order.
      await sql`CREATE INDEX nodes_last_seen ON nodes (last_seen)`.execute(db);
      await sql`CREATE INDEX nodes_token_name ON nodes (token_name, host_id)`.execute(db);
      await sql`CREATE INDEX nodes_join_method ON nodes (join_method, host_id)`.execute(db);
      await sql`CREATE INDEX nodes_aws_account ON nodes (aws_account)`.execute(db);
      await sql`CREATE INDEX nodes_instance_id ON nodes (instance_id)`.execute(db);
      // The prune of removed hosts reads them oldest first.
      await sql`CREATE INDEX nodes_removed_at ON nodes (removed_at) WHERE removed_at IS NOT NULL`.execute(db);
      await sql`CREATE TABLE locks (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        target TEXT NOT NULL,
        message TEXT,
        created_at TEXT NOT NULL,
        expires_at TEXT
      )`.execute(db);
      await sql`CREATE INDEX locks_expires_at ON locks (expires_at)`.execute(db);
      // Joins and renewals look up the locks of their own host, instance, account and token.
      await sql`CREATE INDEX locks_kind_target ON locks (kind, target)`.execute(db);
    },
  },
];

/** The host certificate lifetime before version 2 recorded expiries. */
const LEGACY_HOST_CERT_TTL_MS = 30 * 24 * 3600 * 1000;

/** One spelling per serial: lower-case hex without leading zeros (as an integer, the way X.509 compares them). */
export function normalizeSerial(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/, '');
}

const migrationName = (m: SchemaMigration) => `${String(m.version).padStart(4, '0')}_${m.slug}`;

/** The Migrator's name of the newest migration this release knows (what /readyz expects). */
export const LATEST_MIGRATION = migrationName(SCHEMA_MIGRATIONS[SCHEMA_MIGRATIONS.length - 1]);
export const LATEST_SCHEMA_VERSION = SCHEMA_MIGRATIONS[SCHEMA_MIGRATIONS.length - 1].version;

/** The Migrator's own table (Kysely's default name). */
export const MIGRATION_TABLE = 'kysely_migration';

/** The version a Migrator name stands for (its zero-padded prefix); NaN for a name of no version. */
export function migrationVersion(name: string): number {
  const m = /^(\d+)_/.exec(name);
  return m ? Number(m[1]) : Number.NaN;
}

function provider(d: { autoId: string }): MigrationProvider {
  return {
    async getMigrations() {
      return Object.fromEntries(
        SCHEMA_MIGRATIONS.map((m) => [
          migrationName(m),
          {
            async up(db: Kysely<any>) {
              const recorded = await db.selectFrom('schema_migrations').select('version').where('version', '=', m.version).executeTakeFirst();
              if (recorded) return; // run by a release before the Migrator: adopt it
              await m.up(db, d);
              await db.insertInto('schema_migrations').values({ version: m.version, name: m.name, applied_at: new Date().toISOString() }).execute();
            },
          },
        ]),
      );
    },
  };
}

async function tableExists(db: Kysely<any>, name: string): Promise<boolean> {
  const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
  return tables.some((t) => t.name === name);
}

/** Refuses a database that a newer release migrated, by either table. */
async function refuseNewer(db: Kysely<any>): Promise<void> {
  const legacy = await db.selectFrom('schema_migrations').select(({ fn }) => fn.max('version').as('v')).executeTakeFirst();
  let newest = Number(legacy?.v ?? 0);
  if (await tableExists(db, MIGRATION_TABLE)) {
    for (const row of await db.selectFrom(MIGRATION_TABLE).select('name').execute()) {
      const v = migrationVersion(String(row.name));
      if (v > newest) newest = v;
    }
  }
  if (newest > LATEST_SCHEMA_VERSION) {
    throw new Error(`the database schema is version ${newest}, newer than this Joinery release understands (${LATEST_SCHEMA_VERSION}); upgrade Joinery`);
  }
}

async function runMigrator(db: Kysely<any>, d: { autoId: string }, opts: { disableTransactions: boolean }): Promise<void> {
  const { error } = await new Migrator({ db, provider: provider(d), migrationTableName: MIGRATION_TABLE, disableTransactions: opts.disableTransactions }).migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
}

const LEGACY_TABLE_DDL = sql`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`;

/** Serialises the startup step across replicas on PostgreSQL (not the lock token writes use). */
const PG_PREPARE_LOCK = 4243;

/**
 * Brings the schema to the newest version, exactly once however many processes start at once.
 *
 * PostgreSQL: the Migrator takes a session advisory lock and runs every pending migration in one
 * transaction; only the legacy table's creation and the newer-release check happen before it,
 * under an advisory lock of their own (concurrent CREATE TABLE IF NOT EXISTS can fail there).
 *
 * SQLite: Kysely's SQLite adapter takes no lock and no transaction (it assumes one connection,
 * which is false for two processes sharing a file), so the whole run happens inside BEGIN
 * IMMEDIATE on one connection: the second process waits for the write lock (busy_timeout), then
 * finds nothing pending, and a failing migration leaves nothing behind.
 */
export async function migrateToLatest(db: Kysely<any>, kind: 'sqlite' | 'postgres', d: { autoId: string }): Promise<void> {
  if (kind === 'postgres') {
    await db.transaction().execute(async (tx) => {
      await sql`SELECT pg_advisory_xact_lock(${PG_PREPARE_LOCK})`.execute(tx);
      await LEGACY_TABLE_DDL.execute(tx);
      await refuseNewer(tx);
    });
    await runMigrator(db, d, { disableTransactions: false });
    return;
  }
  await db.connection().execute(async (conn) => {
    await sql`BEGIN IMMEDIATE`.execute(conn);
    try {
      await LEGACY_TABLE_DDL.execute(conn);
      await refuseNewer(conn);
      await runMigrator(conn, d, { disableTransactions: true });
      await sql`COMMIT`.execute(conn);
    } catch (e) {
      await sql`ROLLBACK`.execute(conn).catch(() => undefined);
      throw e;
    }
  });
}
