// L2 join tokens: typed, defaulted and validated wrappers around the teleport_provision_token L1.
// Props are camelCase like every CDK library; each prop's TSDoc names the token YAML field it
// becomes, so a token.yaml from the docs maps onto them field by field.

import { ITerraformDependable, TerraformProvider } from 'cdktf';
import { Construct, IConstruct } from 'constructs';
import { AwsAllowRule, DEFAULT_AWS_IID_TTL, TOKEN_VERSION } from '../schema/token';
import { MANAGED_BY_LABEL } from '../schema/token-fields';
import { upgradeLegacyTokenProps, warnLegacyProps } from './legacy-props';
import { ProvisionToken, ProvisionTokenSpecAllow } from './teleport/provision-token';
import { canonicalRoles, JoinTokenPropsError, TokenFields, validateTokenFields } from './token-validation';

/** Roles granted when `roles` is not given. */
export const DEFAULT_TOKEN_ROLES: readonly string[] = ['Node'];

const COMMON_PROPS = ['name', 'description', 'labels', 'expires', 'roles', 'botName', 'provider', 'dependsOn'];
const METHOD_PROPS: Readonly<Record<string, readonly string[]>> = { ec2: ['allow', 'awsIidTtl'], iam: ['allow'] };

/** Props shared by every join token. */
export interface JoinTokenProps {
  /** The token's name. YAML: `metadata.name`. */
  readonly name: string;
  /**
   * Free text for humans. YAML: `metadata.description`.
   * @default - none
   */
  readonly description?: string;
  /**
   * Labels of the token. YAML: `metadata.labels`. The construct adds `joinery.dev/managed-by: cdktf`
   * (unless given here), so the console shows that CDKTF manages the token.
   * @default - `joinery.dev/managed-by: cdktf` (and the server adds `teleport.dev/origin: dynamic`)
   */
  readonly labels?: { [key: string]: string };
  /**
   * When the token stops working, as an RFC 3339 time. YAML: `metadata.expires`.
   * @default - never
   */
  readonly expires?: string;
  /**
   * System roles granted to joining hosts; case-insensitive, stored in canonical casing. YAML: `spec.roles`.
   * @default ['Node']
   */
  readonly roles?: string[];
  /**
   * Bot the token is for; required with the Bot role. YAML: `spec.bot_name` (0.1 prop: `bot_name`).
   * @default - none
   */
  readonly botName?: string;
  /**
   * The Teleport provider to use.
   * @default - the stack's default teleport provider
   */
  readonly provider?: TerraformProvider;
  /**
   * Resources the token waits for.
   * @default - none
   */
  readonly dependsOn?: ITerraformDependable[];
}

/**
 * An `ec2` allow rule: the account (and regions) instances must run in, and for a foreign account
 * the role to assume. YAML: one entry of `spec.allow`.
 */
export interface Ec2AllowRule {
  /**
   * The AWS account instances must run in (12 digits). YAML: `aws_account`.
   * @default - the account of `awsRole`
   */
  readonly awsAccount?: string;
  /**
   * Regions instances may run in. YAML: `aws_regions`.
   * @default - any region
   */
  readonly awsRegions?: string[];
  /**
   * ARN of the role the Auth Service assumes to call ec2:DescribeInstances in a foreign account,
   * such as a DescribeInstancesRole's `roleArn`. YAML: `aws_role`.
   * @default - none: the Auth Service's own credentials are used
   */
  readonly awsRole?: string;
}

/** Token options of the ec2 method other than its allow rules (MultiAccountEc2Join builds those). */
export interface Ec2JoinTokenOptions extends JoinTokenProps {
  /**
   * How long after launch an instance may join, as a Go duration. YAML: `spec.aws_iid_ttl` (0.1 prop: `aws_iid_ttl`).
   * @default '5m'
   */
  readonly awsIidTtl?: string;
}

export interface Ec2JoinTokenProps extends Ec2JoinTokenOptions {
  /** At least one rule; a join succeeds when any rule matches. YAML: `spec.allow`. */
  readonly allow: Ec2AllowRule[];
}

