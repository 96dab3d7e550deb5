// `teleport-AssumeRole-policy` in the Auth Service's account: one sts:AssumeRole statement per
// foreign teleport-DescribeInstances-role.

import { IamPolicy } from '@cdktf/provider-aws/lib/iam-policy';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { TerraformProvider, Token } from 'cdktf';
import { Construct } from 'constructs';
import { AttachablePolicy, createManagedPolicy, ManagedPolicyOptions } from './describe-instances';
import { ASSUME_ROLE_POLICY_NAME, assumeRolePolicyDocument } from './policy-documents';
import { IRoleReference, roleParts } from './role-reference';
import { IamPropsError } from './validation';
import { IAM_ROLE_ARN_RE } from '../../schema/aws';

export interface AssumeRolePolicyProps extends ManagedPolicyOptions {
  /**
   * The foreign roles the Auth Service may assume; at least one: role ARNs, L1 IamRoles, or
   * roles such as a DescribeInstancesRole or RoleReference.fromRoleArn.
   */
  readonly roles: Array<string | IamRole | IRoleReference>;
  /**
   * The policy's name.
   * @default 'teleport-AssumeRole-policy'
   */
  readonly name?: string;
  /**
   * The AWS provider of the Auth Service's account.
   * @default - the stack's default AWS provider
   */
  readonly provider?: TerraformProvider;
}

export class AssumeRolePolicy extends AttachablePolicy {
  /** The L1 aws_iam_policy. */
  readonly policy: IamPolicy;
  /** The ARNs of the roles the policy allows assuming. */
  readonly roleArns: string[];

  constructor(scope: Construct, id: string, props: AssumeRolePolicyProps) {
    super(scope, id, props.provider);
    const roles = props.roles ?? [];
    if (roles.length === 0) throw new IamPropsError(this.node.path, 'roles', 'must list at least one role to assume (got none)');
    this.roleArns = roles.map((r, i) => {
      const arn = roleParts(r).arn ?? (r as string);
      if (!Token.isUnresolved(arn) && !IAM_ROLE_ARN_RE.test(arn)) {
        throw new IamPropsError(this.node.path, `roles[${i}]`, `must be an IAM role ARN such as arn:aws:iam::222222222222:role/teleport-DescribeInstances-role (got ${JSON.stringify(arn)})`);
      }
      return arn;
    });
    this.policy = createManagedPolicy(this, {
      ...props,
      name: props.name ?? ASSUME_ROLE_POLICY_NAME,
      description: 'Lets the Teleport Auth Service assume the teleport-DescribeInstances-role of each foreign account (ec2 join method).',
      policy: assumeRolePolicyDocument(this.roleArns),
    });
    this.attachAll(props);
  }
}
