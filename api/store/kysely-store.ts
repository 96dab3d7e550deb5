// The Store implemented once over Kysely, so SQLite and PostgreSQL share every query. A dialect
// supplies only what truly differs: how to open a write transaction, how a unique violation
// looks, and the auto-increment column type.

import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { ProvisionToken } from '../../schema/token';
import { boundAuditEvent } from './audit-bounds';
import { MIGRATIONS } from './migrations';
import {
  AlreadyExistsError,
  ConflictError,
  NotFoundError,
  type AuditEvent,
  type ChallengeResult,
  type NodeRecord,
  type Store,
  type StoredToken,
} from './types';

interface TokensTable { name: string; resource: string; revision: string; created_at: string; updated_at: string }
interface NodesTable { host_id: string; join_method: string; token_name: string; role: string; joined_at: string; cert_serial: string; attributes: string }
interface ChallengesTable { challenge: string; expires_at: string; used_at: string | null }
interface AuditTable {
  id?: number; time: string; type: string; success: number; code: string | null; message: string | null;
  token_name: string | null; host_id: string | null; remote_addr: string | null; details: string | null;
}
interface SettingsTable { key: string; value: string }
interface MigrationsTable { version: number; name: string; applied_at: string }

export interface Tables {
  tokens: TokensTable;
  nodes: NodesTable;
  iam_challenges: ChallengesTable;
  audit_events: AuditTable;
  settings: SettingsTable;
  schema_migrations: MigrationsTable;
}

export type Db = Kysely<Tables>;

export interface Dialect {
  kind: Store['kind'];
  autoId: string;
  /** Runs fn in a transaction that holds the write lock from its first statement. */
  writeTx<T>(db: Db, fn: (tx: Transaction<Tables> | Db) => Promise<T>): Promise<T>;
  isUniqueViolation(e: unknown): boolean;
}

function rowToToken(row: TokensTable): StoredToken {
  const token = JSON.parse(row.resource) as ProvisionToken;
  token.metadata.revision = row.revision;
  return { token, createdAt: row.created_at, updatedAt: row.updated_at };
}

function serialize(token: ProvisionToken): string {
  const copy = structuredClone(token);
  delete copy.metadata.revision; // the revision column is authoritative
  return JSON.stringify(copy);
}

export async function migrate(db: Db, dialect: Dialect): Promise<void> {
  await sql`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`.execute(db);
  for (const m of MIGRATIONS) {
    await dialect.writeTx(db, async (tx) => {
      const done = await tx.selectFrom('schema_migrations').select('version').where('version', '=', m.version).executeTakeFirst();
      if (done) return;
      await m.up(tx as Kysely<any>, { autoId: dialect.autoId });
      await tx.insertInto('schema_migrations').values({ version: m.version, name: m.name, applied_at: new Date().toISOString() }).execute();
    });
  }
  const newest = await db.selectFrom('schema_migrations').select(({ fn }) => fn.max('version').as('v')).executeTakeFirst();
  const known = MIGRATIONS[MIGRATIONS.length - 1].version;
  if (Number(newest?.v ?? 0) > known) {
    throw new Error(`the database schema is version ${newest?.v}, newer than this Joinery release understands (${known}); upgrade Joinery`);
  }
}

