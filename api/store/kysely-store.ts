// The Store implemented once over Kysely, so SQLite and PostgreSQL share every query. A dialect
// supplies only what truly differs: how to open a write transaction, how a unique violation
// looks, and the auto-increment column type.

import { randomUUID } from 'node:crypto';
import { sql, type ExpressionBuilder, type Kysely, type Transaction } from 'kysely';
import type { ProvisionToken } from '../../schema/token';
import { boundAuditEvent } from './audit-bounds';
import { LATEST_MIGRATION, MIGRATION_TABLE, migrateToLatest, normalizeSerial } from './migrations';
import {
  AlreadyExistsError,
  ConflictError,
  MAX_LIST_LIMIT,
  NotFoundError,
  type AuditEvent,
  type ChallengeResult,
  type HostCertificateRecord,
  type ListOptions,
  type ListPage,
  type LockRecord,
  type LockTargetKind,
  type NodeFilter,
  type NodeRecord,
  type NodeStatus,
  type RevokedEntry,
  type Store,
  type StoredToken,
} from './types';

interface TokensTable { name: string; resource: string; revision: string; created_at: string; updated_at: string }
interface NodesTable {
  host_id: string; join_method: string; token_name: string; role: string; joined_at: string; cert_serial: string; attributes: string;
  cert_not_after: string | null; last_renewed_at: string | null; removed_at: string | null;
  last_seen: string | null; agent_version: string | null; hostname: string | null; labels: string | null;
  aws_account: string | null; instance_id: string | null; arn: string | null;
}
interface LocksTable { id: string; kind: string; target: string; message: string | null; created_at: string; expires_at: string | null }
interface HostCertificatesTable { serial: string; host_id: string; issued_at: string; not_after: string; revoked_at: string | null }
interface ChallengesTable { challenge: string; expires_at: string; used_at: string | null }
interface AuditTable {
  id?: number; time: string; type: string; success: number; code: string | null; message: string | null;
  token_name: string | null; host_id: string | null; remote_addr: string | null; details: string | null;
}
interface SettingsTable { key: string; value: string }
interface CountersTable { name: Counter; value: number | string | bigint }
/** The counts the writes keep (migration 4). */
type Counter = 'nodes' | 'nodes_removed' | 'crl_revision';
interface ConsoleSessionsTable { id_sha256: string; csrf: string; created_at: string; last_seen_at: string }
interface LegacyMigrationsTable { version: number; name: string; applied_at: string }
interface MigratorTable { name: string; timestamp: string }

export interface Tables {
  tokens: TokensTable;
  nodes: NodesTable;
  host_certificates: HostCertificatesTable;
  iam_challenges: ChallengesTable;
  audit_events: AuditTable;
  settings: SettingsTable;
  counters: CountersTable;
  console_sessions: ConsoleSessionsTable;
  locks: LocksTable;
  schema_migrations: LegacyMigrationsTable;
  kysely_migration: MigratorTable;
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

/** Brings the schema up to date. On failure the handle is closed, since no store is handed out to close it. */
export async function migrate(db: Db, dialect: Dialect): Promise<void> {
  try {
    await migrateToLatest(db, dialect.kind, { autoId: dialect.autoId });
  } catch (e) {
    await db.destroy().catch(() => undefined);
    throw e;
  }
}

/** One more row than asked tells whether another page exists without counting. */
function toPage<R, T>(rows: R[], limit: number, map: (r: R) => T, key: (r: R) => string): ListPage<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  return { items: kept.map(map), ...(more ? { next: key(kept[kept.length - 1]) } : {}) };
}

const pageSize = (opts: ListOptions) => Math.min(Math.max(Math.trunc(opts.limit) || 1, 1), MAX_LIST_LIMIT);

