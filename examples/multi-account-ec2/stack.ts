// The EC2 join method across accounts: instances in accounts 222222222222 and 333333333333 join a
// cluster whose Auth Service runs in account 111111111111. One stack holds the foreign roles, the
// Auth Service's assume-role policy and the token, and the token's aws_role values are references
// to the roles it creates.

import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { MultiAccountEc2Join, TeleportProvider } from '../../constructs';

const AUTH_ACCOUNT = '111111111111';
const FOREIGN_ACCOUNTS = ['222222222222', '333333333333'];
const REGIONS = ['us-west-1', 'us-west-2'];

export class MultiAccountEc2Stack extends TerraformStack {
  readonly join: MultiAccountEc2Join;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    new TeleportProvider(this, 'teleport', {});
    const auth = new AwsProvider(this, 'auth', { alias: 'auth', region: 'us-west-2', allowedAccountIds: [AUTH_ACCOUNT] });
    this.join = new MultiAccountEc2Join(this, 'ec2-join', {
      authService: { provider: auth, accountId: AUTH_ACCOUNT, roleName: 'teleport-auth-service' },
      accounts: FOREIGN_ACCOUNTS.map((accountId) => ({
        accountId,
        regions: REGIONS,
        // Manage each foreign account through a role you can assume there.
        provider: new AwsProvider(this, `aws-${accountId}`, {
          alias: `account_${accountId}`,
          region: 'us-west-2',
          allowedAccountIds: [accountId],
          assumeRole: [{ roleArn: `arn:aws:iam::${accountId}:role/OrganizationAccountAccessRole` }],
        }),
      })),
      token: { name: 'ec2-multiaccount-token' },
    });
  }
}
