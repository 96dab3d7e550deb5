// The AWS KMS key the Joinery server's cluster CA signs with (JOINERY_CA_KEY=awskms:<key>): an
// ECC_NIST_P256 SIGN_VERIFY key, an alias, a key policy, and a managed IAM policy that lets the
// server's role call kms:GetPublicKey and kms:Sign (ECDSA_SHA_256 only) on this key alone.
//
// The key policy follows AWS's default key policy: the key's account (its root principal) holds
// the key, which lets IAM policies in that account grant its use. Access is then granted in one
// place, the IAM policy attached to the server's role, and nobody is locked out of the key.

import { DataAwsCallerIdentity } from '@cdktf/provider-aws/lib/data-aws-caller-identity';
import { DataAwsPartition } from '@cdktf/provider-aws/lib/data-aws-partition';
import { IamPolicy } from '@cdktf/provider-aws/lib/iam-policy';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { KmsAlias } from '@cdktf/provider-aws/lib/kms-alias';
import { KmsKey } from '@cdktf/provider-aws/lib/kms-key';
import { TerraformProvider, Token } from 'cdktf';
import { Construct } from 'constructs';
import { AttachablePolicy, createManagedPolicy, ManagedPolicyOptions } from './describe-instances';
import { IAM_POLICY_VERSION } from './policy-documents';
import { IRoleReference } from './role-reference';
import { IamPropsError, requireAccountId, requireTags } from './validation';

export const CA_SIGNING_KEY_ALIAS = 'alias/joinery-ca';
export const CA_SIGNING_POLICY_NAME = 'joinery-ca-signing';

const ALIAS_RE = /^alias\/[a-zA-Z0-9/_-]{1,250}$/;

/** Lets a principal read the key's public key and sign with it, ECDSA_SHA_256 only. */
export function caSigningPolicyDocument(keyArn: string): string {
  return JSON.stringify({
    Version: IAM_POLICY_VERSION,
    Statement: [
      { Sid: 'ReadCaPublicKey', Effect: 'Allow', Action: 'kms:GetPublicKey', Resource: keyArn },
      { Sid: 'SignWithCaKey', Effect: 'Allow', Action: 'kms:Sign', Resource: keyArn, Condition: { StringEquals: { 'kms:SigningAlgorithm': 'ECDSA_SHA_256' } } },
    ],
  });
}

/** AWS's default key policy: the account administers the key, and IAM policies grant its use. */
export function accountKeyPolicyDocument(accountId: string, partition = 'aws'): string {
  return JSON.stringify({
    Version: IAM_POLICY_VERSION,
    Statement: [{ Sid: 'EnableIamPolicies', Effect: 'Allow', Principal: { AWS: `arn:${partition}:iam::${accountId}:root` }, Action: 'kms:*', Resource: '*' }],
  });
}

export interface CaSigningKeyProps {
  /**
   * The AWS provider of the account and region the key lives in (the Joinery server's region: KMS
   * keys are regional).
   * @default - the stack's default AWS provider
   */
  readonly provider?: TerraformProvider;
  /**
   * The key's alias, `alias/<name>`; JOINERY_CA_KEY may name the key by it.
   * @default 'alias/joinery-ca'
   */
  readonly aliasName?: string;
  /**
   * The key's description.
   * @default 'Joinery cluster CA signing key (ECDSA P-256)'
   */
  readonly description?: string;
  /**
   * Days KMS waits before deleting the key once deletion is scheduled (7-30). A deleted CA key
   * cannot be recovered: every host certificate it signed stops renewing.
   * @default 30
   */
  readonly deletionWindowInDays?: number;
  /**
   * Make the key multi-Region (a replica key in another region signs as the same CA).
   * @default false
   */
  readonly multiRegion?: boolean;
  /**
   * The account the key is created in, for the key policy's principal (12 digits).
   * @default - the provider's account (an aws_caller_identity data source)
   */
  readonly accountId?: string;
  /**
   * The AWS partition of the account.
   * @default - the provider's partition (an aws_partition data source)
   */
  readonly partition?: string;
  /**
   * Tags of the key (and of the signing policy).
   * @default - none
   */
  readonly tags?: { [key: string]: string };
  /**
   * Roles the Joinery server runs as, given kms:GetPublicKey and kms:Sign on the key: role
   * names, L1 IamRoles or imported roles.
   * @default - none; call grantSign later
   */
  readonly serverRoles?: Array<string | IamRole | IRoleReference>;
  /**
   * Options of the managed IAM policy that grants signing (its name, path, users to attach to).
   * @default - named 'joinery-ca-signing', path '/'
   */
  readonly signingPolicy?: CaSigningPolicyOptions;
}

/** Options of the signing policy of a {@link CaSigningKey}. */
export interface CaSigningPolicyOptions extends ManagedPolicyOptions {
  /**
   * The policy's name.
   * @default 'joinery-ca-signing'
   */
  readonly name?: string;
}

