// Allow-rule matching and the pendingTime window as pure functions, and the refusal-code list
// kept in step with docs/ec2.md.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { EC2_REFUSAL_CODES, checkPendingTime, matchAllowRule } from '../../api/join/ec2/join-ec2';
import type { InstanceIdentity } from '../../api/join/ec2/identity-document';
import { JoinError } from '../../api/join/errors';
import { parseToken } from '../../schema/token';

const id = (over: Partial<InstanceIdentity> = {}): InstanceIdentity => ({
  accountId: '222222222222',
  instanceId: 'i-0123456789abcdef0',
  region: 'us-west-2',
  pendingTime: '2030-01-01T00:00:00Z',
  document: {},
  ...over,
});

const token = (allow: unknown[], ttl?: string) => parseToken({ kind: 'token', version: 'v2', metadata: { name: 't' }, spec: { roles: ['Node'], join_method: 'ec2', allow, ...(ttl ? { aws_iid_ttl: ttl } : {}) } });

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof JoinError) return e.code;
    throw e;
  }
  return 'accepted';
}

describe('allow rules', () => {
  const roleB = 'arn:aws:iam::222222222222:role/teleport-DescribeInstances-role';

  test('the first rule whose account and regions match is used', () => {
    const t = token([
      { aws_account: '111111111111' },
      { aws_account: '222222222222', aws_regions: ['eu-west-1'] },
      { aws_account: '222222222222', aws_regions: ['us-west-2'], aws_role: roleB },
      { aws_account: '222222222222' },
    ]);
    expect(matchAllowRule(t, id()).index).toBe(2);
    expect(matchAllowRule(t, id({ region: 'ap-south-1' })).index).toBe(3);
  });

  test('a rule without regions admits every region; without account, the role\'s account', () => {
    expect(matchAllowRule(token([{ aws_account: '222222222222' }]), id({ region: 'cn-north-1' })).index).toBe(0);
    expect(matchAllowRule(token([{ aws_role: roleB }]), id()).rule.aws_role).toBe(roleB);
    expect(code(() => matchAllowRule(token([{ aws_role: roleB }]), id({ accountId: '333333333333' })))).toBe('aws_account_not_allowed');
  });

  test('account and region refusals are told apart', () => {
    const t = token([{ aws_account: '222222222222', aws_regions: ['us-west-1'] }, { aws_account: '111111111111', aws_regions: ['us-west-2'] }]);
    expect(code(() => matchAllowRule(t, id({ accountId: '999999999999' })))).toBe('aws_account_not_allowed');
    expect(code(() => matchAllowRule(t, id()))).toBe('aws_region_not_allowed');
  });
});

describe('pendingTime window', () => {
  const now = new Date('2030-01-01T00:10:00Z');
  const at = (pendingTime: string, ttl?: string) => code(() => checkPendingTime(token([{ aws_account: '222222222222' }], ttl), id({ pendingTime }), 'h', now));

  test('within aws_iid_ttl (default 5m) and up to a minute ahead', () => {
    expect(at('2030-01-01T00:05:00Z')).toBe('accepted');
    expect(at('2030-01-01T00:04:59Z')).toBe('iid_ttl_exceeded');
    expect(at('2030-01-01T00:00:00Z', '10m')).toBe('accepted');
    expect(at('2029-12-31T23:59:59Z', '10m')).toBe('iid_ttl_exceeded');
    expect(at('2030-01-01T00:11:00Z')).toBe('accepted');
    expect(at('2030-01-01T00:11:01Z')).toBe('iid_pending_time_in_future');
    expect(at('2030-01-01T01:10:00+01:00')).toBe('accepted');
  });
});

test('docs/ec2.md lists every refusal code with its status', () => {
  const doc = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'ec2.md'), 'utf8');
  const documented = Object.fromEntries([...doc.matchAll(/^\| `([a-z0-9_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]));
  expect(documented).toEqual(Object.fromEntries(Object.entries(EC2_REFUSAL_CODES).map(([c, r]) => [c, r.status])));
});
