// Locks: an operator's "keep this out" that outlives the host's identity. A lock names a verified
// fact (the host ID, the EC2 instance, the AWS account, an ARN glob) or the token, and refuses
// every join and renewal it matches until it is removed or expires. Joins and renewals read the
// active locks from the database each time, so a lock takes effect on every replica as soon as
// it commits (there is no cache to wait out). Its creation also revokes the matched hosts'
// unexpired certificates (store: locks.create), so relying services see them on the CRL.

import { lockTargetDigest, readLockBody } from '../../schema/lock';
import { shownTokenName } from '../../schema/token';
import type { LockRecord, LockTargetKind, NodeRecord, Store } from '../store/types';

export { LOCK_KINDS, LockRequestError, readLockChanges, type LockChanges } from '../../schema/lock';
import { arnGlobMatch } from './iam/arn-glob';
import type { IdentityFacts } from './method';
import { refuse } from './refusals';

/**
 * Active locks at most (creation is refused beyond). Exact locks are found by index whatever their
 * number; the bound keeps the ARN globs a join matches in memory few.
 */
export const MAX_ACTIVE_LOCKS = 1000;

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

/** A lock request as the API reads it, with the ID and creation time the server gives it. */
export function readLockRequest(body: unknown, id: string, now: Date): LockRecord {
  return { id, ...readLockBody(body, now), createdAt: now.toISOString() };
}

/**
 * A lock as the API answers it. A `token` lock's target is masked, as token names are in lists,
 * unless `token` is the stored token it names and that token's name is no secret; its digest
 * (lockTargetDigest) is given instead.
 */
export function lockView(lock: LockRecord, token?: { spec: { join_method: string } }) {
  return {
    id: lock.id,
    kind: lock.kind,
    target: lock.kind === 'token' ? shownTokenName(lock.target, token) : lock.target,
    ...(lock.kind === 'token' ? { target_sha256: lockTargetDigest(lock.target) } : {}),
    message: lock.message ?? null,
    created_at: lock.createdAt,
    expires_at: lock.expiresAt ?? null,
  };
}
