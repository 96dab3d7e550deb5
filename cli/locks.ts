// `joinery locks add|ls|rm`: keep a host, instance, account, ARN pattern or token out (joins and
// renewals refused, certificates revoked) until the lock is removed or expires.

import type { LockView } from '../client/api-client';
import { UsageError, type Parsed } from './args';
import { adminClient, formatOf, str } from './common';
import { LOCK_TABLE, out, printValue, terminalValue } from './output';
import { printPages } from './stream-list';

/** The target flags of `locks add`, one of which is given; each names the lock's kind. */
export const LOCK_TARGET_FLAGS = { 'host-id': 'host_id', 'instance-id': 'instance_id', account: 'account', arn: 'arn', token: 'token' } as const;

export async function locksAdd(p: Parsed): Promise<number> {
  const given = Object.entries(LOCK_TARGET_FLAGS).filter(([flag]) => str(p, flag) !== undefined);
  if (given.length !== 1) throw new UsageError(`locks add needs exactly one of ${Object.keys(LOCK_TARGET_FLAGS).map((f) => `--${f}`).join(', ')}`);
  const [flag, kind] = given[0];
  const ttl = str(p, 'ttl');
  const message = str(p, 'message');
  const lock = await adminClient(p).createLock({ kind, target: str(p, flag)!, ...(ttl ? { ttl } : {}), ...(message ? { message } : {}) });
  const format = formatOf(p, 'text');
  if (format !== 'text') printValue(lock, format);
  else out(`lock ${terminalValue(lock.id)} created (${kind} ${terminalValue(lock.target)}, ${lock.expires_at ? `until ${lock.expires_at}` : 'until removed'}); ${lock.revoked_certificates ?? 0} certificate(s) revoked`);
  return 0;
}

export async function locksLs(p: Parsed): Promise<number> {
  await printPages<LockView>(adminClient(p).lockPages(), formatOf(p, 'text'), LOCK_TABLE);
  return 0;
}

export async function locksRm(p: Parsed): Promise<number> {
  const [id] = p.positional;
  if (!id) throw new UsageError('locks rm needs a lock ID (joinery locks ls lists them)');
  if (!(await adminClient(p).deleteLock(id))) {
    process.stderr.write(`lock "${terminalValue(id)}" not found\n`);
    return 1;
  }
  out(`lock "${terminalValue(id)}" has been removed`);
  return 0;
}