/** Which organizational units of an AWS organization may join. YAML: `aws_organizational_units`. */
export interface AwsOrganizationalUnits {
  /**
   * Root or OU IDs whose accounts (at any depth) may join; `['*']` for the whole organization. YAML: `include`.
   * @default - none (then `exclude` alone is refused)
   */
  readonly include?: string[];
  /**
   * Root or OU IDs whose accounts (at any depth) may not join; wins over `include`. YAML: `exclude`.
   * @default - none
   */
  readonly exclude?: string[];
}

/** An `iam` allow rule: the caller's account and/or an ARN pattern (`*`, `?`). YAML: one entry of `spec.allow`. */
export interface IamAllowRule {
  /**
   * The caller's AWS account (12 digits). YAML: `aws_account`.
   * @default - any account that matches `awsArn`
   */
  readonly awsAccount?: string;
  /**
   * Pattern of the caller's ARN; `*` and `?` are wildcards. YAML: `aws_arn`.
   * @default - any identity of `awsAccount`
   */
  readonly awsArn?: string;
  /**
   * The AWS Organizations ID (o-...) the caller's account must belong to; the Auth Service looks
   * the account up with organizations:DescribeAccount. YAML: `aws_organization_id`.
   * @default - any organization
   */
  readonly awsOrganizationId?: string;
  /**
   * Which organizational units of `awsOrganizationId` may join. YAML: `aws_organizational_units`.
   * @default - the whole organization
   */
  readonly awsOrganizationalUnits?: AwsOrganizationalUnits;
}

/** Something that yields an iam allow rule, such as an IamJoinRole (its sessions' ARN pattern). */
export interface IIamJoinPrincipal {
  /** The allow rule that admits this principal. */
  toIamAllowRule(): IamAllowRule;
}

export interface IamJoinTokenProps extends JoinTokenProps {
  /** At least one rule, or a principal such as an IamJoinRole; a join succeeds when any rule matches. YAML: `spec.allow`. */
  readonly allow: Array<IamAllowRule | IIamJoinPrincipal>;
}

/** A join token: one created by this app, or an existing one imported by name. */
export interface IJoinToken extends IConstruct {
  /** The token's name (YAML `metadata.name`). */
  readonly tokenName: string;
}

function isPrincipal(x: IamAllowRule | IIamJoinPrincipal): x is IIamJoinPrincipal {
  return typeof (x as IIamJoinPrincipal).toIamAllowRule === 'function';
}

class ImportedJoinToken extends Construct implements IJoinToken {
  constructor(
    scope: Construct,
    id: string,
    readonly tokenName: string,
  ) {
    super(scope, id);
  }
}

/** Base of the join token constructs: validates the fields and creates the L1 resource. */
export abstract class JoinToken extends Construct implements IJoinToken {
  /** Roles granted when `roles` is not given. */
  static readonly DEFAULT_ROLES: string[] = [...DEFAULT_TOKEN_ROLES];

  /**
   * A token that exists already (created elsewhere: the CLI, another stack), by its name. Nothing
   * is created; the token is only referred to.
   */
  static fromTokenName(scope: Construct, id: string, tokenName: string): IJoinToken {
    if (typeof tokenName !== 'string' || tokenName.length === 0) {
      throw new JoinTokenPropsError(`JoinToken.fromTokenName ${JSON.stringify(`${scope.node.path}/${id}`)}`, [
        { prop: 'tokenName', yamlField: 'metadata.name', message: `must be a non-empty token name (got ${JSON.stringify(tokenName)})` },
      ]);
    }
    return new ImportedJoinToken(scope, id, tokenName);
  }

  /** The L1 `teleport_provision_token` resource: the escape hatch for anything the props do not cover. */
  readonly resource: ProvisionToken;
  /** The token's name (YAML `metadata.name`). */
  readonly tokenName: string;
  /** `ec2` or `iam` (YAML `spec.join_method`). */
  readonly joinMethod: string;

