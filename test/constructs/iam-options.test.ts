// IAM options (permissions boundary, path, tags) and roles given by reference: an L1 IamRole,
// RoleReference.fromRoleArn / fromRoleName, or a construct of the library.

import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { Testing, TerraformOutput, TerraformVariable } from 'cdktf';
import { Construct } from 'constructs';
import {
  AssumeRolePolicy,
  DescribeInstancesPolicy,
  DescribeInstancesRole,
  IamJoinRole,
  IamPropsError,
  MultiAccountEc2Join,
  RoleReference,
} from '../../constructs';
import { only, ref, resources, synth } from './synth';

const BOUNDARY = 'arn:aws:iam::111111111111:policy/teleport-boundary';
const TAGS = { team: 'infra', 'cost-center': '42' };

function errorOf(fn: (scope: Construct) => void): Error {
  let error: unknown;
  Testing.synthScope((scope) => {
    try {
      fn(scope);
    } catch (e) {
      error = e;
    }
  });
  if (!(error instanceof Error)) throw new Error('expected an error');
  return error;
}

describe('permissions boundary, path and tags', () => {
  it('DescribeInstancesRole puts them on the role, and path and tags on its policy', () => {
    const s = synth((scope) => {
      new DescribeInstancesRole(scope, 'role', {
        provider: new AwsProvider(scope, 'aws', {}),
        trustedAccountId: '111111111111',
        permissionsBoundary: BOUNDARY,
        path: '/teleport/',
        tags: TAGS,
      });
    });
    const role = only(s, 'aws_iam_role');
    expect(role).toMatchObject({ name: 'teleport-DescribeInstances-role', permissions_boundary: BOUNDARY, path: '/teleport/', tags: TAGS });
    expect(only(s, 'aws_iam_policy')).toMatchObject({ name: 'teleport-DescribeInstances-policy', path: '/teleport/', tags: TAGS });
  });

  it('IamJoinRole puts them on the role and its instance profile', () => {
    const s = synth((scope) => {
      new IamJoinRole(scope, 'node', { permissionsBoundary: BOUNDARY, path: '/teleport/', tags: TAGS });
    });
    expect(only(s, 'aws_iam_role')).toMatchObject({ name: 'teleport-node-role', permissions_boundary: BOUNDARY, path: '/teleport/', tags: TAGS });
    expect(only(s, 'aws_iam_instance_profile')).toMatchObject({ name: 'teleport-node-role', path: '/teleport/', tags: TAGS });
  });

  it('the policies take path and tags', () => {
    const s = synth((scope) => {
      new DescribeInstancesPolicy(scope, 'describe', { path: '/a/b/', tags: TAGS });
      new AssumeRolePolicy(scope, 'assume', { roles: ['arn:aws:iam::222222222222:role/r'], path: '/c/' });
    });
    const byName = Object.fromEntries(resources(s, 'aws_iam_policy').map((p) => [p.name, p]));
    expect(byName['teleport-DescribeInstances-policy']).toMatchObject({ path: '/a/b/', tags: TAGS });
    expect(byName['teleport-AssumeRole-policy'].path).toBe('/c/');
    expect(byName['teleport-AssumeRole-policy'].tags).toBeUndefined();
  });

  it('are left out entirely when not given (the seed documents stay exact)', () => {
    const s = synth((scope) => {
      new DescribeInstancesRole(scope, 'role', { provider: new AwsProvider(scope, 'aws', {}), trustedAccountId: '111111111111' });
    });
    for (const type of ['aws_iam_role', 'aws_iam_policy']) {
      const r = only(s, type);
      expect(Object.keys(r)).not.toEqual(expect.arrayContaining(['permissions_boundary']));
      expect(r.path).toBeUndefined();
      expect(r.tags).toBeUndefined();
    }
  });

  it('MultiAccountEc2Join passes iamPath, tags and a boundary per account to what it creates', () => {
    const s = synth((scope) => {
      const auth = new AwsProvider(scope, 'auth', { alias: 'auth' });
      new MultiAccountEc2Join(scope, 'join', {
        authService: { provider: auth, accountId: '111111111111', roleName: 'teleport-auth' },
        accounts: [
          { provider: new AwsProvider(scope, 'a', { alias: 'a' }), accountId: '222222222222', permissionsBoundary: BOUNDARY },
          { provider: new AwsProvider(scope, 'b', { alias: 'b' }), accountId: '333333333333' },
        ],
        token: { name: 'ec2-multiaccount-token' },
        iamPath: '/teleport/',
        tags: TAGS,
      });
    });
    const roles = resources(s, 'aws_iam_role');
    expect(roles.map((r) => [r.provider, r.permissions_boundary, r.path, r.tags])).toEqual([
      ['aws.a', BOUNDARY, '/teleport/', TAGS],
      ['aws.b', undefined, '/teleport/', TAGS],
    ]);
    for (const p of resources(s, 'aws_iam_policy')) expect(p).toMatchObject({ path: '/teleport/', tags: TAGS });
  });

  const invalid: Array<[string, (scope: Construct) => void, RegExp]> = [
    [
      'a path without slashes',
      (scope) => new IamJoinRole(scope, 'node', { path: 'teleport' }),
      /^stack\/node: path must be an IAM path of 1-512 characters that starts and ends with "\/", such as \/teleport\/ \(got "teleport"\)$/,
    ],
    [
      'a boundary that is not a policy ARN',
      (scope) => new IamJoinRole(scope, 'node', { permissionsBoundary: 'arn:aws:iam::111111111111:role/x' }),
      /^stack\/node: permissionsBoundary must be a managed policy ARN such as arn:aws:iam::111111111111:policy\/boundary \(got "arn:aws:iam::111111111111:role\/x"\)$/,
    ],
    [
      'a reserved tag key',
      (scope) => new DescribeInstancesPolicy(scope, 'describe', { tags: { 'aws:owner': 'x' } }),
      /^stack\/describe: tags\["aws:owner"\] key must be 1-128 characters and not start with "aws:" \(got "aws:owner"\)$/,
    ],
    [
      'a policy path in MultiAccountEc2Join',
      (scope) =>
        new MultiAccountEc2Join(scope, 'join', {
          authService: { provider: new AwsProvider(scope, 'auth', {}), accountId: '111111111111', roleName: 'r' },
          accounts: [{ provider: new AwsProvider(scope, 'a', { alias: 'a' }), accountId: '222222222222' }],
          token: { name: 't' },
          iamPath: '//x',
        }),
      /^stack\/join\/Account222222222222: path must be an IAM path/,
    ],
  ];
  it.each(invalid)('rejects %s, naming the construct path, the prop and what it got', (_what, fn, message) => {
    const error = errorOf(fn);
    expect(error).toBeInstanceOf(IamPropsError);
    expect(error.message).toMatch(message);
  });
});

