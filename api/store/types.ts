// The storage interface. Callers depend only on this; SQLite (embedded default) and PostgreSQL
// implement it. Every method is async so a networked backend fits without touching callers.

import type { ProvisionToken } from '../../schema/token';

export interface StoredToken {
  token: ProvisionToken; // metadata.revision is set
  createdAt: string; // ISO 8601
  updatedAt: string;
}

/** A host that joined the cluster. */
export interface NodeRecord {
  hostId: string;
  joinMethod: string;
  tokenName: string;
  role: string;
  joinedAt: string; // ISO 8601
  certSerial: string;
  /** Method-specific facts: aws account, region, instance id, caller ARN ... */
  attributes: Record<string, string>;
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

export interface TokenStore {
  list(): Promise<StoredToken[]>;
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
  list(): Promise<NodeRecord[]>;
  get(hostId: string): Promise<NodeRecord | undefined>;
  /** Insert; AlreadyExistsError when the host ID is registered (one join per host, even under races). */
  insert(node: NodeRecord): Promise<void>;
  delete(hostId: string): Promise<boolean>;
}

export interface ChallengeStore {
  create(challenge: string, expiresAt: Date): Promise<void>;
  /** Atomically marks the challenge used; says why when it cannot be used. */
  consume(challenge: string, now: Date): Promise<ChallengeResult>;
  /** Deletes challenges that expired before `before`. */
  prune(before: Date): Promise<number>;
  /** Unused challenges that expire after `now`, counted up to `atMost` (the work stays bounded). */
  countActive(now: Date, atMost?: number): Promise<number>;
}

export interface AuditStore {
  append(event: AuditEvent): Promise<void>;
  list(opts?: { limit?: number; type?: string }): Promise<AuditEvent[]>;
  /** Deletes events older than `before` and all but the newest `keepRows`; returns how many. */
  prune(opts: { before?: Date; keepRows?: number }): Promise<number>;
}

export interface SettingsStore {
  get(key: string): Promise<string | undefined>;
  /** Sets the key only if absent; returns the value now stored (first writer wins across replicas). */
  setIfAbsent(key: string, value: string): Promise<string>;
  set(key: string, value: string): Promise<void>;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  tokens: TokenStore;
  nodes: NodeStore;
  challenges: ChallengeStore;
  audit: AuditStore;
  settings: SettingsStore;
  /** Whether the backend answers (for /readyz). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
