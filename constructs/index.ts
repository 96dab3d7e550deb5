// Joinery's CDKTF construct library: declare join tokens and the AWS IAM they need in one stack.
// Everything of constructs/lib.ts (the API jsii languages get), plus TypeScript-only helpers:
// the error classes, the policy documents as functions and the default names as constants.

export * from './lib';

export { DEFAULT_TOKEN_ROLES } from './join-token';
export { JoinTokenPropsError, JoinTokenPropError } from './token-validation';
export { IamPropsError } from './aws/validation';
export * from './aws/policy-documents';
export { DEFAULT_SESSION_NAME_PATTERN } from './aws/iam-join-role';
export { CA_SIGNING_KEY_ALIAS, CA_SIGNING_POLICY_NAME, caSigningPolicyDocument, accountKeyPolicyDocument } from './aws/ca-signing-key';

/** The provider's source address, for required_providers and the CLI configuration. */
export const TELEPORT_PROVIDER_SOURCE = 'joinery.local/joinery/teleport';
