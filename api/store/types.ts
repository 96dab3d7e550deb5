// The storage interface. Callers depend only on this; SQLite (embedded default) and PostgreSQL
// implement it. Every method is async so a networked backend fits without touching callers.

import type { ProvisionToken } from '../../schema/token';
import type { LockKind } from '../../schema/lock';

export interface StoredToken {
  token: ProvisionToken; // metadata.revision is set
  createdAt: string; // ISO 8601
  updatedAt: string;
}

/** A host that joined the cluster. Removal keeps the row (status `removed`, and the CRL needs it). */
export interface NodeRecord {
  hostId: string;
  joinMethod: string;
  tokenName: string;
  role: string;
  joinedAt: string; // ISO 8601
  /** Serial (lower-case hex, no leading zeros) of the newest certificate issued to the host. */
  certSerial: string;
  /** When that certificate expires (ISO 8601). */
  certNotAfter: string;
  lastRenewedAt?: string;
  removedAt?: string;
  /** Method-specific facts: aws account, region, instance id, caller ARN ... */
  attributes: Record<string, string>;
  /** The last join or renewal (ISO 8601). */
  lastSeen?: string;
  /** What the agent said of itself at its last join or renewal: shown, never used to decide. */
  agentVersion?: string;
  hostname?: string;
  /** Labels from verified sources: an EC2 instance's tags as `aws/<Key>`. */
  labels?: Record<string, string>;
}

/** What an agent reports about itself at join and renewal (bounded, terminal-safe, never trusted). */
export interface AgentReport {
  agentVersion?: string;
  hostname?: string;
}

/** Filters of the inventory (`GET /v1/nodes`, `joinery nodes ls`); they combine with AND. */
export interface NodeFilter {
  status?: NodeStatus;
  method?: string;
  token?: string;
  /** Every one of these labels, exactly. */
  labels?: Record<string, string>;
  /** Only hosts last seen before this instant. */
  seenBefore?: Date;
}

/** What a lock matches: a host, an EC2 instance, an AWS account, an ARN glob or a token. */
export type LockTargetKind = LockKind;

export interface LockRecord {
  id: string;
  kind: LockTargetKind;
  target: string;
  message?: string;
  createdAt: string;
  /** When the lock lapses (ISO 8601); none = until removed. */
  expiresAt?: string;
}

export interface LockStore {
  /** Unexpired locks, ordered by id, keyset paged. */
  list(opts: ListOptions, now: Date): Promise<ListPage<LockRecord>>;
  /** Locks unexpired at `now`, at most `atMost`, ordered by id. */
  active(now: Date, atMost: number): Promise<LockRecord[]>;
  /** The lock if it is unexpired at `now` (an expired one is gone, whether pruned yet or not). */
  get(id: string, now: Date): Promise<LockRecord | undefined>;
  /**
   * What a join or renewal reads: the unexpired locks whose exact target (host_id, instance_id,
   * account, token) is one of `exact`'s, read by the (kind, target) index, and, when `arns` is
   * set, every unexpired `arn` lock (globs are matched by the caller), at most `atMost` of those.
   */
  candidates(exact: { kind: LockTargetKind; target: string }[], arns: boolean, now: Date, atMost: number): Promise<LockRecord[]>;
  /**
   * Creates the lock and, in its transaction, revokes the unexpired certificates of the hosts it
   * matches (bumping the CRL revision when any were). Returns how many certificates it revoked.
   */
  create(lock: LockRecord, now: Date, audit: AuditEvent): Promise<number>;
  /**
   * Changes an unexpired lock's end or message (null clears it) and writes the audit event that
   * `audit` makes of the changed lock in the same transaction; undefined when there was none.
   */
  update(id: string, changes: { expiresAt?: string | null; message?: string | null }, now: Date, audit: (lock: LockRecord) => AuditEvent): Promise<LockRecord | undefined>;
  /** Deletes the lock (with its audit event in the same transaction); false when there was none. */
  delete(id: string, audit: AuditEvent): Promise<boolean>;
  /** Deletes at most `limit` locks that expired before `now`, returning them (for the audit). */
  pruneExpired(now: Date, limit: number): Promise<LockRecord[]>;
}

export type NodeStatus = 'active' | 'expired' | 'removed';

/** A host's status at `now`: removed wins, then whether its newest certificate has lapsed. */
export function nodeStatus(n: Pick<NodeRecord, 'removedAt' | 'certNotAfter'>, now: Date): NodeStatus {
  if (n.removedAt) return 'removed';
  const notAfter = Date.parse(n.certNotAfter);
  // An unreadable expiry counts as lapsed: fail closed rather than call a host live forever.
  return Number.isNaN(notAfter) || notAfter <= now.getTime() ? 'expired' : 'active';
}

