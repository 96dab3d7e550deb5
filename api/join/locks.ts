// Locks: an operator's "keep this out" that outlives the host's identity. A lock names a verified
// fact (the host ID, the EC2 instance, the AWS account, an ARN glob) or the token, and refuses
// every join and renewal it matches until it is removed or expires. Joins and renewals read the
// active locks from the database each time, so a lock takes effect on every replica as soon as
// it commits (there is no cache to wait out). Its creation also revokes the matched hosts'
// unexpired certificates (store: locks.create), so relying services see them on the CRL.

import { parseGoDuration } from '../../schema/duration';
import { parseRfc3339 } from '../../schema/time';
import { isSafeText } from '../../schema/text-safety';
import { isObject } from '../../schema/values';
import { shownTokenName } from '../../schema/token';
import type { LockRecord, LockTargetKind, NodeRecord, Store } from '../store/types';
import { arnGlobMatch } from './iam/arn-glob';
import type { IdentityFacts } from './method';
import { refuse } from './refusals';

export const LOCK_KINDS: readonly LockTargetKind[] = ['host_id', 'instance_id', 'account', 'arn', 'token'];

/**
 * Active locks at most (creation is refused beyond). Exact locks are found by index whatever their
 * number; the bound keeps the ARN globs a join matches in memory few.
 */
export const MAX_ACTIVE_LOCKS = 1000;
export const MAX_LOCK_MESSAGE = 256;
const MAX_TARGET = 512;
/** Longest lock TTL: a year (a lock for longer is a lock without TTL). */
const MAX_TTL_MS = 366 * 24 * 3600 * 1000;

/** What a join or renewal is, as locks see it: verified facts only. */
export interface LockSubject {
  hostId?: string;
  instanceId?: string;
  account?: string;
  arn?: string;
  token?: string;
}

export function subjectOfIdentity(facts: IdentityFacts, hostId: string | undefined, token: string): LockSubject {
  return { hostId, instanceId: facts.instance_id, account: facts.aws_account, arn: facts.arn, token };
}

export function subjectOfNode(node: NodeRecord): LockSubject {
  const a = node.attributes;
  return { hostId: node.hostId, instanceId: a.instance_id, account: a.account, arn: a.arn, token: node.tokenName };
}

export function lockMatches(lock: LockRecord, s: LockSubject): boolean {
  switch (lock.kind) {
    case 'host_id':
      return s.hostId === lock.target;
    case 'instance_id':
      return s.instanceId === lock.target;
    case 'account':
      return s.account === lock.target;
    case 'token':
      return s.token === lock.target;
    case 'arn':
      // aws_arn's globs: `*` any run, `?` one character (the SQL LIKE that revokes matches alike).
      return s.arn !== undefined && arnGlobMatch(lock.target, s.arn);
  }
}

/** How a lock reads in messages; a `token` lock's target may be a secret, so it is masked. */
export function describeLock(lock: LockRecord, token?: { spec: { join_method: string } }): string {
  const target = lock.kind === 'token' ? shownTokenName(lock.target, token) : lock.target;
  return `lock ${lock.id} (${lock.kind} ${JSON.stringify(target)}${lock.expiresAt ? `, until ${lock.expiresAt}` : ''})`;
}

/**
 * Refuses with `locked` when an active lock matches; its message is the lock's own. Exact targets
 * are looked up by index, so none is missed however many locks exist; ARN globs are matched here.
 */
export async function refuseIfLocked(store: Store, subject: LockSubject, now: Date): Promise<void> {
  const exact: { kind: LockTargetKind; target: string }[] = [];
  if (subject.hostId !== undefined) exact.push({ kind: 'host_id', target: subject.hostId });
  if (subject.instanceId !== undefined) exact.push({ kind: 'instance_id', target: subject.instanceId });
  if (subject.account !== undefined) exact.push({ kind: 'account', target: subject.account });
  if (subject.token !== undefined) exact.push({ kind: 'token', target: subject.token });
  const locks = await store.locks.candidates(exact, subject.arn !== undefined, now, MAX_ACTIVE_LOCKS);
  const lock = locks.find((l) => lockMatches(l, subject));
  if (!lock) return;
  const err = refuse('locked', lock.message ? `locked: ${lock.message}` : 'locked by the cluster operator');
  err.operatorMessage = `${describeLock(lock)} matches${lock.message ? `: ${lock.message}` : ''}`;
  throw err;
}

/** A lock request that does not hold, with the field it is about. */
export class LockRequestError extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}

const LOCK_FIELDS = ['kind', 'target', 'ttl', 'expires', 'message'];
const CHANGE_FIELDS = ['expires', 'message'];

/**
 * Reads `{kind, target, ttl? | expires?, message?}` (the API body): exactly one target, an end as a
 * TTL (a Go duration, "24h") or as an absolute RFC 3339 time (what a declaration such as
 * Terraform's writes, since a TTL would mean a new end at every apply), a message of at most 256
 * terminal-safe characters.
 */