describe('roles by reference', () => {
  it('attachToRoles takes a name, an L1 IamRole, an imported role and a role construct of the library', () => {
    let l1!: IamRole;
    let node!: IamJoinRole;
    const s = synth((scope) => {
      l1 = new IamRole(scope, 'auth-role', { name: 'teleport-auth', assumeRolePolicy: '{}' });
      node = new IamJoinRole(scope, 'node');
      new DescribeInstancesPolicy(scope, 'describe', {
        attachToRoles: ['by-name', l1, RoleReference.fromRoleArn(scope, 'imported', 'arn:aws:iam::111111111111:role/ops/teleport-auth-2'), node],
      });
    });
    expect(resources(s, 'aws_iam_role_policy_attachment').map((a) => a.role)).toEqual(['by-name', ref(l1, 'name'), 'teleport-auth-2', ref(node.role, 'name')]);
  });

  it('AssumeRolePolicy takes ARNs, L1 roles, imported roles and DescribeInstancesRoles', () => {
    let l1!: IamRole;
    let foreign!: DescribeInstancesRole;
    const s = synth((scope) => {
      l1 = new IamRole(scope, 'l1', { name: 'x', assumeRolePolicy: '{}' });
      foreign = new DescribeInstancesRole(scope, 'foreign', { provider: new AwsProvider(scope, 'aws', {}), trustedAccountId: '111111111111' });
      new AssumeRolePolicy(scope, 'assume', {
        roles: [
          'arn:aws:iam::222222222222:role/teleport-DescribeInstances-role',
          l1,
          RoleReference.fromRoleName(scope, 'by-name', 'teleport-DescribeInstances-role', { accountId: '333333333333' }),
          foreign,
        ],
      });
    });
    const policy = resources(s, 'aws_iam_policy').find((p) => p.name === 'teleport-AssumeRole-policy')!;
    expect(JSON.parse(policy.policy).Statement.map((st: { Resource: string }) => st.Resource)).toEqual([
      'arn:aws:iam::222222222222:role/teleport-DescribeInstances-role',
      ref(l1, 'arn'),
      'arn:aws:iam::333333333333:role/teleport-DescribeInstances-role',
      ref(foreign.role, 'arn'),
    ]);
  });

  it('MultiAccountEc2Join attaches the assume-role policy to an imported Auth Service role', () => {
    const s = synth((scope) => {
      new MultiAccountEc2Join(scope, 'join', {
        authService: {
          provider: new AwsProvider(scope, 'auth', { alias: 'auth' }),
          accountId: '111111111111',
          role: RoleReference.fromRoleArn(scope, 'auth-role', 'arn:aws:iam::111111111111:role/teleport-auth-service'),
        },
        accounts: [{ provider: new AwsProvider(scope, 'a', { alias: 'a' }), accountId: '222222222222' }],
        token: { name: 't' },
      });
    });
    expect(resources(s, 'aws_iam_role_policy_attachment').filter((a) => a.provider === 'aws.auth').map((a) => a.role)).toEqual(['teleport-auth-service']);
  });

  it('fromRoleArn takes the name of a referenced ARN from the ARN at apply time', () => {
    Testing.synthScope((scope) => {
      const arn = new TerraformVariable(scope, 'arn', { type: 'string' }).stringValue;
      const role = RoleReference.fromRoleArn(scope, 'r', arn);
      expect(role.roleArn).toBe(arn);
      const out = JSON.parse(Testing.synthScope((inner) => new TerraformOutput(inner, 'name', { value: role.roleName })));
      expect(out.output.name.value).toBe('${element(reverse(split("/", var.arn)), 0)}');
      expect(scope.node.tryFindChild('r')).toBeDefined();
    });
  });

  it.each([
    ['fromRoleArn with a user ARN', (scope: Construct) => RoleReference.fromRoleArn(scope, 'r', 'arn:aws:iam::111111111111:user/u'), /r: roleArn must be an IAM role ARN .*\(got "arn:aws:iam::111111111111:user\/u"\)/],
    ['fromRoleName with a bad name', (scope: Construct) => RoleReference.fromRoleName(scope, 'r', 'a b'), /r: roleName must be 1-64 characters/],
    ['the ARN of a role imported by name without its account', (scope: Construct) => RoleReference.fromRoleName(scope, 'r', 'teleport').roleArn, /r: roleArn is unknown: the role was imported by name without an accountId/],
  ])('rejects %s', (_what, fn, message) => {
    const error = errorOf(fn);
    expect(error).toBeInstanceOf(IamPropsError);
    expect(error.message).toMatch(message);
  });
});
