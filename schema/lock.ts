// A lock request, read the one way the API, the CLI and the Terraform provider all check it: one
// target of a known kind, an end (a TTL or an absolute time, within a year), a message a terminal
// can show safely. The provider runs the same checks at plan time so a bad lock is a diagnostic on
// its attribute before anything is sent.

import { createHash } from 'node:crypto';
import { parseGoDuration } from './duration';
import { isSafeText } from './text-safety';
import { parseRfc3339 } from './time';
import { isObject } from './values';

/** What a lock matches: a host, an EC2 instance, an AWS account, an ARN glob or a token. */
export type LockKind = 'host_id' | 'instance_id' | 'account' | 'arn' | 'token';
export const LOCK_KINDS: readonly LockKind[] = ['host_id', 'instance_id', 'account', 'arn', 'token'];

export const MAX_LOCK_MESSAGE = 256;
export const MAX_LOCK_TARGET = 512;
/** Longest lock TTL: a year (a lock for longer is a lock without TTL). */
export const MAX_LOCK_TTL_MS = 366 * 24 * 3600 * 1000;

/** A lock's own fields, before the server gives it an ID and a creation time. */
export interface LockFields {
  kind: LockKind;
  target: string;
  message?: string;
  /** ISO 8601, UTC; none = until removed. */
  expiresAt?: string;
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
export function readLockBody(body: unknown, now: Date): LockFields {
  if (!isObject(body)) throw new LockRequestError('the body must be a JSON object {kind, target, ttl? or expires?, message?}', 'body');
  rejectUnknownFields(body, LOCK_FIELDS, 'a lock has kind, target, ttl or expires, and message');
  const { kind, target, ttl, expires, message } = body;
  if (typeof kind !== 'string' || !LOCK_KINDS.includes(kind as LockKind)) throw new LockRequestError(`kind must be one of ${LOCK_KINDS.join(', ')}`, 'kind');
  if (typeof target !== 'string' || target.length === 0 || target.length > MAX_LOCK_TARGET || !isSafeText(target) || target.trim() !== target) {
    throw new LockRequestError(`target must be a non-empty string of at most ${MAX_LOCK_TARGET} characters, without control or invisible characters or surrounding spaces`, 'target');
  }
  if (kind === 'arn' && /^\**$/.test(target)) throw new LockRequestError('an arn lock of only `*` would lock every IAM host; lock by account or token instead', 'target');
  if (ttl !== undefined && expires !== undefined && expires !== null) throw new LockRequestError('give the end of the lock once: ttl or expires, not both', 'expires');
  let expiresAt: string | undefined;
  if (ttl !== undefined) {
    const ms = typeof ttl === 'string' ? parseGoDuration(ttl) : undefined;
    if (ms === undefined || ms <= 0 || ms > MAX_LOCK_TTL_MS) throw new LockRequestError('ttl must be a positive duration of at most 8784h, such as "24h" or "90m"', 'ttl');
    expiresAt = new Date(now.getTime() + ms).toISOString();
  } else {
    expiresAt = readExpires(expires, now) ?? undefined;
  }
  const msg = readMessage(message);
  return { kind: kind as LockKind, target, ...(msg ? { message: msg } : {}), ...(expiresAt ? { expiresAt } : {}) };
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
export function readExpires(expires: unknown, now: Date): string | null {
  if (expires === undefined || expires === null) return null;
  const parsed = parseRfc3339(expires);
  if (!parsed.ok) throw new LockRequestError('expires must be an RFC 3339 time such as "2030-01-02T15:04:05Z"', 'expires');
  if (parsed.time.ms <= now.getTime()) throw new LockRequestError(`expires (${parsed.time.utc}) has already passed; a lock must end in the future`, 'expires');
  if (parsed.time.ms - now.getTime() > MAX_LOCK_TTL_MS) throw new LockRequestError('expires must be at most 8784h (a year) ahead; leave it out for a lock until removed', 'expires');
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
 * The first 16 hex digits of the SHA-256 of a `token` lock's target: lists show a secret token
 * name masked, and this lets a client that holds the name (the Terraform provider, after an
 * import) check that a lock names it without the name being shown. As much of the digest as the
 * provider's resource IDs of token-method tokens already show.
 */
export function lockTargetDigest(target: string): string {
  return createHash('sha256').update(target, 'utf8').digest('hex').slice(0, 16);
}