/** Props of {@link CaSigningPolicy}. */
export interface CaSigningPolicyProps extends CaSigningPolicyOptions {
  /** The ARN of the KMS key the policy allows signing with. */
  readonly keyArn: string;
  /**
   * The AWS provider of the account the policy lives in.
   * @default - the stack's default AWS provider
   */
  readonly provider?: TerraformProvider;
}

/** The managed policy allowing kms:GetPublicKey and kms:Sign (ECDSA_SHA_256) on one key. */
export class CaSigningPolicy extends AttachablePolicy {
  /** The L1 aws_iam_policy. */
  readonly policy: IamPolicy;

  constructor(scope: Construct, id: string, props: CaSigningPolicyProps) {
    super(scope, id, props.provider);
    this.policy = createManagedPolicy(this, {
      ...props,
      name: props.name ?? CA_SIGNING_POLICY_NAME,
      description: 'Lets the Joinery server sign host certificates and CRLs with its cluster CA key in KMS.',
      policy: caSigningPolicyDocument(props.keyArn),
    });
    this.attachAll(props);
  }
}

/**
 * A KMS key for the Joinery cluster CA (ECC_NIST_P256, SIGN_VERIFY), its alias, and the IAM
 * policy that lets the server's role sign with it. Give the server `caKeySetting` as
 * JOINERY_CA_KEY.
 */
export class CaSigningKey extends Construct {
  /** The default alias, `alias/joinery-ca`. */
  static readonly DEFAULT_ALIAS = CA_SIGNING_KEY_ALIAS;
  /** The default name of the signing policy, `joinery-ca-signing`. */
  static readonly DEFAULT_POLICY_NAME = CA_SIGNING_POLICY_NAME;

  /** The L1 aws_kms_key. */
  readonly key: KmsKey;
  /** The L1 aws_kms_alias. */
  readonly alias: KmsAlias;
  /** The managed policy granting kms:GetPublicKey and kms:Sign on the key. */
  readonly signingPolicy: CaSigningPolicy;

  constructor(scope: Construct, id: string, props: CaSigningKeyProps = {}) {
    super(scope, id);
    const where = this.node.path;
    const aliasName = props.aliasName ?? CA_SIGNING_KEY_ALIAS;
    if (!Token.isUnresolved(aliasName)) {
      if (typeof aliasName !== 'string' || !ALIAS_RE.test(aliasName)) {
        throw new IamPropsError(where, 'aliasName', `must be "alias/" and 1-250 letters, digits, /, _ or - (got ${JSON.stringify(aliasName)})`);
      }
      if (aliasName.startsWith('alias/aws/')) throw new IamPropsError(where, 'aliasName', `must not start with "alias/aws/", which AWS reserves for its own keys (got ${JSON.stringify(aliasName)})`);
    }
    const window = props.deletionWindowInDays ?? 30;
    if (!Token.isUnresolved(window) && !(Number.isInteger(window) && window >= 7 && window <= 30)) {
      throw new IamPropsError(where, 'deletionWindowInDays', `must be a whole number of days from 7 to 30 (got ${JSON.stringify(window)})`);
    }
    if (props.accountId !== undefined) requireAccountId(where, 'accountId', props.accountId);
    requireTags(where, 'tags', props.tags);

    const accountId = props.accountId ?? new DataAwsCallerIdentity(this, 'Account', { provider: props.provider }).accountId;
    const partition = props.partition ?? new DataAwsPartition(this, 'Partition', { provider: props.provider }).partition;

    this.key = new KmsKey(this, 'Resource', {
      provider: props.provider,
      description: props.description ?? 'Joinery cluster CA signing key (ECDSA P-256)',
      customerMasterKeySpec: 'ECC_NIST_P256',
      keyUsage: 'SIGN_VERIFY',
      deletionWindowInDays: window,
      multiRegion: props.multiRegion,
      policy: accountKeyPolicyDocument(accountId, partition),
      tags: props.tags,
    });
    this.alias = new KmsAlias(this, 'Alias', { provider: props.provider, name: aliasName, targetKeyId: this.key.keyId });
    this.signingPolicy = new CaSigningPolicy(this, 'SigningPolicy', {
      tags: props.tags,
      ...props.signingPolicy,
      attachToRoles: [...(props.signingPolicy?.attachToRoles ?? []), ...(props.serverRoles ?? [])],
      provider: props.provider,
      keyArn: this.key.arn,
    });
  }

  /** The key's ARN (a reference). */
  get keyArn(): string {
    return this.key.arn;
  }

  /** The key's ID (a reference). */
  get keyId(): string {
    return this.key.keyId;
  }

  /** The alias, `alias/<name>`. */
  get aliasName(): string {
    return this.alias.name;
  }

  /** The server's CA key setting for this key, `awskms:<key ARN>` (JOINERY_CA_KEY). */
  get caKeySetting(): string {
    return `awskms:${this.key.arn}`;
  }

  /** Lets one more role (the Joinery server's) read the public key and sign with the key. */
  grantSign(role: string | IamRole | IRoleReference): void {
    this.signingPolicy.attachToRole(role);
  }
}
