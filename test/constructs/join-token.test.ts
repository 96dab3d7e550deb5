import { Testing, TerraformVariable } from 'cdktf';
import 'cdktf/lib/testing/adapters/jest'; // the matchers' types
import { Ec2JoinToken, IamJoinToken, JoinToken, JoinTokenPropsError, ProvisionToken } from '../../constructs';
import { only, synth } from './synth';

Testing.setupJest();

const TOKEN = 'teleport_provision_token';

describe('Ec2JoinToken', () => {
  it('synthesizes the seed token.yaml with the documented defaults (roles [Node], aws_iid_ttl 5m)', () => {
    const s = synth((scope) => {
      new Ec2JoinToken(scope, 'ec2', {
        name: 'ec2-token',
        allow: [{ awsAccount: '111111111111', awsRegions: ['us-west-1', 'us-west-2'] }],
      });
    });
    expect(s.text).toHaveResourceWithProperties(ProvisionToken, { version: 'v2' });
    expect(only(s, TOKEN)).toEqual({
      version: 'v2',
      // The construct records that CDKTF manages the token; the rest is the seed as written.
      metadata: { name: 'ec2-token', labels: { 'joinery.dev/managed-by': 'cdktf' } },
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
        awsIidTtl: '1h30m',
        allow: [
          { awsAccount: '222222222222', awsRegions: ['us-west-1'], awsRole: 'arn:aws:iam::222222222222:role/teleport-DescribeInstances-role' },
          { awsRole: 'arn:aws:iam::333333333333:role/teleport-DescribeInstances-role' },
        ],
      });
    });
    expect(only(s, TOKEN)).toEqual({
      version: 'v2',
      metadata: { name: 'ec2-multiaccount-token', description: 'two accounts', labels: { 'joinery.dev/managed-by': 'cdktf', team: 'infra' }, expires: '2030-01-02T15:04:05Z' },
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
      const token = new Ec2JoinToken(scope, 'ec2', { name: 'ec2-token', allow: [{ awsAccount: '111111111111' }] });
      expect(token.resource).toBeInstanceOf(ProvisionToken);
      expect(token.tokenName).toBe('ec2-token');
      expect(token.joinMethod).toBe('ec2');
      expect(token.awsIidTtl).toBe('5m');
      token.resource.addOverride('labels', { 'teleport.dev/origin': 'dynamic' });
    });
  });

  it('honours an override made through the escape hatch', () => {
    const s = synth((scope) => {
      const token = new Ec2JoinToken(scope, 'ec2', { name: 'ec2-token', allow: [{ awsAccount: '111111111111' }] });
      token.resource.addOverride('labels', { 'teleport.dev/origin': 'dynamic' });
    });
    expect(only(s, TOKEN).labels).toEqual({ 'teleport.dev/origin': 'dynamic' });
  });

  const invalid: Array<[string, Record<string, unknown>, RegExp]> = [
    ['an account that is not 12 digits', { allow: [{ awsAccount: '12345' }] }, /allow\[0\]\.awsAccount \(YAML spec\.allow\[0\]\.aws_account\) must be a 12-digit AWS account ID \(got "12345"\)/],
    ['a region that is not a region', { allow: [{ awsAccount: '111111111111', awsRegions: ['us-west-1', 'mars-1'] }] }, /allow\[0\]\.awsRegions\[1\] \(YAML spec\.allow\[0\]\.aws_regions\[1\]\) must be an AWS region name such as us-west-2 \(got "mars-1"\)/],
    ['a duplicate region', { allow: [{ awsAccount: '111111111111', awsRegions: ['us-west-1', 'us-west-1'] }] }, /allow\[0\]\.awsRegions\[1\] \(YAML spec\.allow\[0\]\.aws_regions\[1\]\) duplicate region us-west-1/],
    ['an aws_role that is not a role ARN', { allow: [{ awsRole: 'teleport-DescribeInstances-role' }] }, /allow\[0\]\.awsRole \(YAML spec\.allow\[0\]\.aws_role\) must be an IAM role ARN .*\(got "teleport-DescribeInstances-role"\)/],
    [
      'an aws_role in another account than aws_account',
      { allow: [{ awsAccount: '111111111111', awsRole: 'arn:aws:iam::222222222222:role/r' }] },
      /allow\[0\]\.awsRole \(YAML spec\.allow\[0\]\.aws_role\) is a role in account 222222222222, but aws_account is 111111111111/,
    ],
    ['no allow rules', { allow: [] }, /allow \(YAML spec\.allow\) is required for join_method ec2/],
    ['a rule with neither account nor role', { allow: [{ awsRegions: ['us-west-1'] }] }, /allow\[0\] \(YAML spec\.allow\[0\]\) an ec2 allow rule must set aws_account or aws_role/],
    ['an aws_arn (iam only)', { allow: [{ awsAccount: '111111111111', awsArn: 'arn:aws:sts::111111111111:assumed-role/x/*' }] }, /allow\[0\]\.awsArn \(YAML spec\.allow\[0\]\.aws_arn\) is only valid for join_method iam \(this token uses ec2\)/],
    ['a bad TTL', { awsIidTtl: '5 minutes', allow: [{ awsAccount: '111111111111' }] }, /awsIidTtl \(YAML spec\.aws_iid_ttl\) must be a duration such as 5m, 90s or 1h30m \(got "5 minutes"\)/],
    ['an unknown role', { roles: ['Nodes'], allow: [{ awsAccount: '111111111111' }] }, /roles\[0\] \(YAML spec\.roles\[0\]\) "Nodes" is not a known role; use one of Auth, Node/],
    ['an empty role list', { roles: [], allow: [{ awsAccount: '111111111111' }] }, /roles \(YAML spec\.roles\) is required: list at least one role \(e\.g\. \[Node\]\)/],
    ['an empty name', { name: '', allow: [{ awsAccount: '111111111111' }] }, /name \(YAML metadata\.name\) is required and must not be empty/],
    ['an expiry that is not RFC 3339', { expires: 'tomorrow', allow: [{ awsAccount: '111111111111' }] }, /expires \(YAML metadata\.expires\) must be an RFC 3339 time such as 2030-01-02T15:04:05Z \(got "tomorrow"\)/],
    ['a bad label key', { labels: { 'bad key': 'x' }, allow: [{ awsAccount: '111111111111' }] }, /labels\["bad key"\] \(YAML metadata\.labels\["bad key"\]\) label key "bad key" must match/],
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
        new Ec2JoinToken(scope, 'bad', { name: 'x', awsIidTtl: 'soon', allow: [{ awsAccount: '1' }, { awsRole: 'nope' }] });
      }),
    ).toThrow(/allow\[0\]\.awsAccount \(YAML spec\.allow\[0\]\.aws_account\) .*; allow\[1\]\.awsRole \(YAML spec\.allow\[1\]\.aws_role\) .*; awsIidTtl \(YAML spec\.aws_iid_ttl\) /);
  });

  it('skips checks on references, which are only known at apply time', () => {
    const s = synth((scope) => {
      const account = new TerraformVariable(scope, 'account', { type: 'string' });
      const role = new TerraformVariable(scope, 'role', { type: 'string' });
      new Ec2JoinToken(scope, 'ec2', {
        name: 'ec2-token',
        allow: [
          { awsAccount: account.stringValue, awsRole: 'arn:aws:iam::222222222222:role/teleport-DescribeInstances-role' },
          { awsAccount: '333333333333', awsRole: role.stringValue },
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
        new Ec2JoinToken(scope, 'ec2', { name: 'ec2-token', allow: [{ awsRole: role.stringValue, awsRegions: ['nowhere'] }] });
      }),
    ).toThrow(/allow\[0\]\.awsRegions\[0\] \(YAML spec\.allow\[0\]\.aws_regions\[0\]\) must be an AWS region name such as us-west-2 \(got "nowhere"\)/);
  });
});

