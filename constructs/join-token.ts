// L2 join tokens: typed, defaulted and validated wrappers around the teleport_provision_token L1.
// Props use the token schema's own field names (schema/token.ts), so a token.yaml from the docs
// maps onto them field by field.

import { ITerraformDependable, TerraformProvider } from 'cdktf';
import { Construct } from 'constructs';
import { AwsAllowRule, DEFAULT_AWS_IID_TTL, JoinMethod, TOKEN_VERSION, TokenMetadata, TokenSpec } from '../schema/token';
import { ProvisionToken, ProvisionTokenSpecAllow } from './teleport/provision-token';
import { canonicalRoles, JoinTokenPropsError, TokenFields, validateTokenFields } from './token-validation';

/** Roles granted when `roles` is not given. */
export const DEFAULT_TOKEN_ROLES: readonly string[] = ['Node'];

const JOIN_TOKEN_PROP_NAMES = ['name', 'description', 'labels', 'expires', 'roles', 'bot_name', 'provider', 'dependsOn'];

/** Props shared by every join token. */
export interface JoinTokenProps extends Readonly<Pick<TokenMetadata, 'name' | 'description' | 'labels' | 'expires'>> {
  /**
   * System roles granted to joining hosts; case-insensitive, stored in canonical casing.
   * @default ['Node']
   */
  readonly roles?: readonly string[];
  /** Bot the token is for; required with the Bot role. */
  readonly bot_name?: TokenSpec['bot_name'];
  /** The Teleport provider to use; the stack's default provider when absent. */
  readonly provider?: TerraformProvider;
  readonly dependsOn?: ITerraformDependable[];
}

/** An `ec2` allow rule: the account (and regions) instances must run in, and for a foreign account the role to assume. */
export type Ec2AllowRule = Readonly<Pick<AwsAllowRule, 'aws_account' | 'aws_role'>> & {
  /** Regions instances may run in; any region when absent. */
  readonly aws_regions?: readonly string[];
};

export interface Ec2JoinTokenProps extends JoinTokenProps {
  /** At least one rule; a join succeeds when any rule matches. */
  readonly allow: readonly Ec2AllowRule[];
  /**
   * How long after launch an instance may join, as a Go duration.
   * @default '5m'
   */
  readonly aws_iid_ttl?: string;
}

/** An `iam` allow rule: the caller's account and/or an ARN pattern (`*`, `?`). */
export type IamAllowRule = Readonly<Pick<AwsAllowRule, 'aws_account' | 'aws_arn'>>;

/** Something that yields an iam allow rule, such as an IamJoinRole (its sessions' ARN pattern). */
export interface IIamJoinPrincipal {
  toIamAllowRule(): IamAllowRule;
}

export interface IamJoinTokenProps extends JoinTokenProps {
  /** At least one rule, or a principal such as an IamJoinRole; a join succeeds when any rule matches. */
  readonly allow: ReadonlyArray<IamAllowRule | IIamJoinPrincipal>;
}

function isPrincipal(x: IamAllowRule | IIamJoinPrincipal): x is IIamJoinPrincipal {
  return typeof (x as IIamJoinPrincipal).toIamAllowRule === 'function';
}

/** Base of the join token constructs: validates the fields and creates the L1 resource. */
export abstract class JoinToken extends Construct {
  /** The L1 `teleport_provision_token` resource: the escape hatch for anything the props do not cover. */
  readonly resource: ProvisionToken;
  /** The token's name (metadata.name). */
  readonly tokenName: string;
  readonly joinMethod: JoinMethod;

  protected constructor(
    scope: Construct,
    id: string,
    props: JoinTokenProps,
    fields: Omit<TokenFields, keyof JoinTokenProps | 'roles'>,
    extraPropNames: readonly string[],
  ) {
    super(scope, id);
    const where = `${this.constructor.name} ${JSON.stringify(this.node.path)}`;
    // TypeScript catches unknown props; JavaScript callers and `as` casts get this message instead.
    const known = [...JOIN_TOKEN_PROP_NAMES, ...extraPropNames];
    const unknown = Object.keys(props).filter((k) => !known.includes(k));
    if (unknown.length) {
      throw new JoinTokenPropsError(
        where,
        unknown.map((k) => ({ field: k, message: `is not a prop of ${this.constructor.name}; expected one of ${known.join(', ')}` })),
      );
    }
    const all: TokenFields = {
      name: props.name,
      description: props.description,
      labels: props.labels,
      expires: props.expires,
      roles: props.roles ?? DEFAULT_TOKEN_ROLES,
      bot_name: props.bot_name,
      ...fields,
    };
    validateTokenFields(where, all);
    this.tokenName = props.name;
    this.joinMethod = all.join_method;

    this.resource = new ProvisionToken(this, 'Resource', {
      provider: props.provider,
      dependsOn: props.dependsOn,
      version: TOKEN_VERSION,
      metadata: { name: all.name, description: all.description, labels: all.labels, expires: all.expires },
      spec: {
        roles: canonicalRoles(all.roles),
        joinMethod: all.join_method,
        botName: all.bot_name,
        awsIidTtl: all.aws_iid_ttl,
        allow: all.allow.map(toL1Rule),
      },
    });
  }
}

function toL1Rule(rule: AwsAllowRule): ProvisionTokenSpecAllow {
  return { awsAccount: rule.aws_account, awsRegions: rule.aws_regions, awsRole: rule.aws_role, awsArn: rule.aws_arn };
}

/**
 * A token for the `ec2` join method: instances present a signed EC2 instance identity document
 * and the Auth Service checks it with ec2:DescribeInstances (through `aws_role` in a foreign account).
 */
export class Ec2JoinToken extends JoinToken {
  readonly awsIidTtl: string;

  constructor(scope: Construct, id: string, props: Ec2JoinTokenProps) {
    const awsIidTtl = props.aws_iid_ttl ?? DEFAULT_AWS_IID_TTL;
    const allow = (props.allow ?? []).map((r) => ({ ...r, aws_regions: r.aws_regions ? [...r.aws_regions] : undefined }));
    super(scope, id, props, { join_method: 'ec2', aws_iid_ttl: awsIidTtl, allow }, ['allow', 'aws_iid_ttl']);
    this.awsIidTtl = awsIidTtl;
  }
}

/**
 * A token for the `iam` join method: hosts present a pre-signed sts:GetCallerIdentity request and
 * their identity must match an allow rule. No AWS credentials are needed on the Auth Service.
 */
export class IamJoinToken extends JoinToken {
  constructor(scope: Construct, id: string, props: IamJoinTokenProps) {
    const allow = (props.allow ?? []).map((r) => (isPrincipal(r) ? r.toIamAllowRule() : r));
    super(scope, id, props, { join_method: 'iam', allow }, ['allow']);
  }
}
