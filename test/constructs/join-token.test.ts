import { Testing, TerraformVariable } from 'cdktf';
import 'cdktf/lib/testing/adapters/jest'; // the matchers' types
import { Ec2JoinToken, IamJoinToken, JoinTokenPropsError, ProvisionToken } from '../../constructs';
import { only, synth } from './synth';

Testing.setupJest();

const TOKEN = 'teleport_provision_token';

describe('Ec2JoinToken', () => {
  it('synthesizes the seed token.yaml with the documented defaults (roles [Node], aws_iid_ttl 5m)', () => {
    const s = synth((scope) => {
      new Ec2JoinToken(scope, 'ec2', {
        name: 'ec2-token',
        allow: [{ aws_account: '111111111111', aws_regions: ['us-west-1', 'us-west-2'] }],
      });
    });
    expect(s.text).toHaveResourceWithProperties(ProvisionToken, { version: 'v2' });
    expect(only(s, TOKEN)).toEqual({
      version: 'v2',
      metadata: { name: 'ec2-token' },
      spec: {
        roles: ['Node'],
        join_method: 'ec2',
        aws_iid_ttl: '5m',
        allow: [{ aws_account: '111111111111', aws_regions: ['us-west-1', 'us-west-2'] }],
      },
    });
  });

  it('passes every field through and stores roles in canonical casing', () => {
    const s = synth((scope) => {
      new Ec2JoinToken(scope, 'ec2', {
        name: 'ec2-multiaccount-token',
        description: 'two accounts',
        labels: { team: 'infra' },
        expires: '2030-01-02T15:04:05Z',
        roles: ['node', 'DB', 'app'],
        aws_iid_ttl: '1h30m',
        allow: [
          { aws_account: '222222222222', aws_regions: ['us-west-1'], aws_role: 'arn:aws:iam::222222222222:role/teleport-DescribeInstances-role' },
          { aws_role: 'arn:aws:iam::333333333333:role/teleport-DescribeInstances-role' },
        ],
      });
    });
    expect(only(s, TOKEN)).toEqual({
      version: 'v2',
      metadata: { name: 'ec2-multiaccount-token', description: 'two accounts', labels: { team: 'infra' }, expires: '2030-01-02T15:04:05Z' },
      spec: {
        roles: ['Node', 'Db', 'App'],
        join_method: 'ec2',
        aws_iid_ttl: '1h30m',
        allow: [
          { aws_account: '222222222222', aws_regions: ['us-west-1'], aws_role: 'arn:aws:iam::222222222222:role/teleport-DescribeInstances-role' },
          { aws_role: 'arn:aws:iam::333333333333:role/teleport-DescribeInstances-role' },
        ],
      },
    });
  });

  it('exposes the L1 resource as an escape hatch and its name and defaults', () => {
    Testing.synthScope((scope) => {
      const token = new Ec2JoinToken(scope, 'ec2', { name: 'ec2-token', allow: [{ aws_account: '111111111111' }] });
      expect(token.resource).toBeInstanceOf(ProvisionToken);
      expect(token.tokenName).toBe('ec2-token');
      expect(token.joinMethod).toBe('ec2');
      expect(token.awsIidTtl).toBe('5m');
      token.resource.addOverride('labels', { 'teleport.dev/origin': 'dynamic' });
    });
  });

  it('honours an override made through the escape hatch', () => {
    const s = synth((scope) => {
      const token = new Ec2JoinToken(scope, 'ec2', { name: 'ec2-token', allow: [{ aws_account: '111111111111' }] });
      token.resource.addOverride('labels', { 'teleport.dev/origin': 'dynamic' });
    });
    expect(only(s, TOKEN).labels).toEqual({ 'teleport.dev/origin': 'dynamic' });
  });

  const invalid: Array<[string, Record<string, unknown>, RegExp]> = [
    ['an account that is not 12 digits', { allow: [{ aws_account: '12345' }] }, /allow\[0\]\.aws_account must be a 12-digit AWS account ID \(got "12345"\)/],
    ['a region that is not a region', { allow: [{ aws_account: '111111111111', aws_regions: ['us-west-1', 'mars-1'] }] }, /allow\[0\]\.aws_regions\[1\] must be an AWS region name such as us-west-2 \(got "mars-1"\)/],
    ['a duplicate region', { allow: [{ aws_account: '111111111111', aws_regions: ['us-west-1', 'us-west-1'] }] }, /allow\[0\]\.aws_regions\[1\] duplicate region us-west-1/],
    ['an aws_role that is not a role ARN', { allow: [{ aws_role: 'teleport-DescribeInstances-role' }] }, /allow\[0\]\.aws_role must be an IAM role ARN .*\(got "teleport-DescribeInstances-role"\)/],
    [
      'an aws_role in another account than aws_account',
      { allow: [{ aws_account: '111111111111', aws_role: 'arn:aws:iam::222222222222:role/r' }] },
      /allow\[0\]\.aws_role is a role in account 222222222222, but aws_account is 111111111111/,
    ],
    ['no allow rules', { allow: [] }, /allow is required for join_method ec2/],
    ['a rule with neither account nor role', { allow: [{ aws_regions: ['us-west-1'] }] }, /allow\[0\] an ec2 allow rule must set aws_account or aws_role/],
    ['an aws_arn (iam only)', { allow: [{ aws_account: '111111111111', aws_arn: 'arn:aws:sts::111111111111:assumed-role/x/*' }] }, /allow\[0\]\.aws_arn is only valid for join_method iam \(this token uses ec2\)/],
    ['a bad TTL', { aws_iid_ttl: '5 minutes', allow: [{ aws_account: '111111111111' }] }, /aws_iid_ttl must be a duration such as 5m, 90s or 1h30m \(got "5 minutes"\)/],
    ['an unknown role', { roles: ['Nodes'], allow: [{ aws_account: '111111111111' }] }, /roles\[0\] "Nodes" is not a known role; use one of Auth, Node/],
    ['an empty role list', { roles: [], allow: [{ aws_account: '111111111111' }] }, /roles is required: list at least one role \(e\.g\. \[Node\]\)/],
    ['an empty name', { name: '', allow: [{ aws_account: '111111111111' }] }, /name is required and must not be empty/],
    ['an expiry that is not RFC 3339', { expires: 'tomorrow', allow: [{ aws_account: '111111111111' }] }, /expires must be an RFC 3339 time such as 2030-01-02T15:04:05Z \(got "tomorrow"\)/],
    ['a bad label key', { labels: { 'bad key': 'x' }, allow: [{ aws_account: '111111111111' }] }, /labels\["bad key"\] label key "bad key" must match/],
  ];

  it.each(invalid)('rejects %s at construction time, saying what it got and what it expects', (_what, override, message) => {
    let error: unknown;
    Testing.synthScope((scope) => {
      try {
        new Ec2JoinToken(scope, 'bad', { name: 'ec2-token', allow: [], ...override } as never);
      } catch (e) {
        error = e;
      }
    });
    expect(error).toBeInstanceOf(JoinTokenPropsError);
    expect((error as Error).message).toMatch(/^Ec2JoinToken "[^"]*bad": invalid props: /);
    expect((error as Error).message).toMatch(message);
  });

  it('reports every problem at once', () => {
    expect(() =>
      Testing.synthScope((scope) => {
        new Ec2JoinToken(scope, 'bad', { name: 'x', aws_iid_ttl: 'soon', allow: [{ aws_account: '1' }, { aws_role: 'nope' }] });
      }),
    ).toThrow(/allow\[0\]\.aws_account .*; allow\[1\]\.aws_role .*; aws_iid_ttl /);
  });

  it('skips checks on references, which are only known at apply time', () => {
    const s = synth((scope) => {
      const account = new TerraformVariable(scope, 'account', { type: 'string' });
      const role = new TerraformVariable(scope, 'role', { type: 'string' });
      new Ec2JoinToken(scope, 'ec2', {
        name: 'ec2-token',
        allow: [
          { aws_account: account.stringValue, aws_role: 'arn:aws:iam::222222222222:role/teleport-DescribeInstances-role' },
          { aws_account: '333333333333', aws_role: role.stringValue },
        ],
      });
    });
    expect(only(s, TOKEN).spec.allow).toEqual([
      { aws_account: '${var.account}', aws_role: 'arn:aws:iam::222222222222:role/teleport-DescribeInstances-role' },
      { aws_account: '333333333333', aws_role: '${var.role}' },
    ]);
  });

  it('still checks the literal parts of a rule that holds a reference', () => {
    expect(() =>
      Testing.synthScope((scope) => {
        const role = new TerraformVariable(scope, 'role', { type: 'string' });
        new Ec2JoinToken(scope, 'ec2', { name: 'ec2-token', allow: [{ aws_role: role.stringValue, aws_regions: ['nowhere'] }] });
      }),
    ).toThrow(/allow\[0\]\.aws_regions\[0\] must be an AWS region name such as us-west-2 \(got "nowhere"\)/);
  });
});

