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
];