export function createKyselyStore(db: Db, dialect: Dialect, onClose: () => Promise<void>): Store {
  const now = () => new Date().toISOString();
  return {
    kind: dialect.kind,
    tokens: {
      async list(opts) {
        const limit = pageSize(opts);
        let q = db.selectFrom('tokens').selectAll().orderBy('name').limit(limit + 1);
        if (opts.after !== undefined) q = q.where('name', '>', opts.after);
        return toPage(await q.execute(), limit, rowToToken, (r) => r.name);
      },
      async count() {
        const row = await db.selectFrom('tokens').select(({ fn }) => fn.countAll().as('n')).executeTakeFirstOrThrow();
        return Number(row.n);
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
      async list(opts, filter, at = new Date()) {
        // By host ID, the key no update changes: a host that re-joins (new joined_at) while an
        // admin pages through keeps its place, so it is seen exactly once.
        const limit = pageSize(opts);
        let q = db.selectFrom('nodes').selectAll().orderBy('host_id').limit(limit + 1);
        if (opts.after !== undefined) q = q.where('host_id', '>', opts.after);
        if (filter) q = q.where((eb) => eb.and(nodeFilter(eb, filter, at)));
        return toPage(await q.execute(), limit, rowToNode, (r) => r.host_id);
      },
      async get(hostId) {
        const row = await db.selectFrom('nodes').selectAll().where('host_id', '=', hostId).executeTakeFirst();
        return row ? rowToNode(row) : undefined;
      },
      async insert(node, at, audit) {
        const t = at.toISOString();
        const serial = normalizeSerial(node.certSerial);
        const row = {
          host_id: node.hostId,
          join_method: node.joinMethod,
          token_name: node.tokenName,
          role: node.role,
          joined_at: node.joinedAt,
          cert_serial: serial,
          cert_not_after: node.certNotAfter,
          last_renewed_at: null,
          removed_at: null,
          attributes: JSON.stringify(node.attributes),
          last_seen: node.lastSeen ?? node.joinedAt,
          agent_version: node.agentVersion ?? null,
          hostname: node.hostname ?? null,
          labels: node.labels && Object.keys(node.labels).length > 0 ? JSON.stringify(sortedLabels(node.labels)) : null,
          aws_account: node.attributes.account ?? null,
          instance_id: node.attributes.instance_id ?? null,
          arn: node.attributes.arn ?? null,
        };
        const { host_id: _key, ...replaced } = row;
        await db.transaction().execute(async (tx) => {
          // A host's first join, the common case, is one insert. A host with a row already keeps it
          // when it is live; a removed row is replaced and leaves the removed count, a lapsed one is
          // replaced and no count moves. Each step is one conditional statement, so concurrent
          // joiners serialise on the row and the loser sees the winner's fresh expiry.
          const inserted = await tx
            .insertInto('nodes')
            .values(row)
            .onConflict((oc) => oc.column('host_id').doNothing())
            .executeTakeFirst();
          if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1) {
            await bump(tx, 'nodes', 1);
          } else {
            const replace = tx.updateTable('nodes').set(replaced).where('host_id', '=', node.hostId);
            const removed = await replace.where('removed_at', 'is not', null).executeTakeFirst();
            if (Number(removed.numUpdatedRows) === 1) {
              await bump(tx, 'nodes_removed', -1);
            } else {
              const lapsed = await replace
                .where('removed_at', 'is', null)
                .where((eb) => eb.or([eb('cert_not_after', 'is', null), eb('cert_not_after', '<=', t)]))
                .executeTakeFirst();
              if (Number(lapsed.numUpdatedRows) !== 1) throw new AlreadyExistsError(`node ${node.hostId}`);
            }
          }
          await tx.insertInto('host_certificates').values({ serial, host_id: node.hostId, issued_at: node.joinedAt, not_after: node.certNotAfter, revoked_at: null }).execute();
          if (audit) await tx.insertInto('audit_events').values(auditRow(audit)).execute();
        });
      },
      async renew(hostId, cert, supersedes, audit, report) {
        const serial = normalizeSerial(cert.serial);
        return db.transaction().execute(async (tx) => {
          // The node row is updated first, as removal does, so the two serialise on it; the
          // current-serial condition makes of two renewals with one certificate exactly one win.
          let q = tx
            .updateTable('nodes')
            .set({
              cert_serial: serial,
              cert_not_after: cert.notAfter,
              last_renewed_at: cert.issuedAt,
              last_seen: cert.issuedAt,
              ...(report?.agentVersion !== undefined ? { agent_version: report.agentVersion } : {}),
              ...(report?.hostname !== undefined ? { hostname: report.hostname } : {}),
            })
            .where('host_id', '=', hostId)
            .where('removed_at', 'is', null);
          if (supersedes !== undefined) q = q.where('cert_serial', '=', normalizeSerial(supersedes));
          const r = await q.executeTakeFirst();
          if (Number(r.numUpdatedRows) !== 1) {
            const row = await tx.selectFrom('nodes').select(['removed_at']).where('host_id', '=', hostId).executeTakeFirst();
            if (!row || row.removed_at) throw new NotFoundError(`node ${hostId}`);
            throw new ConflictError(`certificate ${normalizeSerial(supersedes ?? '')} is no longer host ${hostId}'s current certificate`);
          }
          await tx.insertInto('host_certificates').values({ serial, host_id: hostId, issued_at: cert.issuedAt, not_after: cert.notAfter, revoked_at: null }).execute();
          if (audit) await tx.insertInto('audit_events').values(auditRow(audit)).execute();
          return rowToNode(await tx.selectFrom('nodes').selectAll().where('host_id', '=', hostId).executeTakeFirstOrThrow());
        });
      },
      async pruneCertificates(before, limit) {
        // The oldest `limit` by the not_after index: a batch's cost is its size, not the table's.
        const batch = db.selectFrom('host_certificates').select('serial').where('not_after', '<', before.toISOString()).orderBy('not_after').limit(batchSize(limit));
        const r = await db.deleteFrom('host_certificates').where('serial', 'in', batch).executeTakeFirst();
        return Number(r.numDeletedRows);
      },
      async pruneHosts(before, at, limit) {
        const n = batchSize(limit);
        const t = before.toISOString();
        const nowIso = at.toISOString();
        // Only hosts none of whose certificates is still unexpired: a removed host's revoked
        // certificates stay on the CRL until they expire, and leave it with the row.
        const noLiveCertificate = (eb: ExpressionBuilder<Tables, 'nodes'>) =>
          eb.not(eb.exists(eb.selectFrom('host_certificates').select('serial').whereRef('host_certificates.host_id', '=', 'nodes.host_id').where('host_certificates.not_after', '>', nowIso)));
        // Removed long ago (the partial index of removed hosts), then lapsed long ago (the partial
        // index of live rows by expiry): each a range read of at most `n` rows.
        const removed = await db.selectFrom('nodes').select('host_id').where('removed_at', 'is not', null).where('removed_at', '<', t).where(noLiveCertificate).orderBy('removed_at').limit(n).execute();
        const lapsed =
          removed.length < n
            ? await db.selectFrom('nodes').select('host_id').where('removed_at', 'is', null).where('cert_not_after', '<', t).where(noLiveCertificate).orderBy('cert_not_after').limit(n - removed.length).execute()
            : [];
        const ids = [...removed, ...lapsed].map((r) => r.host_id);
        if (ids.length === 0) return 0;
        return db.transaction().execute(async (tx) => {
          // The conditions again, under the write: a host that re-joined meanwhile stays.
          const gone = await tx
            .deleteFrom('nodes')
            .where('host_id', 'in', ids)
            .where((eb) => eb.or([eb.and([eb('removed_at', 'is not', null), eb('removed_at', '<', t)]), eb.and([eb('removed_at', 'is', null), eb('cert_not_after', '<', t)])]))
            .returning(['host_id', 'removed_at'])
            .execute();
          if (gone.length === 0) return 0;
          await tx.deleteFrom('host_certificates').where('host_id', 'in', gone.map((g) => g.host_id)).execute();
          await bump(tx, 'nodes', -gone.length);
          const wasRemoved = gone.filter((g) => g.removed_at !== null).length;
          if (wasRemoved > 0) await bump(tx, 'nodes_removed', -wasRemoved);
          return gone.length;
        });
      },
      async countLiveCertificates(hostId, at) {
        const t = at.toISOString();
        const row = await db
          .selectFrom('host_certificates')
          .select(({ fn }) => fn.countAll().as('n'))
          .where('host_id', '=', hostId)
          .where('revoked_at', 'is', null)
          .where('not_after', '>', t)
          .executeTakeFirst();
        return Number(row?.n ?? 0);
      },
      async remove(hostId, at) {
        const t = at.toISOString();
        return db.transaction().execute(async (tx) => {
          const r = await tx.updateTable('nodes').set({ removed_at: t }).where('host_id', '=', hostId).where('removed_at', 'is', null).executeTakeFirst();
          if (Number(r.numUpdatedRows) !== 1) {
            const exists = await tx.selectFrom('nodes').select('host_id').where('host_id', '=', hostId).executeTakeFirst();
            return exists ? 'already_removed' : 'not_found';
          }
          const revoked = await tx.updateTable('host_certificates').set({ revoked_at: t }).where('host_id', '=', hostId).where('revoked_at', 'is', null).where('not_after', '>', t).executeTakeFirst();
          await bump(tx, 'nodes_removed', 1);
          if (Number(revoked.numUpdatedRows) > 0) await bump(tx, 'crl_revision', 1);
          return 'removed';
        });
      },
      async countByStatus(at) {
        const totals = await readCounters(db);
        // Lapsed hosts not removed, from the partial index on their expiry: a range over the
        // lapsed ones only, never the registry.
        const row = await db
          .selectFrom('nodes')
          .select(({ fn }) => fn.countAll().as('n'))
          .where('removed_at', 'is', null)
          .where((eb) => eb.or([eb('cert_not_after', '<=', at.toISOString()), eb('cert_not_after', 'is', null)]))
          .executeTakeFirstOrThrow();
        const expired = Number(row.n);
        const removed = totals.nodes_removed;
        return { active: Math.max(totals.nodes - removed - expired, 0), expired, removed } satisfies Record<NodeStatus, number>;
      },
      async countByMethodAndStatus(at) {
        const rows = await db
          .selectFrom('nodes')
          .select((eb) => ['join_method', statusAt(eb, at).as('status'), eb.fn.countAll().as('n')])
          .groupBy(['join_method', 'status'])
          .execute();
        const counts: Record<string, Record<NodeStatus, number>> = {};
        for (const r of rows) (counts[r.join_method] ??= { active: 0, expired: 0, removed: 0 })[r.status as NodeStatus] = Number(r.n);
        return counts;
      },
      async certificate(serial) {
        const cert = await db.selectFrom('host_certificates').selectAll().where('serial', '=', normalizeSerial(serial)).executeTakeFirst();
        if (!cert) return undefined;
        const node = await db.selectFrom('nodes').selectAll().where('host_id', '=', cert.host_id).executeTakeFirst();
        return { certificate: rowToCertificate(cert), node: node ? rowToNode(node) : undefined };
      },
      async revokedCertificates(unexpiredAt, page): Promise<RevokedEntry[]> {
        // Keyset pages over the (revoked_at, serial, not_after) index: each page is a range read
        // of that index alone, however many certificates the table holds.
        let q = db
          .selectFrom('host_certificates')
          .select(['serial', 'revoked_at'])
          .where('revoked_at', 'is not', null)
          .where('not_after', '>', unexpiredAt.toISOString())
          .orderBy('revoked_at')
          .orderBy('serial')
          .limit(batchSize(page.limit));
        const after = page.after;
        if (after) q = q.where((eb) => eb(eb.refTuple('revoked_at', 'serial'), '>', eb.tuple(after.revokedAt, after.serial)));
        const rows = await q.execute();
        return rows.map((r) => ({ serial: r.serial, revokedAt: r.revoked_at! }));
      },
      async crlRevision() {
        return (await readCounters(db)).crl_revision;
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
      async prune(before, limit) {
        const batch = db.selectFrom('iam_challenges').select('challenge').where('expires_at', '<', before.toISOString()).orderBy('expires_at').limit(batchSize(limit));
        const r = await db.deleteFrom('iam_challenges').where('challenge', 'in', batch).executeTakeFirst();
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
        await db.insertInto('audit_events').values(auditRow(event)).execute();
      },
      async list(opts = {}) {
        let q = db.selectFrom('audit_events').selectAll().orderBy('id', 'desc').limit(Math.min(Math.max(opts.limit ?? 100, 1), 1000));
        if (opts.type) q = q.where('type', '=', opts.type);
        return (await q.execute()).map(rowToAuditEvent);
      },
      async page(query) {
        const limit = Math.min(Math.max(query.limit, 1), MAX_LIST_LIMIT);
        let q = db.selectFrom('audit_events').selectAll().orderBy('id', 'desc').limit(limit + 1);
        if (query.beforeId !== undefined) q = q.where('id', '<', query.beforeId);
        if (query.type !== undefined) q = q.where('type', '=', query.type);
        // A literal, not a parameter: only then can the planner use the partial index of refusals.
        if (query.refused) q = q.where(sql<boolean>`success = 0`);
        if (query.tokenNames?.length) q = q.where('token_name', 'in', query.tokenNames);
        if (query.hostId !== undefined) q = q.where('host_id', '=', query.hostId);
        if (query.code !== undefined) q = q.where('code', '=', query.code);
        if (query.since !== undefined) {
          const since = query.since;
          // The time index finds where the window starts; the id bound lets the newest-first walk
          // stop there instead of reading the whole table when the window holds few events.
          q = q.where('time', '>=', since).where('id', '>=', (eb) => eb.selectFrom('audit_events').select(({ fn }) => fn.min('id').as('first')).where('time', '>=', since));
        }
        const rows = await q.execute();
        const items = rows.slice(0, limit).map(rowToAuditEvent);
        return { items, ...(rows.length > limit ? { next: String(items[items.length - 1].id) } : {}) };
      },
      async after(afterId, limit) {
        const rows = await db.selectFrom('audit_events').selectAll().where('id', '>', afterId).orderBy('id', 'asc').limit(Math.max(limit, 1)).execute();
        return rows.map(rowToAuditEvent);
      },
      async newestId() {
        const row = await db.selectFrom('audit_events').select('id').orderBy('id', 'desc').limit(1).executeTakeFirst();
        return row?.id === undefined ? 0 : Number(row.id);
      },
      async prune({ before, keepRows, limit }) {
        // Each rule is a range of an index, oldest first, at most `limit` rows a call, and empty
        // at once when there is nothing to prune. Age: the time index. Rows: ids grow, so the
        // newest id minus keepRows is the cut (one lookup, where OFFSET keepRows walked a million
        // entries); ids with gaps keep slightly fewer than keepRows rows, never more.
        const n = batchSize(limit);
        let deleted = 0;
        if (before) {
          const old = db.selectFrom('audit_events').select('id').where('time', '<', before.toISOString()).orderBy('time').limit(n);
          deleted += Number((await db.deleteFrom('audit_events').where('id', 'in', old).executeTakeFirst()).numDeletedRows);
        }
        if (keepRows !== undefined && deleted < n) {
          const newest = await db.selectFrom('audit_events').select('id').orderBy('id', 'desc').limit(1).executeTakeFirst();
          if (newest?.id !== undefined) {
            const cut = Number(newest.id) - Math.max(keepRows, 0) + 1;
            // A primary-key range up to the batch's last id (PostgreSQL hash-joins an IN (subquery)
            // over the whole table here).
            const last = await db.selectFrom('audit_events').select('id').where('id', '<', cut).orderBy('id').offset(n - deleted - 1).limit(1).executeTakeFirst();
            const r = await db.deleteFrom('audit_events').where('id', last?.id === undefined ? '<' : '<=', last?.id === undefined ? cut : Number(last.id)).executeTakeFirst();
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
      async compareAndSet(key, expected, value) {
        if (expected === undefined) {
          const r = await db.insertInto('settings').values({ key, value }).onConflict((oc) => oc.column('key').doNothing()).executeTakeFirst();
          return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1;
        }
        const r = await db.updateTable('settings').set({ value }).where('key', '=', key).where('value', '=', expected).executeTakeFirst();
        return Number(r.numUpdatedRows) === 1;
      },
    },
    locks: {
      async list(opts, at) {
        const limit = pageSize(opts);
        let q = db.selectFrom('locks').selectAll().where(unexpiredLock(at)).orderBy('id').limit(limit + 1);
        if (opts.after !== undefined) q = q.where('id', '>', opts.after);
        return toPage(await q.execute(), limit, rowToLock, (r) => r.id);
      },
      async active(at, atMost) {
        return (await db.selectFrom('locks').selectAll().where(unexpiredLock(at)).orderBy('id').limit(Math.max(1, atMost)).execute()).map(rowToLock);
      },
      async get(id, at) {
        const row = await db.selectFrom('locks').selectAll().where('id', '=', id).where(unexpiredLock(at)).executeTakeFirst();
        return row ? rowToLock(row) : undefined;
      },
      async candidates(exact, arns, at, atMost) {
        if (exact.length === 0 && !arns) return [];
        const rows = await db
          .selectFrom('locks')
          .selectAll()
          .where(unexpiredLock(at))
          .where((eb) => eb.or([...exact.map((e) => eb.and([eb('kind', '=', e.kind), eb('target', '=', e.target)])), ...(arns ? [eb('kind', '=', 'arn')] : [])]))
          .orderBy('id')
          .limit(Math.max(1, atMost) + exact.length)
          .execute();
        return rows.map(rowToLock);
      },
      async create(lock, at, audit) {
        const t = at.toISOString();
        return db.transaction().execute(async (tx) => {
          await tx
            .insertInto('locks')
            .values({ id: lock.id, kind: lock.kind, target: lock.target, message: lock.message ?? null, created_at: lock.createdAt, expires_at: lock.expiresAt ?? null })
            .execute();
          // The matched hosts' unexpired certificates go on the CRL with the lock.
          const hosts = db.selectFrom('nodes').select('host_id').where((eb) => lockedHosts(eb, lock.kind, lock.target));
          const revoked = await tx.updateTable('host_certificates').set({ revoked_at: t }).where('host_id', 'in', hosts).where('revoked_at', 'is', null).where('not_after', '>', t).executeTakeFirst();
          const n = Number(revoked.numUpdatedRows);
          if (n > 0) await bump(tx, 'crl_revision', 1);
          await tx.insertInto('audit_events').values(auditRow({ ...audit, details: { ...audit.details, revoked_certificates: n } })).execute();
          return n;
        });
      },
      async update(id, changes, at, audit) {
        const set: Partial<LocksTable> = {};
        if (changes.expiresAt !== undefined) set.expires_at = changes.expiresAt;
        if (changes.message !== undefined) set.message = changes.message;
        return db.transaction().execute(async (tx) => {
          const q = tx.updateTable('locks').where('id', '=', id).where(unexpiredLock(at));
          // An empty change still answers the lock (and audits nothing new but the request).
          const row = await (Object.keys(set).length > 0 ? q.set(set) : q.set({ id })).returningAll().executeTakeFirst();
          if (!row) return undefined;
          const lock = rowToLock(row);
          await tx.insertInto('audit_events').values(auditRow(audit(lock))).execute();
          return lock;
        });
      },
      async delete(id, audit) {
        return db.transaction().execute(async (tx) => {
          const r = await tx.deleteFrom('locks').where('id', '=', id).executeTakeFirst();
          if (Number(r.numDeletedRows) !== 1) return false;
          await tx.insertInto('audit_events').values(auditRow(audit)).execute();
          return true;
        });
      },
      async pruneExpired(at, limit) {
        const t = at.toISOString();
        const rows = await db.selectFrom('locks').selectAll().where('expires_at', 'is not', null).where('expires_at', '<=', t).orderBy('expires_at').limit(batchSize(limit)).execute();
        if (rows.length === 0) return [];
        const gone = await db.deleteFrom('locks').where('id', 'in', rows.map((r) => r.id)).returning('id').execute();
        const ids = new Set(gone.map((g) => g.id));
        return rows.filter((r) => ids.has(r.id)).map(rowToLock);
      },
    },
    consoleSessions: {
      async create(r) {
        await db.insertInto('console_sessions').values({ id_sha256: r.idSha256, csrf: r.csrf, created_at: r.createdAt, last_seen_at: r.lastSeenAt }).execute();
      },
      async get(idSha256) {
        const row = await db.selectFrom('console_sessions').selectAll().where('id_sha256', '=', idSha256).executeTakeFirst();
        return row && { idSha256: row.id_sha256, csrf: row.csrf, createdAt: row.created_at, lastSeenAt: row.last_seen_at };
      },
      async touch(idSha256, lastSeenAt) {
        await db.updateTable('console_sessions').set({ last_seen_at: lastSeenAt }).where('id_sha256', '=', idSha256).where('last_seen_at', '<', lastSeenAt).execute();
      },
      async delete(idSha256) {
        const r = await db.deleteFrom('console_sessions').where('id_sha256', '=', idSha256).executeTakeFirst();
        return Number(r.numDeletedRows) > 0;
      },
      async prune({ idleBefore, createdBefore }) {
        const r = await db
          .deleteFrom('console_sessions')
          .where((eb) => eb.or([eb('last_seen_at', '<', idleBefore.toISOString()), eb('created_at', '<', createdBefore.toISOString())]))
          .executeTakeFirst();
        return Number(r.numDeletedRows);
      },
    },
    async ping() {
      // Readiness means the real tables answer: `SELECT 1` succeeds on a damaged or replaced
      // database file, because it reads no page of it.
      try {
        const newest = await db.selectFrom(MIGRATION_TABLE).select('name').orderBy('name', 'desc').limit(1).executeTakeFirst();
        if (newest?.name !== LATEST_MIGRATION) return false;
        await db.selectFrom('tokens').select('name').limit(1).execute();
        await db.selectFrom('nodes').select('host_id').limit(1).execute();
        await db.selectFrom('audit_events').select('id').orderBy('id', 'desc').limit(1).execute();
        return (await db.selectFrom('settings').select('key').where('key', '=', 'ca_cert_pem').executeTakeFirst()) !== undefined;
      } catch {
        return false;
      }
    },
    close: onClose,
  };
}

/** A prune batch of 1..MAX_LIST_LIMIT rows. */
const batchSize = (limit: number) => Math.min(Math.max(Math.trunc(limit) || 1, 1), MAX_LIST_LIMIT);

/** Moves a counter in the caller's transaction (the row is locked until it commits). */
async function bump(tx: Db | Transaction<Tables>, name: Counter, by: number): Promise<void> {
  await tx
    .updateTable('counters')
    .set((eb) => ({ value: eb('value', '+', by) }))
    .where('name', '=', name)
    .execute();
}

async function readCounters(db: Db): Promise<Record<Counter, number>> {
  const rows = await db.selectFrom('counters').select(['name', 'value']).execute();
  const counts: Record<Counter, number> = { nodes: 0, nodes_removed: 0, crl_revision: 0 };
  for (const r of rows) counts[r.name] = Number(r.value);
  return counts;
}

/** A host's status at `at` in SQL, as nodeStatus() says it: removed wins, then whether the certificate lapsed. */
function statusAt(eb: ExpressionBuilder<Tables, 'nodes'>, at: Date) {
  return eb
    .case()
    .when('removed_at', 'is not', null)
    .then('removed')
    .when(eb.or([eb('cert_not_after', 'is', null), eb('cert_not_after', '<=', at.toISOString())]))
    .then('expired')
    .else('active')
    .end();
}

/** An audit event as its row, with the strings clients control bounded. */
function auditRow(event: AuditEvent): Omit<AuditTable, 'id'> {
  const e = boundAuditEvent(event);
  return {
    time: e.time,
    type: e.type,
    success: e.success ? 1 : 0,
    code: e.code ?? null,
    message: e.message ?? null,
    token_name: e.tokenName ?? null,
    host_id: e.hostId ?? null,
    remote_addr: e.remoteAddr ?? null,
    details: e.details ? JSON.stringify(e.details) : null,
  };
}

function rowToAuditEvent(r: AuditTable): AuditEvent {
  return {
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
    certNotAfter: row.cert_not_after ?? new Date(0).toISOString(),
    ...(row.last_renewed_at ? { lastRenewedAt: row.last_renewed_at } : {}),
    ...(row.removed_at ? { removedAt: row.removed_at } : {}),
    attributes: JSON.parse(row.attributes),
    ...(row.last_seen ? { lastSeen: row.last_seen } : {}),
    ...(row.agent_version !== null && row.agent_version !== undefined ? { agentVersion: row.agent_version } : {}),
    ...(row.hostname !== null && row.hostname !== undefined ? { hostname: row.hostname } : {}),
    labels: row.labels ? JSON.parse(row.labels) : {},
  };
}

/** Labels stored in key order, so one label's JSON text is always spelled alike (the filter's LIKE relies on it). */
function sortedLabels(labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** LIKE's wildcards and its escape character, taken literally. */
const likeLiteral = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/** The conditions of a node filter, at `at`. */
function nodeFilter(eb: ExpressionBuilder<Tables, 'nodes'>, f: NodeFilter, at: Date) {
  const t = at.toISOString();
  const conds = [];
  if (f.status === 'removed') conds.push(eb('removed_at', 'is not', null));
  if (f.status === 'active') conds.push(eb.and([eb('removed_at', 'is', null), eb('cert_not_after', '>', t)]));
  if (f.status === 'expired') conds.push(eb.and([eb('removed_at', 'is', null), eb.or([eb('cert_not_after', 'is', null), eb('cert_not_after', '<=', t)])]));
  if (f.method !== undefined) conds.push(eb('join_method', '=', f.method));
  if (f.token !== undefined) conds.push(eb('token_name', '=', f.token));
  if (f.seenBefore !== undefined) conds.push(eb('last_seen', '<', f.seenBefore.toISOString()));
  for (const [k, v] of Object.entries(f.labels ?? {})) {
    // One `"key":"value"` pair of the stored JSON object.
    conds.push(sql<boolean>`labels LIKE ${`%${likeLiteral(`${JSON.stringify(k)}:${JSON.stringify(v)}`)}%`} ESCAPE '\\'`);
  }
  return conds;
}

/** The hosts a lock matches, as the inventory's identity columns say. */
function lockedHosts(eb: ExpressionBuilder<Tables, 'nodes'>, kind: LockTargetKind, target: string) {
  switch (kind) {
    case 'host_id':
      return eb('host_id', '=', target);
    case 'instance_id':
      return eb('instance_id', '=', target);
    case 'account':
      return eb('aws_account', '=', target);
    case 'token':
      return eb('token_name', '=', target);
    case 'arn':
      // The glob as LIKE: `*` any run, `?` one character, the rest literally.
      return sql<boolean>`arn LIKE ${likeLiteral(target).replace(/\*/g, '%').replace(/\?/g, '_')} ESCAPE '\\'`;
  }
}

const unexpiredLock = (at: Date) => (eb: ExpressionBuilder<Tables, 'locks'>) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', at.toISOString())]);

function rowToLock(row: LocksTable): LockRecord {
  return {
    id: row.id,
    kind: row.kind as LockTargetKind,
    target: row.target,
    ...(row.message !== null ? { message: row.message } : {}),
    createdAt: row.created_at,
    ...(row.expires_at !== null ? { expiresAt: row.expires_at } : {}),
  };
}

function rowToCertificate(row: HostCertificatesTable): HostCertificateRecord {
  return { serial: row.serial, hostId: row.host_id, issuedAt: row.issued_at, notAfter: row.not_after, ...(row.revoked_at ? { revokedAt: row.revoked_at } : {}) };
}