describe('IamJoinToken', () => {
  it('synthesizes the seed iam token.yaml', () => {
    const s = synth((scope) => {
      new IamJoinToken(scope, 'iam', {
        name: 'iam-token',
        allow: [
          { aws_account: '111111111111' },
          { aws_account: '222222222222' },
          { aws_account: '333333333333', aws_arn: 'arn:aws:sts::333333333333:assumed-role/teleport-node-role/i-*' },
        ],
      });
    });
    expect(only(s, TOKEN)).toEqual({
      version: 'v2',
      metadata: { name: 'iam-token' },
      spec: {
        roles: ['Node'],
        join_method: 'iam',
        allow: [
          { aws_account: '111111111111' },
          { aws_account: '222222222222' },
          { aws_account: '333333333333', aws_arn: 'arn:aws:sts::333333333333:assumed-role/teleport-node-role/i-*' },
        ],
      },
    });
  });

  const invalid: Array<[string, Record<string, unknown>, RegExp]> = [
    ['regions (ec2 only)', { allow: [{ aws_account: '111111111111', aws_regions: ['us-west-1'] }] }, /allow\[0\]\.aws_regions is only valid for join_method ec2 \(this token uses iam\)/],
    ['an aws_role (ec2 only)', { allow: [{ aws_role: 'arn:aws:iam::111111111111:role/r' }] }, /allow\[0\]\.aws_role is only valid for join_method ec2 \(this token uses iam\)/],
    ['an aws_iid_ttl (ec2 only)', { aws_iid_ttl: '5m', allow: [{ aws_account: '111111111111' }] }, /aws_iid_ttl is not a prop of IamJoinToken; expected one of name, .*, allow/],
    ['an ARN pattern with spaces', { allow: [{ aws_arn: 'arn:aws:sts::1:assumed-role/a b' }] }, /allow\[0\]\.aws_arn must not contain white space or control characters/],
    ['no allow rules', { allow: [] }, /allow is required for join_method iam: add at least one rule with aws_account or aws_arn/],
    ['a Bot role without bot_name', { roles: ['Bot'], allow: [{ aws_account: '111111111111' }] }, /bot_name is required when roles include Bot/],
  ];

  it.each(invalid)('rejects %s', (_what, override, message) => {
    expect(() =>
      Testing.synthScope((scope) => {
        new IamJoinToken(scope, 'bad', { name: 'iam-token', allow: [], ...override } as never);
      }),
    ).toThrow(message);
  });
});

