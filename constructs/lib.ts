// The construct library's API for every language: the entry point jsii compiles (no top-level
// functions or constants, no Error classes). constructs/index.ts adds the TypeScript-only helpers.

// L1: generated from the provider's schema.
export { TeleportProvider, TeleportProviderConfig } from './teleport/provider';
export * from './teleport/provision-token';
export * from './teleport/lock';
export * from './teleport/data-teleport-provision-token';

// L2: tokens.
export {
  JoinToken,
  IJoinToken,
  JoinTokenProps,
  Ec2JoinToken,
  Ec2JoinTokenOptions,
  Ec2JoinTokenProps,
  Ec2AllowRule,
  IamJoinToken,
  IamJoinTokenProps,
  IamAllowRule,
  AwsOrganizationalUnits,
  IIamJoinPrincipal,
} from './join-token';

// IAM.
export { JoinPolicyDocuments } from './aws/policy-documents';
export {
  AttachablePolicy,
  ManagedPolicyOptions,
  DescribeInstancesPolicy,
  DescribeInstancesPolicyProps,
  DescribeInstancesRole,
  DescribeInstancesRoleProps,
  RoleOptions,
} from './aws/describe-instances';
export { AssumeRolePolicy, AssumeRolePolicyProps } from './aws/assume-role-policy';
export { IamJoinRole, IamJoinRoleProps } from './aws/iam-join-role';
export { IRoleReference, RoleReference, RoleReferenceFromNameOptions } from './aws/role-reference';
export { CaSigningKey, CaSigningKeyProps, CaSigningPolicy, CaSigningPolicyOptions, CaSigningPolicyProps } from './aws/ca-signing-key';

// Composite.
export { MultiAccountEc2Join, MultiAccountEc2JoinProps, AuthServiceAccount, ForeignAccount } from './multi-account-ec2-join';

/** The teleport provider's source address, for required_providers and the CLI configuration. */
export class TeleportProviderSource {
  /** `joinery.local/joinery/teleport`. */
  static readonly ADDRESS = 'joinery.local/joinery/teleport';
  private constructor() {}
}