describe('IamJoinToken', () => {
  it('synthesizes the seed iam token.yaml', () => {
    const s = synth((scope) => {
      new IamJoinToken(scope, 'iam', {
        name: 'iam-token',
        allow: [
          { awsAccount: '111111111111' },
          { awsAccount: '222222222222' },
          { awsAccount: '333333333333', awsArn: 'arn:aws:sts::333333333333:assumed-role/teleport-node-role/i-*' },
        ],
      });
    });
    expect(only(s, TOKEN)).toEqual({
      version: 'v2',
      metadata: { name: 'iam-token', labels: { 'joinery.dev/managed-by': 'cdktf' } },
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
    ['regions (ec2 only)', { allow: [{ awsAccount: '111111111111', awsRegions: ['us-west-1'] }] }, /allow\[0\]\.awsRegions \(YAML spec\.allow\[0\]\.aws_regions\) is only valid for join_method ec2 \(this token uses iam\)/],
    ['an aws_role (ec2 only)', { allow: [{ awsRole: 'arn:aws:iam::111111111111:role/r' }] }, /allow\[0\]\.awsRole \(YAML spec\.allow\[0\]\.aws_role\) is only valid for join_method ec2 \(this token uses iam\)/],
    ['an aws_iid_ttl (ec2 only)', { awsIidTtl: '5m', allow: [{ awsAccount: '111111111111' }] }, /awsIidTtl is not a prop of IamJoinToken; expected one of name, .*, allow/],
    ['an ARN pattern with spaces', { allow: [{ awsArn: 'arn:aws:sts::1:assumed-role/a b' }] }, /allow\[0\]\.awsArn \(YAML spec\.allow\[0\]\.aws_arn\) must not contain white space or control characters/],
    ['no allow rules', { allow: [] }, /allow \(YAML spec\.allow\) is required for join_method iam: add at least one rule with aws_account or aws_arn/],
    ['a Bot role without bot_name', { roles: ['Bot'], allow: [{ awsAccount: '111111111111' }] }, /botName \(YAML spec\.bot_name\) is required when roles include Bot/],
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
        awsIidTtl: v.stringValue,
        allow: [{ awsAccount: '111111111111', awsRegions: ['us-west-1', v.stringValue] }],
      });
    });
    const token = only(s, 'teleport_provision_token');
    expect(token.metadata).toEqual({ name: '${var.v}', labels: { 'joinery.dev/managed-by': 'cdktf', team: '${var.v}', '${var.v}': 'x' } });
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
        new IamJoinToken(scope, 'iam', { name: 'iam-token', labels: { team: v.stringValue, 'teleport.dev/origin': 'nowhere' }, allow: [{ awsAccount: '111111111111' }] });
      }),
    ).toThrow(/labels\["teleport\.dev\/origin"\] \(YAML metadata\.labels\["teleport\.dev\/origin"\]\) teleport\.dev\/origin must be one of defaults, .* \(got "nowhere"\)/);
  });
});

