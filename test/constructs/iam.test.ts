import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { Testing, TerraformStack } from 'cdktf';
import 'cdktf/lib/testing/adapters/jest'; // the matchers' types
import { IamPolicy } from '@cdktf/provider-aws/lib/iam-policy';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamInstanceProfile } from '@cdktf/provider-aws/lib/iam-instance-profile';
import { IamUserPolicyAttachment } from '@cdktf/provider-aws/lib/iam-user-policy-attachment';
import {
  AssumeRolePolicy,
  DescribeInstancesPolicy,
  DescribeInstancesRole,
  IamJoinRole,
  IamJoinToken,
  IamPropsError,
} from '../../constructs';
import { expr, only, ref, resources, synth } from './synth';

Testing.setupJest();

// The policy documents exactly as the EC2 join guide prints them.
const SEED_DESCRIBE_INSTANCES_POLICY = `{
   "Version": "2012-10-17",
   "Statement": [
	   {
		   "Effect": "Allow",
		   "Action": "ec2:DescribeInstances",
		   "Resource": "*"
	   }
   ]
}`;
const SEED_ASSUME_ROLE_POLICY = `{
   "Version": "2012-10-17",
   "Statement": [
        {
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": "arn:aws:iam::222222222222:role/teleport-DescribeInstances-role"
        },
        {
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": "arn:aws:iam::333333333333:role/teleport-DescribeInstances-role"
        }
   ]
}`;

const doc = (text: string): unknown => JSON.parse(text);