  protected constructor(scope: Construct, id: string, props: JoinTokenProps, joinMethod: string, allow: ProvisionTokenSpecAllow[], awsIidTtl?: string) {
    super(scope, id);
    const where = `${this.constructor.name} ${JSON.stringify(this.node.path)}`;
    warnLegacyProps(this, props);
    // TypeScript catches unknown props; JavaScript callers and `as` casts get this message instead.
    const known = [...COMMON_PROPS, ...(METHOD_PROPS[joinMethod] ?? [])];
    const unknown = Object.keys(props).filter((k) => !known.includes(k));
    if (unknown.length) {
      throw new JoinTokenPropsError(
        where,
        unknown.map((k) => ({ prop: k, yamlField: '', message: `is not a prop of ${this.constructor.name}; expected one of ${known.join(', ')}` })),
      );
    }
    const all: TokenFields = {
      name: props.name,
      description: props.description,
      // Declared, so the server keeps it (it would otherwise record the provider: terraform).
      labels: { [MANAGED_BY_LABEL]: 'cdktf', ...props.labels },
      expires: props.expires,
      roles: props.roles ?? DEFAULT_TOKEN_ROLES,
      bot_name: props.botName,
      join_method: joinMethod as TokenFields['join_method'],
      allow: allow.map(toSchemaRule),
      aws_iid_ttl: awsIidTtl,
    };
    validateTokenFields(where, all);
    this.tokenName = props.name;
    this.joinMethod = joinMethod;

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
        allow,
      },
    });
  }
}

function toSchemaRule(rule: ProvisionTokenSpecAllow): AwsAllowRule {
  const ous = rule.awsOrganizationalUnits;
  const out: AwsAllowRule = {
    aws_account: rule.awsAccount,
    aws_regions: rule.awsRegions,
    aws_role: rule.awsRole,
    aws_arn: rule.awsArn,
    aws_organization_id: rule.awsOrganizationId,
    aws_organizational_units: ous ? { ...(ous.include ? { include: ous.include } : {}), ...(ous.exclude ? { exclude: ous.exclude } : {}) } : undefined,
  };
  // Keys left out rather than undefined, so that the schema reports only what was given.
  for (const k of Object.keys(out) as Array<keyof AwsAllowRule>) if (out[k] === undefined) delete out[k];
  return out;
}

/** A copy of a rule with the L1's fields; the schema judges which of them the join method allows. */
function toL1Rule(rule: ProvisionTokenSpecAllow): ProvisionTokenSpecAllow {
  const { awsAccount, awsRegions, awsRole, awsArn, awsOrganizationId, awsOrganizationalUnits } = rule ?? {};
  return { awsAccount, awsRegions: Array.isArray(awsRegions) ? [...awsRegions] : awsRegions, awsRole, awsArn, awsOrganizationId, awsOrganizationalUnits };
}

/**
 * A token for the `ec2` join method: instances present a signed EC2 instance identity document
 * and the Auth Service checks it with ec2:DescribeInstances (through `awsRole` in a foreign account).
 */
export class Ec2JoinToken extends JoinToken {
  /** How long after launch an instance may join (YAML `spec.aws_iid_ttl`). */
  readonly awsIidTtl: string;

  constructor(scope: Construct, id: string, props: Ec2JoinTokenProps) {
    const p = upgradeLegacyTokenProps(props, 'allow');
    const awsIidTtl = p.awsIidTtl ?? DEFAULT_AWS_IID_TTL;
    super(scope, id, p, 'ec2', rulesOf(p.allow), awsIidTtl);
    this.awsIidTtl = awsIidTtl;
  }
}

/**
 * A token for the `iam` join method: hosts present a pre-signed sts:GetCallerIdentity request and
 * their identity must match an allow rule. No AWS credentials are needed on the Auth Service.
 */
export class IamJoinToken extends JoinToken {
  constructor(scope: Construct, id: string, props: IamJoinTokenProps) {
    const p = upgradeLegacyTokenProps(props, 'allow');
    const allow = (p.allow ?? []).map((r) => (isPrincipal(r) ? r.toIamAllowRule() : r));
    super(scope, id, p, 'iam', rulesOf(allow));
  }
}

function rulesOf(allow: readonly ProvisionTokenSpecAllow[] | undefined): ProvisionTokenSpecAllow[] {
  return (allow ?? []).map(toL1Rule);
}
