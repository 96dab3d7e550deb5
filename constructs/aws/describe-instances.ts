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
import { IRoleReference, roleParts } from './role-reference';
import { requireAccountId, requireIamName, requireIamPath, requirePolicyArn, requireTags } from './validation';

/** Options every managed policy of this library takes. */
export interface ManagedPolicyOptions {
  /**
   * The policy's IAM path.
   * @default '/'
   */
  readonly path?: string;
  /**
   * Tags of the policy.
   * @default - none
   */
  readonly tags?: { [key: string]: string };
  /**
   * Roles to attach the policy to (the Auth Service's role): role names, L1 IamRoles or imported roles.
   * @default - none
   */
  readonly attachToRoles?: Array<string | IamRole | IRoleReference>;
  /**
   * User names to attach the policy to (an Auth Service outside AWS).
   * @default - none
   */
  readonly attachToUsers?: string[];
}

/** A managed policy that can be attached to the Auth Service's role or user. */
export abstract class AttachablePolicy extends Construct {
  /** The L1 aws_iam_policy. */
  abstract readonly policy: IamPolicy;
  private attachments = 0;

  protected constructor(scope: Construct, id: string, private readonly awsProvider?: TerraformProvider) {
    super(scope, id);
  }

  /** The policy's ARN. */
  get arn(): string {
    return this.policy.arn;
  }

  /**
   * Attaches the policy to an IAM role (for example the Auth Service's instance role): by name, as
   * an L1 IamRole, or an imported role (RoleReference.fromRoleArn).
   */
  attachToRole(role: string | IamRole | IRoleReference): IamRolePolicyAttachment {
    const { name } = roleParts(role);
    requireIamName(this.node.path, 'roleName', name, 64);
    return new IamRolePolicyAttachment(this, `RoleAttachment${this.attachments++}`, { provider: this.awsProvider, role: name, policyArn: this.policy.arn });
  }

  /** Attaches the policy to an IAM user (an Auth Service running outside AWS), by name. */
  attachToUser(userName: string): IamUserPolicyAttachment {
    requireIamName(this.node.path, 'userName', userName, 64);
    return new IamUserPolicyAttachment(this, `UserAttachment${this.attachments++}`, { provider: this.awsProvider, user: userName, policyArn: this.policy.arn });
  }

  /** Attaches to what the options list; after `policy` is set. */
  protected attachAll(props: ManagedPolicyOptions): void {
    for (const role of props.attachToRoles ?? []) this.attachToRole(role);
    for (const user of props.attachToUsers ?? []) this.attachToUser(user);
  }
}

/** Checks the common options and creates the L1 policy, as `Resource` of `scope`. */
export function createManagedPolicy(
  scope: Construct,
  props: ManagedPolicyOptions & { name: string; provider?: TerraformProvider; description: string; policy: string },
): IamPolicy {
  requireIamName(scope.node.path, 'name', props.name, 128);
  requireIamPath(scope.node.path, 'path', props.path);
  requireTags(scope.node.path, 'tags', props.tags);
  return new IamPolicy(scope, 'Resource', {
    provider: props.provider,
    name: props.name,
    path: props.path,
    tags: props.tags,
    description: props.description,
    policy: props.policy,
  });
}

export interface DescribeInstancesPolicyProps extends ManagedPolicyOptions {
  /**
   * The policy's name.
   * @default 'teleport-DescribeInstances-policy'
   */
  readonly name?: string;
  /**
   * The AWS provider of the account the policy lives in.
   * @default - the stack's default AWS provider
   */
  readonly provider?: TerraformProvider;
}

/** `teleport-DescribeInstances-policy`: allows ec2:DescribeInstances on `*`. */
export class DescribeInstancesPolicy extends AttachablePolicy {
  /** The L1 aws_iam_policy. */
  readonly policy: IamPolicy;

