// `teleport-AssumeRole-policy` in the Auth Service's account: one sts:AssumeRole statement per
// foreign teleport-DescribeInstances-role.

import { IamPolicy } from '@cdktf/provider-aws/lib/iam-policy';
import { TerraformProvider, Token } from 'cdktf';
import { Construct } from 'constructs';
import { AttachablePolicy } from './describe-instances';
import { ASSUME_ROLE_POLICY_NAME, assumeRolePolicyDocument } from './policy-documents';
import { IamPropsError, requireIamName } from './validation';
import { IAM_ROLE_ARN_RE } from '../../schema/aws';

/** A role given as its ARN or as a construct that has one (a DescribeInstancesRole). */
export type RoleArnSource = string | { readonly arn: string };

export interface AssumeRolePolicyProps {
  /** The foreign roles the Auth Service may assume; at least one. */
  readonly roles: readonly RoleArnSource[];
  /** @default 'teleport-AssumeRole-policy' */
  readonly name?: string;
  /** The AWS provider of the Auth Service's account; the stack's default when absent. */
  readonly provider?: TerraformProvider;
  readonly attachToRoles?: readonly string[];
  readonly attachToUsers?: readonly string[];
}

export class AssumeRolePolicy extends AttachablePolicy {
  readonly policy: IamPolicy;
  readonly roleArns: readonly string[];

  constructor(scope: Construct, id: string, props: AssumeRolePolicyProps) {
    super(scope, id, props.provider);
    const name = props.name ?? ASSUME_ROLE_POLICY_NAME;
    requireIamName(this.node.path, 'name', name, 128);
    const roles = props.roles ?? [];
    if (roles.length === 0) throw new IamPropsError(this.node.path, 'roles', 'must list at least one role to assume (got none)');
    this.roleArns = roles.map((r, i) => {
      const arn = typeof r === 'string' ? r : r.arn;
      if (!Token.isUnresolved(arn) && !IAM_ROLE_ARN_RE.test(arn)) {
        throw new IamPropsError(this.node.path, `roles[${i}]`, `must be an IAM role ARN such as arn:aws:iam::222222222222:role/teleport-DescribeInstances-role (got ${JSON.stringify(arn)})`);
      }
      return arn;
    });
    this.policy = new IamPolicy(this, 'Resource', {
      provider: props.provider,
      name,
      description: 'Lets the Teleport Auth Service assume the teleport-DescribeInstances-role of each foreign account (ec2 join method).',
      policy: assumeRolePolicyDocument(this.roleArns),
    });
    for (const role of props.attachToRoles ?? []) this.attachToRole(role);
    for (const user of props.attachToUsers ?? []) this.attachToUser(user);
  }
}