describe('0.1 prop names', () => {
  it('still work from JavaScript as deprecated aliases, with a warning naming the new prop', () => {
    const warnings: string[] = [];
    const s = synth((scope) => {
      const token = new Ec2JoinToken(scope, 'ec2', {
        name: 'ec2-token',
        aws_iid_ttl: '10m',
        allow: [{ aws_account: '111111111111', aws_regions: ['us-west-1'] }],
      } as never);
      expect(token.awsIidTtl).toBe('10m');
      const iam = new IamJoinToken(scope, 'iam', { name: 'bot-token', roles: ['Bot'], bot_name: 'ci', allow: [{ aws_arn: 'arn:aws:sts::111111111111:assumed-role/ci/*' }] } as never);
      for (const c of [token, iam]) for (const m of c.node.metadata) if (m.type === 'aws:cdk:warning' || /warn/.test(m.type)) warnings.push(String(m.data));
    });
    const tokens = Object.values(s.json.resource!.teleport_provision_token).map(({ '//': _m, ...r }) => r as Record<string, any>);
    expect(tokens[0].spec).toEqual({ roles: ['Node'], join_method: 'ec2', aws_iid_ttl: '10m', allow: [{ aws_account: '111111111111', aws_regions: ['us-west-1'] }] });
    expect(tokens[1].spec).toEqual({ roles: ['Bot'], join_method: 'iam', bot_name: 'ci', allow: [{ aws_arn: 'arn:aws:sts::111111111111:assumed-role/ci/*' }] });
    expect(warnings).toEqual(
      expect.arrayContaining([
        expect.stringContaining('aws_iid_ttl -> awsIidTtl'),
        expect.stringContaining('allow[0].aws_account -> allow[0].awsAccount'),
        expect.stringContaining('bot_name -> botName'),
      ]),
    );
  });

  it('are reported in errors by their camelCase prop and YAML field', () => {
    expect(() =>
      Testing.synthScope((scope) => {
        new Ec2JoinToken(scope, 'old', { name: 'ec2-token', aws_iid_ttl: 'soon', allow: [{ aws_account: '111111111111' }] } as never);
      }),
    ).toThrow(/^Ec2JoinToken "[^"]*old": invalid props: awsIidTtl \(YAML spec\.aws_iid_ttl\) must be a duration/);
  });
});

