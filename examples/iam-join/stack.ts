// The IAM join method: an empty role (and instance profile) for the instances, and a token that
// admits accounts 111111111111 and 222222222222 and, in account 333333333333, only that role's
// sessions. The role's aws_arn pattern comes from the role itself, not a hand-typed ARN.

import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { IamJoinRole, IamJoinToken, TeleportProvider } from '../../constructs';

export class IamJoinStack extends TerraformStack {
  readonly role: IamJoinRole;
  readonly token: IamJoinToken;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    new AwsProvider(this, 'aws', { region: 'us-west-2', allowedAccountIds: ['333333333333'] });
    new TeleportProvider(this, 'teleport', {});
    // teleport-node-role: attach its instance profile to the instances that run Teleport.
    this.role = new IamJoinRole(this, 'node-role');
    this.token = new IamJoinToken(this, 'iam-token', {
      name: 'iam-token',
      allow: [{ awsAccount: '111111111111' }, { awsAccount: '222222222222' }, this.role],
    });
  }
}