  constructor(scope: Construct, id: string, props: DescribeInstancesPolicyProps = {}) {
    super(scope, id, props.provider);
    this.policy = createManagedPolicy(this, {
      ...props,
      name: props.name ?? DESCRIBE_INSTANCES_POLICY_NAME,
      description: 'Lets the Teleport Auth Service verify EC2 instance identity documents (ec2 join method).',
      policy: describeInstancesPolicyDocument(),
    });
    this.attachAll(props);
  }
}

/** IAM options of a role this library creates. */
export interface RoleOptions {
  /**
   * ARN of the managed policy that bounds the role's permissions.
   * @default - none
   */
  readonly permissionsBoundary?: string;
  /**
   * The role's IAM path (also used for the policy or instance profile created with it).
   * @default '/'
   */
  readonly path?: string;
  /**
   * Tags of the role (and of the policy or instance profile created with it).
   * @default - none
   */
  readonly tags?: { [key: string]: string };
}

export interface DescribeInstancesRoleProps extends RoleOptions {
  /** The AWS provider of the foreign account, where instances run and the role is created. */
  readonly provider: TerraformProvider;
  /** The account the Auth Service runs in; it is trusted to assume the role. */
  readonly trustedAccountId: string;
  /**
   * The role's name.
   * @default 'teleport-DescribeInstances-role'
   */
  readonly roleName?: string;
  /**
   * The name of the policy created with the role.
   * @default 'teleport-DescribeInstances-policy'
   */
  readonly policyName?: string;
  /**
   * The AWS partition of the trusted account.
   * @default 'aws'
   */
  readonly partition?: string;
}

/** Checks the role options; returns them as L1 aws_iam_role config. */
export function roleConfig(where: string, props: RoleOptions): { permissionsBoundary?: string; path?: string; tags?: { [key: string]: string } } {
  requirePolicyArn(where, 'permissionsBoundary', props.permissionsBoundary);
  requireIamPath(where, 'path', props.path);
  requireTags(where, 'tags', props.tags);
  return { permissionsBoundary: props.permissionsBoundary, path: props.path, tags: props.tags };
}

/**
 * `teleport-DescribeInstances-role` in a foreign account: assumable from the Auth Service's
 * account, with the teleport-DescribeInstances-policy (created in the same account) attached.
 */
export class DescribeInstancesRole extends Construct implements IRoleReference {
  /** The L1 aws_iam_role. */
  readonly role: IamRole;
  /** The teleport-DescribeInstances-policy attached to the role. */
  readonly policy: DescribeInstancesPolicy;
  /** The L1 attachment of the policy to the role. */
  readonly attachment: IamRolePolicyAttachment;

  constructor(scope: Construct, id: string, props: DescribeInstancesRoleProps) {
    super(scope, id);
    requireAccountId(this.node.path, 'trustedAccountId', props.trustedAccountId);
    const roleName = props.roleName ?? DESCRIBE_INSTANCES_ROLE_NAME;
    requireIamName(this.node.path, 'roleName', roleName, 64);
    const options = roleConfig(this.node.path, props);

    this.policy = new DescribeInstancesPolicy(this, 'Policy', { provider: props.provider, name: props.policyName, path: props.path, tags: props.tags });
    this.role = new IamRole(this, 'Resource', {
      provider: props.provider,
      name: roleName,
      ...options,
      description: 'Assumed by the Teleport Auth Service to call ec2:DescribeInstances in this account (ec2 join method).',
      assumeRolePolicy: accountTrustPolicyDocument(props.trustedAccountId, props.partition),
    });
    this.attachment = this.policy.attachToRole(this.role);
  }

  /** The role's ARN, for an allow rule's awsRole (a reference, resolved at apply time). */
  get arn(): string {
    return this.role.arn;
  }

  /** The role's ARN (a reference). */
  get roleArn(): string {
    return this.role.arn;
  }

  /** The role's name (a reference). */
  get roleName(): string {
    return this.role.name;
  }
}
