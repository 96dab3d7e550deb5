// The empty role that IAM-joining instances use (no policies: sts:GetCallerIdentity needs none),
// with its instance profile. It knows the ARN pattern of its sessions, so an IamJoinToken can
// take the role itself instead of a hand-typed aws_arn.

import { IamInstanceProfile } from '@cdktf/provider-aws/lib/iam-instance-profile';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { Fn, TerraformProvider, Token } from 'cdktf';
import { Construct } from 'constructs';
import type { IamAllowRule, IIamJoinPrincipal } from '../join-token';
import { roleConfig, RoleOptions } from './describe-instances';
import { IRoleReference } from './role-reference';
import { ec2TrustPolicyDocument, IAM_JOIN_ROLE_NAME } from './policy-documents';
import { IamPropsError, requireIamName } from './validation';
import { checkAwsArn } from '../../schema/token';

/** Session names of instance-profile credentials are the instance ID. */
export const DEFAULT_SESSION_NAME_PATTERN = 'i-*';

export interface IamJoinRoleProps extends RoleOptions {
  /**
   * The role's name.
   * @default 'teleport-node-role'
   */
  readonly roleName?: string;
  /**
   * The instance profile's name.
   * @default - the role name
   */
  readonly instanceProfileName?: string;
  /**
   * The session names allowed to join: `*` and `?` wildcards.
   * @default 'i-*' (instance-profile sessions, named after the instance ID)
   */
  readonly sessionNamePattern?: string;
  /**
   * The AWS provider of the account the instances run in.
   * @default - the stack's default AWS provider
   */
  readonly provider?: TerraformProvider;
}

/**
 * The empty role (and instance profile) that IAM-joining instances use. Pass it in an
 * IamJoinToken's allow list: it yields the rule that admits its sessions.
 */
export class IamJoinRole extends Construct implements IIamJoinPrincipal, IRoleReference {
  /** Session names of instance-profile credentials are the instance ID. */
  static readonly DEFAULT_SESSION_NAME_PATTERN = DEFAULT_SESSION_NAME_PATTERN;

  /** The L1 aws_iam_role. */
  readonly role: IamRole;
  /** The L1 aws_iam_instance_profile. */
  readonly instanceProfile: IamInstanceProfile;
  /** The account the role is in, taken from its ARN (a reference). */
  readonly accountId: string;
  /**
   * The pattern matching this role's sessions, for an allow rule's aws_arn:
   * arn:<partition>:sts::<account>:assumed-role/<role name>/<session pattern>.
   */
  readonly awsArnPattern: string;

  constructor(scope: Construct, id: string, props: IamJoinRoleProps = {}) {
    super(scope, id);
    const roleName = props.roleName ?? IAM_JOIN_ROLE_NAME;
    requireIamName(this.node.path, 'roleName', roleName, 64);
    const profileName = props.instanceProfileName ?? roleName;
    requireIamName(this.node.path, 'instanceProfileName', profileName, 128);
    const options = roleConfig(this.node.path, props);
    const session = props.sessionNamePattern ?? DEFAULT_SESSION_NAME_PATTERN;
    if (!Token.isUnresolved(session)) {
      const msg = checkAwsArn(session) ?? (session.includes('/') ? `must not contain "/" (got ${JSON.stringify(session)})` : undefined);
      if (msg) throw new IamPropsError(this.node.path, 'sessionNamePattern', msg);
    }

    this.role = new IamRole(this, 'Resource', {
      provider: props.provider,
      name: roleName,
      ...options,
      description: 'Identity of Teleport processes joining with the iam method; needs no policies.',
      assumeRolePolicy: ec2TrustPolicyDocument(),
    });
    this.instanceProfile = new IamInstanceProfile(this, 'InstanceProfile', {
      provider: props.provider,
      name: profileName,
      path: props.path,
      tags: props.tags,
      role: this.role.name,
    });

    // arn:<partition>:iam::<account>:role/<path/>name -> its parts, by reference.
    const arnParts = Fn.split(':', this.role.arn);
    const partition = Fn.element(arnParts, 1);
    this.accountId = Fn.element(arnParts, 4);
    // Session ARNs carry the role's name without its path.
    this.awsArnPattern = `arn:${partition}:sts::${this.accountId}:assumed-role/${this.role.name}/${session}`;
  }

  /** The role's ARN (a reference). */
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

  /** The rule admitting this role's sessions: its account and session ARN pattern. */
  toIamAllowRule(): IamAllowRule {
    return { awsAccount: this.accountId, awsArn: this.awsArnPattern };
  }
}