describe('JoinToken.fromTokenName', () => {
  it('refers to an existing token by name and creates nothing', () => {
    const s = synth((scope) => {
      const token = JoinToken.fromTokenName(scope, 'existing', 'ec2-token');
      expect(token.tokenName).toBe('ec2-token');
      expect(token.node.path).toMatch(/existing$/);
    });
    expect(s.json.resource).toBeUndefined();
  });

  it('rejects an empty name, naming the construct path and the prop', () => {
    expect(() =>
      Testing.synthScope((scope) => {
        JoinToken.fromTokenName(scope, 'existing', '');
      }),
    ).toThrow(/^JoinToken\.fromTokenName "[^"]*existing": invalid props: tokenName \(YAML metadata\.name\) must be a non-empty token name \(got ""\)/);
  });
});

describe('JoinTokenPropsError', () => {
  it('lists each problem with its camelCase prop and YAML field', () => {
    let error: JoinTokenPropsError | undefined;
    Testing.synthScope((scope) => {
      try {
        new Ec2JoinToken(scope, 'bad', { name: 'x', allow: [{ awsAccount: '1' }] });
      } catch (e) {
        error = e as JoinTokenPropsError;
      }
    });
    expect(error?.errors).toEqual([
      { prop: 'allow[0].awsAccount', yamlField: 'spec.allow[0].aws_account', field: 'allow[0].awsAccount', message: expect.stringContaining('(got "1")') },
    ]);
  });
});

describe('AWS Organizations conditions on IamJoinToken (issue 12)', () => {
  test('awsOrganizationId and awsOrganizationalUnits become the rule\'s YAML fields', () => {
    const s = synth((scope) => {
      new IamJoinToken(scope, 'org', {
        name: 'org-token',
        allow: [{ awsArn: 'arn:aws:sts::*:assumed-role/ci/*', awsOrganizationId: 'o-a1b2c3d4e5', awsOrganizationalUnits: { include: ['ou-ab12-cdef3456'], exclude: ['ou-ab12-99998888'] } }],
      });
    });
    expect(only(s, 'teleport_provision_token').spec.allow).toEqual([
      { aws_arn: 'arn:aws:sts::*:assumed-role/ci/*', aws_organization_id: 'o-a1b2c3d4e5', aws_organizational_units: { include: ['ou-ab12-cdef3456'], exclude: ['ou-ab12-99998888'] } },
    ]);
  });

  test('the schema\'s combination rules apply: OU matchers need the organization', () => {
    expect(() =>
      synth((scope) => {
        new IamJoinToken(scope, 'org', { name: 'org-token', allow: [{ awsAccount: '111111111111', awsOrganizationalUnits: { include: ['*'] } }] });
      }),
    ).toThrow(/allow\[0\]\.awsOrganizationalUnits \(YAML spec\.allow\[0\]\.aws_organizational_units\) needs aws_organization_id/);
  });
});