export function readLockRequest(body: unknown, id: string, now: Date): LockRecord {
  if (!isObject(body)) throw new LockRequestError('the body must be a JSON object {kind, target, ttl? or expires?, message?}', 'body');
  rejectUnknownFields(body, LOCK_FIELDS, 'a lock has kind, target, ttl or expires, and message');
  const { kind, target, ttl, expires, message } = body;
  if (typeof kind !== 'string' || !LOCK_KINDS.includes(kind as LockTargetKind)) throw new LockRequestError(`kind must be one of ${LOCK_KINDS.join(', ')}`, 'kind');
  if (typeof target !== 'string' || target.length === 0 || target.length > MAX_TARGET || !isSafeText(target) || target.trim() !== target) {
    throw new LockRequestError(`target must be a non-empty string of at most ${MAX_TARGET} characters, without control or invisible characters or surrounding spaces`, 'target');
  }
  if (kind === 'arn' && /^\**$/.test(target)) throw new LockRequestError('an arn lock of only `*` would lock every IAM host; lock by account or token instead', 'target');
  if (ttl !== undefined && expires !== undefined && expires !== null) throw new LockRequestError('give the end of the lock once: ttl or expires, not both', 'expires');
  let expiresAt: string | undefined;
  if (ttl !== undefined) {
    const ms = typeof ttl === 'string' ? parseGoDuration(ttl) : undefined;
    if (ms === undefined || ms <= 0 || ms > MAX_TTL_MS) throw new LockRequestError('ttl must be a positive duration of at most 8784h, such as "24h" or "90m"', 'ttl');
    expiresAt = new Date(now.getTime() + ms).toISOString();
  } else {
    expiresAt = readExpires(expires, now) ?? undefined;
  }
  const msg = readMessage(message);
  return { id, kind: kind as LockTargetKind, target, ...(msg ? { message: msg } : {}), createdAt: now.toISOString(), ...(expiresAt ? { expiresAt } : {}) };
}

/** What an update may change: the end and the message (null clears either). The target never changes. */
export interface LockChanges {
  expiresAt?: string | null;
  message?: string | null;
}

/**
 * Reads `{expires?, message?}` (PATCH): a lock's target is what it is (another target is another
 * lock, with its own revocations), but its end and its message may change without a moment
 * unlocked, which deleting and creating would open.
 */
export function readLockChanges(body: unknown, now: Date): LockChanges {
  if (!isObject(body)) throw new LockRequestError('the body must be a JSON object {expires?, message?}', 'body');
  rejectUnknownFields(body, CHANGE_FIELDS, 'a lock update changes expires or message (its kind and target are fixed: create another lock)');
  const changes: LockChanges = {};
  if ('expires' in body) changes.expiresAt = readExpires(body.expires, now);
  if ('message' in body) changes.message = readMessage(body.message) ?? null;
  return changes;
}

function rejectUnknownFields(body: Record<string, unknown>, known: readonly string[], what: string): void {
  for (const key of Object.keys(body)) {
    if (!known.includes(key)) throw new LockRequestError(`unknown field ${JSON.stringify(key.slice(0, 64))}; ${what}`, key.slice(0, 64));
  }
}

/** An absolute end: RFC 3339, ahead of now, at most a year ahead; null (or absent) for none. */
function readExpires(expires: unknown, now: Date): string | null {
  if (expires === undefined || expires === null) return null;
  const parsed = parseRfc3339(expires);
  if (!parsed.ok) throw new LockRequestError('expires must be an RFC 3339 time such as "2030-01-02T15:04:05Z"', 'expires');
  if (parsed.time.ms <= now.getTime()) throw new LockRequestError(`expires (${parsed.time.utc}) has already passed; a lock must end in the future`, 'expires');
  if (parsed.time.ms - now.getTime() > MAX_TTL_MS) throw new LockRequestError('expires must be at most 8784h (a year) ahead; leave it out for a lock until removed', 'expires');
  return new Date(parsed.time.ms).toISOString();
}

function readMessage(message: unknown): string | undefined {
  if (message === undefined || message === null || message === '') return undefined;
  if (typeof message !== 'string' || message.length > MAX_LOCK_MESSAGE || !isSafeText(message)) {
    throw new LockRequestError(`message must be a string of at most ${MAX_LOCK_MESSAGE} characters without control or invisible characters`, 'message');
  }
  return message;
}

/**
 * A lock as the API answers it. A `token` lock's target is masked, as token names are in lists,
 * unless `token` is the stored token it names and that token's name is no secret.
 */
export function lockView(lock: LockRecord, token?: { spec: { join_method: string } }) {
  return {
    id: lock.id,
    kind: lock.kind,
    target: lock.kind === 'token' ? shownTokenName(lock.target, token) : lock.target,
    message: lock.message ?? null,
    created_at: lock.createdAt,
    expires_at: lock.expiresAt ?? null,
  };
}