export function createKyselyStore(db: Db, dialect: Dialect, onClose: () => Promise<void>): Store {
  const now = () => new Date().toISOString();
  return {
    kind: dialect.kind,
    tokens: {
      async list() {
        const rows = await db.selectFrom('tokens').selectAll().orderBy('name').execute();
        return rows.map(rowToToken);
      },
      async get(name) {
        const row = await db.selectFrom('tokens').selectAll().where('name', '=', name).executeTakeFirst();
        return row ? rowToToken(row) : undefined;
      },
      async create(token) {
        const t = now();
        const row = { name: token.metadata.name, resource: serialize(token), revision: randomUUID(), created_at: t, updated_at: t };
        try {
          await db.insertInto('tokens').values(row).execute();
        } catch (e) {
          if (dialect.isUniqueViolation(e)) throw new AlreadyExistsError(`token ${JSON.stringify(token.metadata.name)}`);
          throw e;
        }
        return rowToToken(row);
      },
      async put(token, expectedRevision) {
        const name = token.metadata.name;
        return dialect.writeTx(db, async (tx) => {
          const current = await tx.selectFrom('tokens').selectAll().where('name', '=', name).executeTakeFirst();
          if (expectedRevision !== undefined) {
            if (!current) throw new NotFoundError(`token ${JSON.stringify(name)}`);
            if (current.revision !== expectedRevision) {
              throw new ConflictError(`token ${JSON.stringify(name)} was changed by someone else (revision ${current.revision}, you sent ${expectedRevision}); read it again and retry`);
            }
          }
          const t = now();
          const row = { name, resource: serialize(token), revision: randomUUID(), created_at: current?.created_at ?? t, updated_at: t };
          if (current) {
            await tx.updateTable('tokens').set({ resource: row.resource, revision: row.revision, updated_at: t }).where('name', '=', name).execute();
          } else {
            await tx.insertInto('tokens').values(row).execute();
          }
          return { stored: rowToToken(row), created: !current };
        });
      },
      async delete(name) {
        const r = await db.deleteFrom('tokens').where('name', '=', name).executeTakeFirst();
        return Number(r.numDeletedRows) > 0;
      },
    },
    nodes: {
      async list() {
        const rows = await db.selectFrom('nodes').selectAll().orderBy('joined_at').execute();
        return rows.map(rowToNode);
      },
      async get(hostId) {
        const row = await db.selectFrom('nodes').selectAll().where('host_id', '=', hostId).executeTakeFirst();
        return row ? rowToNode(row) : undefined;
      },
      async insert(node) {
        try {
          await db
            .insertInto('nodes')
            .values({
              host_id: node.hostId,
              join_method: node.joinMethod,
              token_name: node.tokenName,
              role: node.role,
              joined_at: node.joinedAt,
              cert_serial: node.certSerial,
              attributes: JSON.stringify(node.attributes),
            })
            .execute();
        } catch (e) {
          if (dialect.isUniqueViolation(e)) throw new AlreadyExistsError(`node ${node.hostId}`);
          throw e;
        }
      },
      async delete(hostId) {
        const r = await db.deleteFrom('nodes').where('host_id', '=', hostId).executeTakeFirst();
        return Number(r.numDeletedRows) > 0;
      },
    },
    challenges: {
      async create(challenge, expiresAt) {
        await db.insertInto('iam_challenges').values({ challenge, expires_at: expiresAt.toISOString(), used_at: null }).execute();
      },
      async consume(challenge, at): Promise<ChallengeResult> {
        const t = at.toISOString();
        // One conditional UPDATE: of two concurrent uses exactly one changes the row.
        const r = await db
          .updateTable('iam_challenges')
          .set({ used_at: t })
          .where('challenge', '=', challenge)
          .where('used_at', 'is', null)
          .where('expires_at', '>', t)
          .executeTakeFirst();
        if (Number(r.numUpdatedRows) === 1) return 'ok';
        const row = await db.selectFrom('iam_challenges').selectAll().where('challenge', '=', challenge).executeTakeFirst();
        if (!row) return 'missing';
        return row.used_at ? 'used' : 'expired';
      },
      async prune(before) {
        const r = await db.deleteFrom('iam_challenges').where('expires_at', '<', before.toISOString()).executeTakeFirst();
        return Number(r.numDeletedRows);
      },
      async countActive(at, atMost) {
        let active = db.selectFrom('iam_challenges').select('challenge').where('used_at', 'is', null).where('expires_at', '>', at.toISOString());
        if (atMost !== undefined) active = active.limit(atMost);
        const row = await db.selectFrom(active.as('active')).select(({ fn }) => fn.countAll().as('n')).executeTakeFirstOrThrow();
        return Number(row.n);
      },
    },
    audit: {
      async append(event: AuditEvent) {
        const e = boundAuditEvent(event);
        await db
          .insertInto('audit_events')
          .values({
            time: e.time,
            type: e.type,
            success: e.success ? 1 : 0,
            code: e.code ?? null,
            message: e.message ?? null,
            token_name: e.tokenName ?? null,
            host_id: e.hostId ?? null,
            remote_addr: e.remoteAddr ?? null,
            details: e.details ? JSON.stringify(e.details) : null,
          })
          .execute();
      },
      async list(opts = {}) {
        let q = db.selectFrom('audit_events').selectAll().orderBy('id', 'desc').limit(Math.min(Math.max(opts.limit ?? 100, 1), 1000));
        if (opts.type) q = q.where('type', '=', opts.type);
        const rows = await q.execute();
        return rows.map((r) => ({
          id: Number(r.id),
          time: r.time,
          type: r.type,
          success: Number(r.success) === 1,
          code: r.code ?? undefined,
          message: r.message ?? undefined,
          tokenName: r.token_name ?? undefined,
          hostId: r.host_id ?? undefined,
          remoteAddr: r.remote_addr ?? undefined,
          details: r.details ? JSON.parse(r.details) : undefined,
        }));
      },
      async prune({ before, keepRows }) {
        let deleted = 0;
        if (before) {
          const r = await db.deleteFrom('audit_events').where('time', '<', before.toISOString()).executeTakeFirst();
          deleted += Number(r.numDeletedRows);
        }
        if (keepRows !== undefined) {
          // The id of the oldest row to keep; ids grow with time, so everything below it goes.
          const edge = await db.selectFrom('audit_events').select('id').orderBy('id', 'desc').offset(Math.max(keepRows - 1, 0)).limit(1).executeTakeFirst();
          if (edge?.id !== undefined) {
            const r = await db.deleteFrom('audit_events').where('id', keepRows > 0 ? '<' : '<=', edge.id).executeTakeFirst();
            deleted += Number(r.numDeletedRows);
          }
        }
        return deleted;
      },
    },
    settings: {
      async get(key) {
        const row = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
        return row?.value;
      },
      async setIfAbsent(key, value) {
        await db.insertInto('settings').values({ key, value }).onConflict((oc) => oc.column('key').doNothing()).execute();
        const row = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirstOrThrow();
        return row.value;
      },
      async set(key, value) {
        await db.insertInto('settings').values({ key, value }).onConflict((oc) => oc.column('key').doUpdateSet({ value })).execute();
      },
    },
    async ping() {
      try {
        await sql`SELECT 1`.execute(db);
        return true;
      } catch {
        return false;
      }
    },
    close: onClose,
  };
}

function rowToNode(row: NodesTable): NodeRecord {
  return {
    hostId: row.host_id,
    joinMethod: row.join_method,
    tokenName: row.token_name,
    role: row.role,
    joinedAt: row.joined_at,
    certSerial: row.cert_serial,
    attributes: JSON.parse(row.attributes),
  };
}
