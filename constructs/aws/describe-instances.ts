// The Auth Service's IAM for the ec2 join method: the teleport-DescribeInstances-policy, and for
// each foreign account a teleport-DescribeInstances-role that the Auth Service's account may assume.

import { IamPolicy } from '@cdktf/provider-aws/lib/iam-policy';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicyAttachment } from '@cdktf/provider-aws/lib/iam-role-policy-attachment';
import { IamUserPolicyAttachment } from '@cdktf/provider-aws/lib/iam-user-policy-attachment';
import { TerraformProvider } from 'cdktf';
import { Construct } from 'constructs';
import {
  accountTrustPolicyDocument,
  DESCRIBE_INSTANCES_POLICY_NAME,
  DESCRIBE_INSTANCES_ROLE_NAME,
  describeInstancesPolicyDocument,
} from './policy-documents';
import { requireAccountId, requireIamName } from './validation';

/** A managed policy that can be attached to the Auth Service's role or user. */
export abstract class AttachablePolicy extends Construct {
  /** The L1 aws_iam_policy. */
  abstract readonly policy: IamPolicy;
  private attachments = 0;

  protected constructor(scope: Construct, id: string, private readonly awsProvider?: TerraformProvider) {
    super(scope, id);
  }

  get arn(): string {
    return this.policy.arn;
  }

  /** Attaches the policy to an IAM role (for example the Auth Service's instance role), by name. */
  attachToRole(roleName: string): IamRolePolicyAttachment {
    requireIamName(this.node.path, 'roleName', roleName, 64);
    return new IamRolePolicyAttachment(this, `RoleAttachment${this.attachments++}`, { provider: this.awsProvider, role: roleName, policyArn: this.policy.arn });
  }

  /** Attaches the policy to an IAM user (an Auth Service running outside AWS), by name. */
  attachToUser(userName: string): IamUserPolicyAttachment {
    requireIamName(this.node.path, 'userName', userName, 64);
    return new IamUserPolicyAttachment(this, `UserAttachment${this.attachments++}`, { provider: this.awsProvider, user: userName, policyArn: this.policy.arn });
  }
}

export interface DescribeInstancesPolicyProps {
  /** @default 'teleport-DescribeInstances-policy' */
  readonly name?: string;
  /** The AWS provider of the account the policy lives in; the stack's default when absent. */
  readonly provider?: TerraformProvider;
  /** Role names to attach the policy to (the Auth Service's role). */
  readonly attachToRoles?: readonly string[];
  /** User names to attach the policy to (an Auth Service outside AWS). */
  readonly attachToUsers?: readonly string[];
}

/** `teleport-DescribeInstances-policy`: allows ec2:DescribeInstances on `*`. */
export class DescribeInstancesPolicy extends AttachablePolicy {
  readonly policy: IamPolicy;

  constructor(scope: Construct, id: string, props: DescribeInstancesPolicyProps = {}) {
    super(scope, id, props.provider);
    const name = props.name ?? DESCRIBE_INSTANCES_POLICY_NAME;
    requireIamName(this.node.path, 'name', name, 128);
    this.policy = new IamPolicy(this, 'Resource', {
      provider: props.provider,
      name,
      description: 'Lets the Teleport Auth Service verify EC2 instance identity documents (ec2 join method).',
      policy: describeInstancesPolicyDocument(),
    });
    for (const role of props.attachToRoles ?? []) this.attachToRole(role);
    for (const user of props.attachToUsers ?? []) this.attachToUser(user);
  }
}

export interface DescribeInstancesRoleProps {
  /** The AWS provider of the foreign account, where instances run and the role is created. */
  readonly provider: TerraformProvider;
  /** The account the Auth Service runs in; it is trusted to assume the role. */
  readonly trustedAccountId: string;
  /** @default 'teleport-DescribeInstances-role' */
  readonly roleName?: string;
  /** @default 'teleport-DescribeInstances-policy' */
  readonly policyName?: string;
  /** @default 'aws' */
  readonly partition?: string;
}

/**
 * `teleport-DescribeInstances-role` in a foreign account: assumable from the Auth Service's
 * account, with the teleport-DescribeInstances-policy (created in the same account) attached.
 */
export class DescribeInstancesRole extends Construct {
  /** The L1 aws_iam_role. */
  readonly role: IamRole;
  readonly policy: DescribeInstancesPolicy;
  readonly attachment: IamRolePolicyAttachment;

  constructor(scope: Construct, id: string, props: DescribeInstancesRoleProps) {
    super(scope, id);
    requireAccountId(this.node.path, 'trustedAccountId', props.trustedAccountId);
    const roleName = props.roleName ?? DESCRIBE_INSTANCES_ROLE_NAME;
    requireIamName(this.node.path, 'roleName', roleName, 64);

    this.policy = new DescribeInstancesPolicy(this, 'Policy', { provider: props.provider, name: props.policyName });
    this.role = new IamRole(this, 'Resource', {
      provider: props.provider,
      name: roleName,
      description: 'Assumed by the Teleport Auth Service to call ec2:DescribeInstances in this account (ec2 join method).',
      assumeRolePolicy: accountTrustPolicyDocument(props.trustedAccountId, props.partition),
    });
    this.attachment = this.policy.attachToRole(this.role.name);
  }

  /** The role's ARN, for an allow rule's aws_role (a reference, resolved at apply time). */
  get arn(): string {
    return this.role.arn;
  }
}
