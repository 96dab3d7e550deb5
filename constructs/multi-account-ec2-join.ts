// The EC2 join method across AWS accounts, in one construct: a teleport-DescribeInstances-role in
// each foreign account, the teleport-AssumeRole-policy in the Auth Service's account (attached to
// its role or user), and one ec2 token whose allow rules point at those roles by reference.

import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity';
import { TerraformProvider, Token } from 'cdktf';
import { Construct } from 'constructs';
import { AssumeRolePolicy } from './aws/assume-role-policy';
import { DescribeInstancesRole } from './aws/describe-instances';
import { IamPropsError, requireAccountId } from './aws/validation';
import { Ec2JoinToken, Ec2JoinTokenProps } from './join-token';

export interface AuthServiceAccount {
  /** The AWS provider of the account the Auth Service runs in. */
  readonly provider: TerraformProvider;
  /** That account's ID. @default read with aws_caller_identity through `provider` */
  readonly accountId?: string;
  /** The IAM role the Auth Service has credentials for (attach the assume-role policy to it). */
  readonly roleName?: string;
  /** Or the IAM user it authenticates as, when it runs outside AWS. */
  readonly userName?: string;
}

export interface ForeignAccount {
  /** The AWS provider of the account (for example one that assumes an admin role there). */
  readonly provider: TerraformProvider;
  /** The account's ID (12 digits). */
  readonly accountId: string;
  /** The regions instances may join from; any region when absent. */
  readonly regions?: readonly string[];
  /** @default 'teleport-DescribeInstances-role' */
  readonly roleName?: string;
}

export interface MultiAccountEc2JoinProps {
  readonly authService: AuthServiceAccount;
  /** The accounts whose instances may join; at least one. */
  readonly accounts: readonly ForeignAccount[];
  /** The token, except its allow rules, which come from `accounts`. */
  readonly token: Omit<Ec2JoinTokenProps, 'allow'>;
  /** @default 'teleport-AssumeRole-policy' */
  readonly assumeRolePolicyName?: string;
}

export class MultiAccountEc2Join extends Construct {
  /** One role per entry of `accounts`, in the same order. */
  readonly roles: readonly DescribeInstancesRole[];
  readonly assumeRolePolicy: AssumeRolePolicy;
  readonly token: Ec2JoinToken;
  /** The Auth Service's account ID (a reference when it was not given). */
  readonly authAccountId: string;

  constructor(scope: Construct, id: string, props: MultiAccountEc2JoinProps) {
    super(scope, id);
    const { authService } = props;
    const accounts = props.accounts ?? [];
    if (accounts.length === 0) throw new IamPropsError(this.node.path, 'accounts', 'must list at least one foreign account (got none)');
    if (!authService?.roleName && !authService?.userName) {
      throw new IamPropsError(this.node.path, 'authService', 'must name the roleName or userName the Auth Service has credentials for, to attach the assume-role policy to');
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
        }),
    );

    this.assumeRolePolicy = new AssumeRolePolicy(this, 'AssumeRolePolicy', {
      provider: authService.provider,
      name: props.assumeRolePolicyName,
      roles: this.roles,
      attachToRoles: authService.roleName ? [authService.roleName] : [],
      attachToUsers: authService.userName ? [authService.userName] : [],
    });

    this.token = new Ec2JoinToken(this, 'Token', {
      ...props.token,
      allow: accounts.map((a, i) => ({ aws_account: a.accountId, aws_regions: a.regions, aws_role: this.roles[i].arn })),
    });
  }
}
