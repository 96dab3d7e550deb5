// Versioned schema migrations. Each runs once, in order, inside a transaction, and is recorded in
// schema_migrations. The DDL is written in the subset SQLite and PostgreSQL share; the one
// difference (auto-increment ids) is passed in by the dialect.

import { sql, type Kysely } from 'kysely';

export interface Migration {
  version: number;
  name: string;
  up(db: Kysely<any>, d: { autoId: string }): Promise<void>;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'tokens, nodes, challenges, audit, settings',
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
];

/** The host certificate lifetime before version 2 recorded expiries. */
const LEGACY_HOST_CERT_TTL_MS = 30 * 24 * 3600 * 1000;

/** One spelling per serial: lower-case hex without leading zeros (as an integer, the way X.509 compares them). */
export function normalizeSerial(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/, '');
}