function expectThrows(fn: () => void, type: new (...a: never[]) => Error, message: RegExp): void {
  let error: unknown;
  try {
    Testing.synthScope((scope) => {
      try {
        fn.call(scope);
      } catch (e) {
        error = e;
      }
    });
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(type);
  expect((error as Error).message).toMatch(message);
}

describe('DescribeInstancesPolicy', () => {
  it('is the seed teleport-DescribeInstances-policy, attached to the Auth Service role and user', () => {
    let p!: DescribeInstancesPolicy;
    const s = synth((scope) => {
      p = new DescribeInstancesPolicy(scope, 'describe', { attachToRoles: ['teleport-auth'] });
      p.attachToUser('teleport-auth-user');
    });
    expect(s.text).toHaveResourceWithProperties(IamPolicy, { name: 'teleport-DescribeInstances-policy', policy: JSON.stringify(doc(SEED_DESCRIBE_INSTANCES_POLICY)) });
    expect(s.text).toHaveResource(IamUserPolicyAttachment);
    const policy = only(s, 'aws_iam_policy');
    expect(policy.name).toBe('teleport-DescribeInstances-policy');
    expect(policy.policy).toBe(JSON.stringify(doc(SEED_DESCRIBE_INSTANCES_POLICY)));
    expect(doc(policy.policy)).toEqual(doc(SEED_DESCRIBE_INSTANCES_POLICY));
    expect(only(s, 'aws_iam_role_policy_attachment')).toEqual({ role: 'teleport-auth', policy_arn: ref(p.policy, 'arn') });
    expect(only(s, 'aws_iam_user_policy_attachment')).toEqual({ user: 'teleport-auth-user', policy_arn: ref(p.policy, 'arn') });
  });

  it('takes another name', () => {
    const s = synth((scope) => void new DescribeInstancesPolicy(scope, 'p', { name: 'my-describe' }));
    expect(only(s, 'aws_iam_policy').name).toBe('my-describe');
    expect(resources(s, 'aws_iam_role_policy_attachment')).toEqual([]);
  });

  it('rejects an invalid policy name and an empty role name', () => {
    expectThrows(function (this: never) {
      new DescribeInstancesPolicy(this, 'p', { name: 'has space' });
    }, IamPropsError, /p: name must be 1-128 characters of letters, digits and \+=,\.@_- \(got "has space"\)/);
    expectThrows(function (this: never) {
      new DescribeInstancesPolicy(this, 'p', { attachToRoles: [''] });
    }, IamPropsError, /p: roleName must be a non-empty IAM name \(got ""\)/);
    expectThrows(function (this: never) {
      new DescribeInstancesPolicy(this, 'p').attachToUser('bad/user');
    }, IamPropsError, /p: userName must be 1-64 characters of letters, digits and \+=,\.@_- \(got "bad\/user"\)/);
  });
});

describe('DescribeInstancesRole', () => {
  it('creates teleport-DescribeInstances-role in the foreign account, trusted by the Auth Service account, with the policy attached', () => {
    let r!: DescribeInstancesRole;
    const s = synth((scope) => {
      const foreign = new AwsProvider(scope, 'foreign', { alias: 'foreign', region: 'us-west-2' });
      r = new DescribeInstancesRole(scope, 'role', { provider: foreign, trustedAccountId: '111111111111' });
    });
    const role = only(s, 'aws_iam_role');
    expect(role.name).toBe('teleport-DescribeInstances-role');
    expect(role.provider).toBe('aws.foreign');
    expect(doc(role.assume_role_policy)).toEqual({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111111111111:root' }, Action: 'sts:AssumeRole' }],
    });
    const policy = only(s, 'aws_iam_policy');
    expect(policy.provider).toBe('aws.foreign');
    expect(policy.name).toBe('teleport-DescribeInstances-policy');
    expect(doc(policy.policy)).toEqual(doc(SEED_DESCRIBE_INSTANCES_POLICY));
    const attachment = only(s, 'aws_iam_role_policy_attachment');
    expect(attachment).toEqual({
      provider: 'aws.foreign',
      role: ref(r.role, 'name'),
      policy_arn: ref(r.policy.policy, 'arn'),
    });
  });

  it('takes other names and a partition', () => {
    const s = synth((scope) => {
      const p = new AwsProvider(scope, 'aws', { region: 'us-gov-west-1' });
      new DescribeInstancesRole(scope, 'role', { provider: p, trustedAccountId: '111111111111', roleName: 'describe', policyName: 'describe-policy', partition: 'aws-us-gov' });
    });
    const role = only(s, 'aws_iam_role');
    expect(role.name).toBe('describe');
    expect(JSON.parse(role.assume_role_policy).Statement[0].Principal).toEqual({ AWS: 'arn:aws-us-gov:iam::111111111111:root' });
    expect(only(s, 'aws_iam_policy').name).toBe('describe-policy');
  });

  it('rejects a trusted account that is not an account ID', () => {
    expectThrows(function (this: never) {
      const p = new AwsProvider(this, 'aws', {});
      new DescribeInstancesRole(this, 'role', { provider: p, trustedAccountId: '1111' });
    }, IamPropsError, /role: trustedAccountId must be a 12-digit AWS account ID \(got "1111"\)/);
  });
});

describe('AssumeRolePolicy', () => {
  it('is the seed teleport-AssumeRole-policy: one sts:AssumeRole statement per foreign role', () => {
    let a!: AssumeRolePolicy;
    const s = synth((scope) => {
      a = new AssumeRolePolicy(scope, 'assume', {
        roles: ['arn:aws:iam::222222222222:role/teleport-DescribeInstances-role', 'arn:aws:iam::333333333333:role/teleport-DescribeInstances-role'],
        attachToRoles: ['teleport-auth'],
      });
    });
    const policy = only(s, 'aws_iam_policy');
    expect(policy.name).toBe('teleport-AssumeRole-policy');
    expect(policy.policy).toBe(JSON.stringify(doc(SEED_ASSUME_ROLE_POLICY)));
    expect(only(s, 'aws_iam_role_policy_attachment')).toEqual({ role: 'teleport-auth', policy_arn: ref(a.policy, 'arn') });
  });

  it('references roles given as constructs', () => {
    let role!: DescribeInstancesRole;
    const s = synth((scope) => {
      const p = new AwsProvider(scope, 'aws', {});
      role = new DescribeInstancesRole(scope, 'foreign', { provider: p, trustedAccountId: '111111111111' });
      new AssumeRolePolicy(scope, 'assume', { roles: [role] });
    });
    const policy = resources(s, 'aws_iam_policy').find((p) => p.name === 'teleport-AssumeRole-policy')!;
    expect(doc(policy.policy)).toEqual({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: ref(role.role, 'arn') }],
    });
  });

  it('rejects an empty role list and a role that is not an ARN', () => {
    expectThrows(function (this: never) {
      new AssumeRolePolicy(this, 'assume', { roles: [] });
    }, IamPropsError, /assume: roles must list at least one role to assume \(got none\)/);
    expectThrows(function (this: never) {
      new AssumeRolePolicy(this, 'assume', { roles: ['teleport-DescribeInstances-role'] });
    }, IamPropsError, /assume: roles\[0\] must be an IAM role ARN such as arn:aws:iam::222222222222:role\/teleport-DescribeInstances-role \(got "teleport-DescribeInstances-role"\)/);
  });
});