describe('references in other fields', () => {
  it('are passed through unchecked: a roles list, label values and keys, the TTL, the name', () => {
    const s = synth((scope) => {
      const roles = new TerraformVariable(scope, 'roles', { type: 'list(string)' });
      const v = new TerraformVariable(scope, 'v', { type: 'string' });
      new Ec2JoinToken(scope, 'ec2', {
        name: v.stringValue,
        roles: roles.listValue,
        labels: { team: v.stringValue, [v.stringValue]: 'x' },
        aws_iid_ttl: v.stringValue,
        allow: [{ aws_account: '111111111111', aws_regions: ['us-west-1', v.stringValue] }],
      });
    });
    const token = only(s, 'teleport_provision_token');
    expect(token.metadata).toEqual({ name: '${var.v}', labels: { team: '${var.v}', '${var.v}': 'x' } });
    expect(token.spec).toEqual({
      roles: '${var.roles}',
      join_method: 'ec2',
      aws_iid_ttl: '${var.v}',
      allow: [{ aws_account: '111111111111', aws_regions: ['us-west-1', '${var.v}'] }],
    });
  });

  it('do not hide errors in the literal labels next to them', () => {
    expect(() =>
      Testing.synthScope((scope) => {
        const v = new TerraformVariable(scope, 'v', { type: 'string' });
        new IamJoinToken(scope, 'iam', { name: 'iam-token', labels: { team: v.stringValue, 'teleport.dev/origin': 'nowhere' }, allow: [{ aws_account: '111111111111' }] });
      }),
    ).toThrow(/labels\["teleport\.dev\/origin"\] teleport\.dev\/origin must be one of defaults, .* \(got "nowhere"\)/);
  });
});