/** A certificate issued to a host, at join or renewal. */
export interface HostCertificateRecord {
  serial: string;
  hostId: string;
  issuedAt: string;
  notAfter: string;
  revokedAt?: string;
}

/** A CRL entry: a revoked certificate's serial and when it was revoked (ISO 8601). */
export interface RevokedEntry {
  serial: string;
  revokedAt: string;
}

/** What renewal needs to know about a presented serial. */
export interface CertificateLookup {
  certificate: HostCertificateRecord;
  node?: NodeRecord;
}

export interface AuditEvent {
  id?: number;
  time: string; // ISO 8601
  type: string; // e.g. join.token, join.ec2, join.iam, token.create
  success: boolean;
  code?: string; // refusal code when success is false
  message?: string;
  tokenName?: string; // masked for the token join method
  hostId?: string;
  remoteAddr?: string;
  details?: Record<string, unknown>;
}

export type ChallengeResult = 'ok' | 'missing' | 'expired' | 'used';

export interface CaRecord {
  clusterName: string;
  certPem: string;
}

export class AlreadyExistsError extends Error {
  constructor(what: string) {
    super(`${what} already exists`);
    this.name = 'AlreadyExistsError';
  }
}

export class NotFoundError extends Error {
  constructor(what: string) {
    super(`${what} not found`);
    this.name = 'NotFoundError';
  }
}

export class ConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConflictError';
  }
}

/** The largest page a list returns, whatever a caller asks for. */
export const MAX_LIST_LIMIT = 1000;

/** Keyset pagination: items strictly after the key `after`, at most `limit` (clamped to 1..MAX_LIST_LIMIT). */
export interface ListOptions {
  limit: number;
  after?: string;
}

export interface ListPage<T> {
  items: T[];
  /** The key of the last item, when more items follow it (the next page's `after`). */
  next?: string;
}

export interface TokenStore {
  /** Tokens ordered by name. */
  list(opts: ListOptions): Promise<ListPage<StoredToken>>;
  count(): Promise<number>;
  get(name: string): Promise<StoredToken | undefined>;
  /** Insert; AlreadyExistsError when the name is taken. */
  create(token: ProvisionToken): Promise<StoredToken>;
  /**
   * Create or replace. When expectedRevision is given, the stored revision must equal it
   * (ConflictError otherwise; NotFoundError when the token is gone).
   */
  put(token: ProvisionToken, expectedRevision?: string): Promise<{ stored: StoredToken; created: boolean }>;
  delete(name: string): Promise<boolean>;
}

export interface NodeStore {
  /** Hosts ordered by host ID, removed ones included; `filter` narrows them (at `now`). */
  list(opts: ListOptions, filter?: NodeFilter, now?: Date): Promise<ListPage<NodeRecord>>;
  get(hostId: string): Promise<NodeRecord | undefined>;
  /**
   * Registers a host and records its first certificate. A row for the host ID is replaced only
   * when it was removed or its newest certificate expired before `now`; a live host gives
   * AlreadyExistsError. Atomic: of concurrent joins of one host exactly one succeeds.
   */
  /** With `audit`, the event is written in the same transaction as the node. */
  insert(node: NodeRecord, now: Date, audit?: AuditEvent): Promise<void>;
  /**
   * Records a renewal: the new certificate becomes the host's current one. NotFoundError when
   * the host is unknown or was removed (removal wins over a racing renewal).
   */
  /**
   * Records a renewal. With `supersedes`, only while that serial is still the host's current one
   * (ConflictError otherwise: another renewal won, or an older copy of the identity is renewing).
   */
  /** With `audit`, the event is written in the renewal's transaction (one commit, both or neither). */
  renew(hostId: string, cert: { serial: string; issuedAt: string; notAfter: string }, supersedes?: string, audit?: AuditEvent, report?: AgentReport): Promise<NodeRecord>;
  /**
   * Deletes at most `limit` hosts removed before `before`, or lapsed (not removed) with a
   * certificate that expired before it, and none unexpired at `now`, with their certificate
   * records; returns how many hosts. The counts move with the rows.
   */
  pruneHosts(before: Date, now: Date, limit: number): Promise<number>;
  /**
   * Deletes at most `limit` certificate records that expired before `before` (expired ones renew
   * nothing and have left the CRL), oldest first; returns how many. Callers loop until it is 0.
   */
  pruneCertificates(before: Date, limit: number): Promise<number>;
  /** How many of the host's certificates are unexpired and unrevoked at `at`. */
  countLiveCertificates(hostId: string, at: Date): Promise<number>;
  /**
   * Marks the host removed and revokes its certificates still valid at `now`. 'removed' the first
   * time, 'already_removed' after, 'not_found' for an unknown host.
   */
  remove(hostId: string, now: Date): Promise<'removed' | 'already_removed' | 'not_found'>;
  /**
   * Number of hosts by status at `now`: totals the writes keep, and the lapsed hosts read as an
   * index range (the only part that depends on the time).
   */
  countByStatus(now: Date): Promise<Record<NodeStatus, number>>;
  /** Number of hosts by join method and status at `now`, counted by the database. */
  countByMethodAndStatus(now: Date): Promise<Record<string, Record<NodeStatus, number>>>;
  /** The certificate with this serial and its host's current row. */
  certificate(serial: string): Promise<CertificateLookup | undefined>;
  /**
   * One page of what the CRL lists: revoked certificates unexpired at `unexpiredAt`, in
   * (revokedAt, serial) order after the entry `after`, at most `limit` (read from one index).
   */
  revokedCertificates(unexpiredAt: Date, page: { limit: number; after?: RevokedEntry }): Promise<RevokedEntry[]>;
  /** Grows with every removal that revoked a certificate: the CRL's content version, shared by replicas. */
  crlRevision(): Promise<number>;
}

