// The EC2 join method across AWS accounts, in one construct: a teleport-DescribeInstances-role in
// each foreign account, the teleport-AssumeRole-policy in the Auth Service's account (attached to
// its role or user), and one ec2 token whose allow rules point at those roles by reference.

import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { TerraformProvider, Token } from 'cdktf';
import { Construct } from 'constructs';
import { AssumeRolePolicy } from './aws/assume-role-policy';
import { DescribeInstancesRole } from './aws/describe-instances';
import { IRoleReference, roleParts } from './aws/role-reference';
import { IamPropsError, requireAccountId } from './aws/validation';
import { Ec2JoinToken, Ec2JoinTokenOptions } from './join-token';

export interface AuthServiceAccount {
  /** The AWS provider of the account the Auth Service runs in. */
  readonly provider: TerraformProvider;
  /**
   * That account's ID.
   * @default - read with aws_caller_identity through `provider`
   */
  readonly accountId?: string;
  /**
   * The IAM role the Auth Service has credentials for (the assume-role policy is attached to it),
   * by name. Give this, `role` or `userName`.
   * @default - none
   */
  readonly roleName?: string;
  /**
   * The same role as an L1 IamRole or an imported role (RoleReference.fromRoleArn).
   * @default - none
   */
  readonly role?: IamRole | IRoleReference;
  /**
   * Or the IAM user it authenticates as, when it runs outside AWS.
   * @default - none
   */
  readonly userName?: string;
}

export interface ForeignAccount {
  /** The AWS provider of the account (for example one that assumes an admin role there). */
  readonly provider: TerraformProvider;
  /** The account's ID (12 digits). */
  readonly accountId: string;
  /**
   * The regions instances may join from. YAML: the rule's `aws_regions`.
   * @default - any region
   */
  readonly regions?: string[];
  /**
   * The name of the role created in the account.
   * @default 'teleport-DescribeInstances-role'
   */
  readonly roleName?: string;
  /**
   * ARN of a managed policy bounding the role's permissions.
   * @default - none
   */
  readonly permissionsBoundary?: string;
}

export interface MultiAccountEc2JoinProps {
  readonly authService: AuthServiceAccount;
  /** The accounts whose instances may join; at least one. */
  readonly accounts: ForeignAccount[];
  /** The token, except its allow rules, which come from `accounts`. */
  readonly token: Ec2JoinTokenOptions;
  /**
   * The name of the assume-role policy.
   * @default 'teleport-AssumeRole-policy'
   */
  readonly assumeRolePolicyName?: string;
  /**
   * IAM path of the roles and policies created.
   * @default '/'
   */
  readonly iamPath?: string;
  /**
   * Tags of the roles and policies created.
   * @default - none
   */
  readonly tags?: { [key: string]: string };
}

/**
 * The EC2 join method across AWS accounts: a teleport-DescribeInstances-role in each foreign
 * account, the teleport-AssumeRole-policy in the Auth Service's account, and the token.
 */
export class MultiAccountEc2Join extends Construct {
  /** One role per entry of `accounts`, in the same order. */
  readonly roles: DescribeInstancesRole[];
  readonly assumeRolePolicy: AssumeRolePolicy;
  readonly token: Ec2JoinToken;
  /** The Auth Service's account ID (a reference when it was not given). */
  readonly authAccountId: string;

  constructor(scope: Construct, id: string, props: MultiAccountEc2JoinProps) {
    super(scope, id);
    const { authService } = props;
    const accounts = props.accounts ?? [];
    if (accounts.length === 0) throw new IamPropsError(this.node.path, 'accounts', 'must list at least one foreign account (got none)');
    if (!authService?.roleName && !authService?.role && !authService?.userName) {
      throw new IamPropsError(this.node.path, 'authService', 'must name the roleName (or role) or userName the Auth Service has credentials for, to attach the assume-role policy to');
    }
    const seen = new Set<string>();
    accounts.forEach((a, i) => {
      requireAccountId(this.node.path, `accounts[${i}].accountId`, a.accountId);
      if (!Token.isUnresolved(a.accountId)) {
        if (seen.has(a.accountId)) throw new IamPropsError(this.node.path, `accounts[${i}].accountId`, `lists account ${a.accountId} twice`);
        seen.add(a.accountId);
      }
    });
    if (authService.accountId !== undefined) requireAccountId(this.node.path, 'authService.accountId', authService.accountId);

    this.authAccountId =
      authService.accountId ?? new DataAwsCallerIdentity(this, 'AuthServiceAccount', { provider: authService.provider }).accountId;

    this.roles = accounts.map(
      (a, i) =>
        new DescribeInstancesRole(this, Token.isUnresolved(a.accountId) ? `Account${i}` : `Account${a.accountId}`, {
          provider: a.provider,
          trustedAccountId: this.authAccountId,
          roleName: a.roleName,
          permissionsBoundary: a.permissionsBoundary,
          path: props.iamPath,
          tags: props.tags,
        }),
    );

    this.assumeRolePolicy = new AssumeRolePolicy(this, 'AssumeRolePolicy', {
      provider: authService.provider,
      name: props.assumeRolePolicyName,
      roles: this.roles,
      path: props.iamPath,
      tags: props.tags,
      attachToRoles: [...(authService.roleName ? [authService.roleName] : []), ...(authService.role ? [roleParts(authService.role).name] : [])],
      attachToUsers: authService.userName ? [authService.userName] : [],
    });

    this.token = new Ec2JoinToken(this, 'Token', {
      ...props.token,
      allow: accounts.map((a, i) => ({ awsAccount: a.accountId, awsRegions: a.regions, awsRole: this.roles[i].roleArn })),
    });
  }
}
