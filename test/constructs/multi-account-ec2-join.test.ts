import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { Testing } from 'cdktf';
import 'cdktf/lib/testing/adapters/jest'; // the matchers' types
import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity';
import { Construct } from 'constructs';
import { IamPropsError, JoinTokenPropsError, MultiAccountEc2Join, MultiAccountEc2JoinProps, ProvisionToken } from '../../constructs';
import { only, ref, resources, synth } from './synth';

Testing.setupJest();

function build(scope: Construct, override: Partial<MultiAccountEc2JoinProps> = {}): MultiAccountEc2Join {
  const auth = new AwsProvider(scope, 'auth', { alias: 'auth', region: 'us-west-2' });
  const a = new AwsProvider(scope, 'a222', { alias: 'account_222222222222', region: 'us-west-2' });
  const b = new AwsProvider(scope, 'a333', { alias: 'account_333333333333', region: 'us-west-2' });
  return new MultiAccountEc2Join(scope, 'join', {
    authService: { provider: auth, accountId: '111111111111', roleName: 'teleport-auth' },
    accounts: [
      { provider: a, accountId: '222222222222', regions: ['us-west-1', 'us-west-2'] },
      { provider: b, accountId: '333333333333', regions: ['us-west-1', 'us-west-2'] },
    ],
    token: { name: 'ec2-multiaccount-token' },
    ...override,
  });
}