describe('IamJoinRole', () => {
  it('is an empty EC2 role with an instance profile and no policies', () => {
    let n!: IamJoinRole;
    const s = synth((scope) => void (n = new IamJoinRole(scope, 'node')));
    expect(s.text).toHaveResourceWithProperties(IamRole, { name: 'teleport-node-role' });
    expect(s.text).toHaveResourceWithProperties(IamInstanceProfile, { name: 'teleport-node-role' });
    expect(s.text).not.toHaveResource(IamPolicy);
    const role = only(s, 'aws_iam_role');
    expect(role.name).toBe('teleport-node-role');
    expect(doc(role.assume_role_policy)).toEqual({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
    });
    expect(only(s, 'aws_iam_instance_profile')).toEqual({ name: 'teleport-node-role', role: ref(n.role, 'name') });
    expect(resources(s, 'aws_iam_policy')).toEqual([]);
    expect(resources(s, 'aws_iam_role_policy_attachment')).toEqual([]);
  });

  it('gives an IamJoinToken the aws_arn pattern of its sessions, by reference', () => {
    let role!: IamJoinRole;
    const s = synth((scope) => {
      role = new IamJoinRole(scope, 'node');
      new IamJoinToken(scope, 'iam', { name: 'iam-token', allow: [{ awsAccount: '111111111111' }, role] });
    });
    const arnParts = `split(":", ${expr(role.role, 'arn')})`;
    expect(only(s, 'teleport_provision_token').spec.allow).toEqual([
      { aws_account: '111111111111' },
      {
        aws_account: `\${element(${arnParts}, 4)}`,
        aws_arn: `arn:\${element(${arnParts}, 1)}:sts::\${element(${arnParts}, 4)}:assumed-role/${ref(role.role, 'name')}/i-*`,
      },
    ]);
  });

  it('takes another role name and session pattern', () => {
    const s = synth((scope) => {
      const role = new IamJoinRole(scope, 'node', { roleName: 'web', instanceProfileName: 'web-profile', sessionNamePattern: 'web-?' });
      expect(role.awsArnPattern.endsWith('/web-?')).toBe(true);
    });
    expect(only(s, 'aws_iam_role').name).toBe('web');
    expect(only(s, 'aws_iam_instance_profile').name).toBe('web-profile');
  });

  it('rejects a session pattern with a slash and a role name that is too long', () => {
    expectThrows(function (this: never) {
      new IamJoinRole(this, 'node', { sessionNamePattern: 'a/b' });
    }, IamPropsError, /node: sessionNamePattern must not contain "\/" \(got "a\/b"\)/);
    expectThrows(function (this: never) {
      new IamJoinRole(this, 'node', { roleName: 'r'.repeat(65) });
    }, IamPropsError, /node: roleName must be 1-64 characters/);
  });
});

describe('stacks', () => {
  it('synthesize with the AWS provider as a required provider', () => {
    const app = Testing.app();
    const stack = new TerraformStack(app, 'stack');
    new AwsProvider(stack, 'aws', { region: 'us-west-2' });
    new DescribeInstancesPolicy(stack, 'describe', { attachToRoles: ['teleport-auth'] });
    const out = JSON.parse(Testing.synth(stack));
    expect(out.terraform.required_providers.aws.source).toBe('aws');
  });
});
