// The IAM policy documents from the EC2/IAM join guides, as JSON text. Values may be cdktf tokens
// (for example a role's ARN); they are embedded in the text and resolved by Terraform.

export const IAM_POLICY_VERSION = '2012-10-17';

/** Default names, as the EC2 join guide spells them. */
export const DESCRIBE_INSTANCES_POLICY_NAME = 'teleport-DescribeInstances-policy';
export const DESCRIBE_INSTANCES_ROLE_NAME = 'teleport-DescribeInstances-role';
export const ASSUME_ROLE_POLICY_NAME = 'teleport-AssumeRole-policy';
/** Default name of the empty role IAM-joining instances use (the IAM join guide's example). */
export const IAM_JOIN_ROLE_NAME = 'teleport-node-role';

/** Lets the Auth Service check that an instance identity document belongs to a running instance. */
export function describeInstancesPolicyDocument(): string {
  return JSON.stringify({
    Version: IAM_POLICY_VERSION,
    Statement: [{ Effect: 'Allow', Action: 'ec2:DescribeInstances', Resource: '*' }],
  });
}

/** One sts:AssumeRole statement per foreign teleport-DescribeInstances-role. */
export function assumeRolePolicyDocument(roleArns: readonly string[]): string {
  return JSON.stringify({
    Version: IAM_POLICY_VERSION,
    Statement: roleArns.map((arn) => ({ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: arn })),
  });
}

/** Trust policy of a role that "another AWS account" may assume (the console's choice in the guide). */
export function accountTrustPolicyDocument(trustedAccountId: string, partition = 'aws'): string {
  return JSON.stringify({
    Version: IAM_POLICY_VERSION,
    Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:${partition}:iam::${trustedAccountId}:root` }, Action: 'sts:AssumeRole' }],
  });
}

/** Trust policy of a role that EC2 instances assume through an instance profile. */
export function ec2TrustPolicyDocument(): string {
  return JSON.stringify({
    Version: IAM_POLICY_VERSION,
    Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
  });
}

/** The policy documents and default names, as static members (for jsii languages, which have no top-level functions). */
export class JoinPolicyDocuments {
  static readonly DESCRIBE_INSTANCES_POLICY_NAME = DESCRIBE_INSTANCES_POLICY_NAME;
  static readonly DESCRIBE_INSTANCES_ROLE_NAME = DESCRIBE_INSTANCES_ROLE_NAME;
  static readonly ASSUME_ROLE_POLICY_NAME = ASSUME_ROLE_POLICY_NAME;
  static readonly IAM_JOIN_ROLE_NAME = IAM_JOIN_ROLE_NAME;

  /** Allows ec2:DescribeInstances on `*`. */
  static describeInstances(): string {
    return describeInstancesPolicyDocument();
  }

  /** One sts:AssumeRole statement per role ARN. */
  static assumeRole(roleArns: string[]): string {
    return assumeRolePolicyDocument(roleArns);
  }

  /** Trust policy of a role that another AWS account may assume. */
  static accountTrust(trustedAccountId: string, partition?: string): string {
    return accountTrustPolicyDocument(trustedAccountId, partition);
  }

  /** Trust policy of a role that EC2 instances assume through an instance profile. */
  static ec2Trust(): string {
    return ec2TrustPolicyDocument();
  }

  private constructor() {}
}