export interface ChallengeStore {
  create(challenge: string, expiresAt: Date): Promise<void>;
  /** Atomically marks the challenge used; says why when it cannot be used. */
  consume(challenge: string, now: Date): Promise<ChallengeResult>;
  /** Deletes at most `limit` challenges that expired before `before`; returns how many. */
  prune(before: Date, limit: number): Promise<number>;
  /** Unused challenges that expire after `now`, counted up to `atMost` (the work stays bounded). */
  countActive(now: Date, atMost?: number): Promise<number>;
}

/** A page of the audit, newest first, every filter optional (they combine with AND). */
export interface AuditQuery {
  limit: number;
  /** Keyset: only events with an id below this one (the previous page's last). */
  beforeId?: number;
  type?: string;
  /** Only refused attempts (success false). */
  refused?: boolean;
  /** Any of these token names (a secret name is stored masked, so callers pass both forms). */
  tokenNames?: string[];
  hostId?: string;
  code?: string;
  /** Only events at or after this instant (ISO 8601, as stored). */
  since?: string;
}

export interface AuditStore {
  append(event: AuditEvent): Promise<void>;
  list(opts?: { limit?: number; type?: string }): Promise<AuditEvent[]>;
  /** One page of events matching the query, newest first; `next` is the last event's id when more may follow. */
  page(query: AuditQuery): Promise<ListPage<AuditEvent>>;
  /** Events with an id above `afterId`, in id order, at most `limit`: the exporter's cursor read. */
  after(afterId: number, limit: number): Promise<AuditEvent[]>;
  /** The highest event id (0 when there is none). */
  newestId(): Promise<number>;
  /**
   * Deletes at most `limit` of the oldest events that are older than `before` or outside the
   * newest `keepRows` ids; returns how many. Callers loop until it is 0.
   */
  prune(opts: { before?: Date; keepRows?: number; limit: number }): Promise<number>;
}

export interface SettingsStore {
  get(key: string): Promise<string | undefined>;
  /** Sets the key only if absent; returns the value now stored (first writer wins across replicas). */
  setIfAbsent(key: string, value: string): Promise<string>;
  set(key: string, value: string): Promise<void>;
  /**
   * Sets the key to `value` only if it holds `expected` (absent when undefined); whether it did.
   * One replica wins a change both attempt (the CA rotation's phase).
   */
  compareAndSet(key: string, expected: string | undefined, value: string): Promise<boolean>;
}

/** A web console session (api/server/console/sessions.ts). The session ID itself is never stored. */
export interface ConsoleSessionRecord {
  idSha256: string;
  csrf: string;
  createdAt: string; // ISO 8601
  lastSeenAt: string;
}

export interface ConsoleSessionStore {
  create(session: ConsoleSessionRecord): Promise<void>;
  get(idSha256: string): Promise<ConsoleSessionRecord | undefined>;
  touch(idSha256: string, lastSeenAt: string): Promise<void>;
  /** Whether a session was there to end. */
  delete(idSha256: string): Promise<boolean>;
  /** Deletes sessions last seen before `idleBefore` or created before `createdBefore`; returns how many. */
  prune(opts: { idleBefore: Date; createdBefore: Date }): Promise<number>;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  tokens: TokenStore;
  nodes: NodeStore;
  challenges: ChallengeStore;
  audit: AuditStore;
  settings: SettingsStore;
  consoleSessions: ConsoleSessionStore;
  locks: LockStore;
  /** Whether the backend answers (for /readyz). */
  ping(): Promise<boolean>;
  /**
   * Awaited by bulk deletes between two batches: resolves once the store can take more writes
   * without the event loop paying for the ones so far. SQLite checkpoints its WAL in the worker
   * thread every few batches (sqlite-checkpointer.ts); a store without such a cost leaves it out.
   */
  catchUp?(): Promise<void>;
  close(): Promise<void>;
}