describe('MultiAccountEc2Join', () => {
  let join!: MultiAccountEc2Join;
  const s = synth((scope) => void (join = build(scope)));

  it('creates a teleport-DescribeInstances-role in each foreign account, trusted by the Auth Service account', () => {
    const roles = resources(s, 'aws_iam_role');
    expect(roles.map((r) => [r.provider, r.name])).toEqual([
      ['aws.account_222222222222', 'teleport-DescribeInstances-role'],
      ['aws.account_333333333333', 'teleport-DescribeInstances-role'],
    ]);
    for (const r of roles) {
      expect(JSON.parse(r.assume_role_policy)).toEqual({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111111111111:root' }, Action: 'sts:AssumeRole' }],
      });
    }
  });

  it('creates the DescribeInstances policy in each foreign account and attaches it to that account\'s role', () => {
    const policies = resources(s, 'aws_iam_policy').filter((p) => p.name === 'teleport-DescribeInstances-policy');
    expect(policies.map((p) => p.provider)).toEqual(['aws.account_222222222222', 'aws.account_333333333333']);
    const attachments = resources(s, 'aws_iam_role_policy_attachment');
    for (const role of join.roles) {
      expect(attachments).toContainEqual({ provider: role.role.provider!.fqn, role: ref(role.role, 'name'), policy_arn: ref(role.policy.policy, 'arn') });
    }
  });

  it('creates the teleport-AssumeRole-policy in the Auth Service account, naming each role by reference, attached to its role', () => {
    const policy = resources(s, 'aws_iam_policy').find((p) => p.name === 'teleport-AssumeRole-policy')!;
    expect(policy.provider).toBe('aws.auth');
    expect(JSON.parse(policy.policy)).toEqual({
      Version: '2012-10-17',
      Statement: join.roles.map((r) => ({ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: ref(r.role, 'arn') })),
    });
    expect(resources(s, 'aws_iam_role_policy_attachment')).toContainEqual({
      provider: 'aws.auth',
      role: 'teleport-auth',
      policy_arn: ref(join.assumeRolePolicy.policy, 'arn'),
    });
  });

  it('creates one ec2 token whose allow rules carry each account, its regions and its role ARN by reference', () => {
    expect(s.text).toHaveResourceWithProperties(ProvisionToken, { metadata: { name: 'ec2-multiaccount-token', labels: { 'joinery.dev/managed-by': 'cdktf' } } });
    expect(s.text).not.toHaveDataSource(DataAwsCallerIdentity);
    expect(only(s, 'teleport_provision_token')).toEqual({
      version: 'v2',
      metadata: { name: 'ec2-multiaccount-token', labels: { 'joinery.dev/managed-by': 'cdktf' } },
      spec: {
        roles: ['Node'],
        join_method: 'ec2',
        aws_iid_ttl: '5m',
        allow: [
          { aws_account: '222222222222', aws_regions: ['us-west-1', 'us-west-2'], aws_role: ref(join.roles[0].role, 'arn') },
          { aws_account: '333333333333', aws_regions: ['us-west-1', 'us-west-2'], aws_role: ref(join.roles[1].role, 'arn') },
        ],
      },
    });
  });

  it('reads the Auth Service account ID with aws_caller_identity when it is not given, and attaches to a user', () => {
    let j!: MultiAccountEc2Join;
    const out = synth((scope) => {
      j = build(scope, {});
      const auth = new AwsProvider(scope, 'auth2', { alias: 'auth2' });
      const c = new AwsProvider(scope, 'c', { alias: 'c' });
      new MultiAccountEc2Join(scope, 'join2', {
        authService: { provider: auth, userName: 'teleport' },
        accounts: [{ provider: c, accountId: '444444444444' }],
        token: { name: 'other', awsIidTtl: '10m', roles: ['Node', 'App'] },
      });
    });
    expect(out.text).toHaveDataSourceWithProperties(DataAwsCallerIdentity, { provider: 'aws.auth2' });
    const identity = Object.entries(out.json.data!.aws_caller_identity);
    expect(identity).toHaveLength(1);
    const [identityId, identityData] = identity[0];
    expect(identityData.provider).toBe('aws.auth2');
    const role = resources(out, 'aws_iam_role').find((r) => r.provider === 'aws.c')!;
    expect(JSON.parse(role.assume_role_policy).Statement[0].Principal.AWS).toBe(`arn:aws:iam::\${data.aws_caller_identity.${identityId}.account_id}:root`);
    expect(resources(out, 'aws_iam_user_policy_attachment')).toEqual([{ provider: 'aws.auth2', user: 'teleport', policy_arn: expect.stringMatching(/^\$\{aws_iam_policy\.join2_AssumeRolePolicy_.*\.arn\}$/) }]);
    const token = resources(out, 'teleport_provision_token').find((t) => t.metadata.name === 'other')!;
    expect(token.spec).toMatchObject({ roles: ['Node', 'App'], aws_iid_ttl: '10m', allow: [{ aws_account: '444444444444' }] });
    expect(token.spec.allow[0].aws_regions).toBeUndefined();
    expect(j.authAccountId).toBe('111111111111');
  });

  const invalid: Array<[string, (scope: Construct) => void, new (...a: never[]) => Error, RegExp]> = [
    ['no foreign accounts', (scope) => build(scope, { accounts: [] }), IamPropsError, /join: accounts must list at least one foreign account \(got none\)/],
    [
      'an account ID that is not 12 digits',
      (scope) => build(scope, { accounts: [{ provider: new AwsProvider(scope, 'x', {}), accountId: '22222' }] }),
      IamPropsError,
      /join: accounts\[0\]\.accountId must be a 12-digit AWS account ID \(got "22222"\)/,
    ],
    [
      'the same account twice',
      (scope) => {
        const p = new AwsProvider(scope, 'x', {});
        build(scope, { accounts: [{ provider: p, accountId: '222222222222' }, { provider: p, accountId: '222222222222' }] });
      },
      IamPropsError,
      /join: accounts\[1\]\.accountId lists account 222222222222 twice/,
    ],
    [
      'an Auth Service with neither role nor user',
      (scope) => build(scope, { authService: { provider: new AwsProvider(scope, 'x', {}) } }),
      IamPropsError,
      /join: authService must name the roleName \(or role\) or userName/,
    ],
    [
      'a bad region',
      (scope) => build(scope, { accounts: [{ provider: new AwsProvider(scope, 'x', {}), accountId: '222222222222', regions: ['us-west'] }] }),
      JoinTokenPropsError,
      /allow\[0\]\.awsRegions\[0\] \(YAML spec\.allow\[0\]\.aws_regions\[0\]\) must be an AWS region name such as us-west-2 \(got "us-west"\)/,
    ],
    ['a bad token TTL', (scope) => build(scope, { token: { name: 't', awsIidTtl: '0s' } }), JoinTokenPropsError, /awsIidTtl \(YAML spec\.aws_iid_ttl\) must be greater than zero/],
  ];

  it.each(invalid)('rejects %s', (_what, fn, type, message) => {
    let error: unknown;
    Testing.synthScope((scope) => {
      try {
        fn(scope as Construct);
      } catch (e) {
        error = e;
      }
    });
    expect(error).toBeInstanceOf(type);
    expect((error as Error).message).toMatch(message);
  });
});
