// The EC2 join method in one AWS account: the Auth Service may call ec2:DescribeInstances, and
// instances of account 111111111111 in us-west-1 and us-west-2 may join as Nodes.
//
// Two stacks, because the two halves usually have different owners and share no value:
//   auth-service-iam  the teleport-DescribeInstances-policy, attached to the Auth Service's role
//   ec2-token         the ec2 join token (needs only a Joinery, no AWS credentials)

import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { TerraformStack } from 'cdktf';
import { Construct } from 'constructs';
import { DescribeInstancesPolicy, Ec2JoinToken, TeleportProvider } from '../../constructs';

export class AuthServiceIamStack extends TerraformStack {
  constructor(scope: Construct, id: string) {
    super(scope, id);
    new AwsProvider(this, 'aws', { region: 'us-west-2', allowedAccountIds: ['111111111111'] });
    // The IAM role the Auth Service's instance runs with (use attachToUsers outside AWS).
    new DescribeInstancesPolicy(this, 'describe-instances', { attachToRoles: ['teleport-auth-service'] });
  }
}

export class Ec2TokenStack extends TerraformStack {
  readonly token: Ec2JoinToken;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    // Address and credentials come from JOINERY_ADDR, JOINERY_ADMIN_TOKEN and JOINERY_CA_PIN.
    new TeleportProvider(this, 'teleport', {});
    this.token = new Ec2JoinToken(this, 'ec2-token', {
      name: 'ec2-token',
      // roles default to [Node] and awsIidTtl to 5m
      allow: [{ awsAccount: '111111111111', awsRegions: ['us-west-1', 'us-west-2'] }],
    });
  }
}
