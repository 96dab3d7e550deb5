// Joinery's CDKTF construct library: declare join tokens and the AWS IAM they need in one stack.

// L1: generated from the provider's schema.
export { TeleportProvider, TeleportProviderConfig } from './teleport/provider';
export * from './teleport/provision-token';
export * from './teleport/data-teleport-provision-token';

// L2: tokens.
export * from './join-token';
export { JoinTokenPropsError } from './token-validation';

// IAM.
export * from './aws/policy-documents';
export * from './aws/describe-instances';
export * from './aws/assume-role-policy';
export * from './aws/iam-join-role';
export { IamPropsError } from './aws/validation';

// Composite.
export * from './multi-account-ec2-join';

/** The provider's source address, for required_providers and the CLI configuration. */
export const TELEPORT_PROVIDER_SOURCE = 'joinery.local/joinery/teleport';
