// Construction-time validation of token props with the one token schema (schema/token.ts).
// Values that are cdktf tokens (references such as a role's ARN) are only known at apply time:
// they are swapped for valid placeholders before parsing and every error about them is dropped,
// so only the literal parts of the props are judged here.

import { Token } from 'cdktf';
import { roleArnAccount } from '../schema/aws';
import { AwsAllowRule, DEFAULT_AWS_IID_TTL, JoinMethod, parseToken, TOKEN_VERSION, TokenValidationError } from '../schema/token';
import { canonicalRole } from '../schema/roles';

const PLACEHOLDER_ACCOUNT = '000000000000';

/** The token fields a construct sends, in the schema's own (snake_case) names. */
export interface TokenFields {
  name: string;
  description?: string;
  labels?: Record<string, string>;
  expires?: string;
  roles: readonly string[];
  join_method: JoinMethod;
  bot_name?: string;
  allow: readonly AwsAllowRule[];
  aws_iid_ttl?: string;
}

/** One invalid prop: its path in the props, the token YAML field it becomes, and what is wrong. */
export interface JoinTokenPropError {
  /** The prop's path, camelCase: `allow[0].awsAccount`. */
  readonly prop: string;
  /** The same field in a token YAML document: `spec.allow[0].aws_account`. */
  readonly yamlField: string;
  /** What is wrong, with what was received and what is expected. */
  readonly message: string;
  /** Same as `prop` (0.1 name). */
  readonly field: string;
}

/** Thrown when token props are invalid; `errors` carries each prop (camelCase and as a YAML field) and message. */
export class JoinTokenPropsError extends Error {
  readonly errors: JoinTokenPropError[];
  constructor(
    readonly construct: string,
    errors: Array<{ prop: string; yamlField: string; message: string }>,
  ) {
    super(`${construct}: invalid props: ${errors.map((e) => `${describeProp(e.prop, e.yamlField)} ${e.message}`).join('; ')}`);
    this.name = 'JoinTokenPropsError';
    this.errors = errors.map((e) => ({ ...e, field: e.prop }));
  }
}

/** `allow[0].awsAccount (YAML spec.allow[0].aws_account)`. */
export function describeProp(prop: string, yamlField: string | undefined): string {
  return yamlField ? `${prop} (YAML ${yamlField})` : prop;
}

const camel = (s: string): string => s.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

/**
 * The prop path for a field path of the token schema: `spec.allow[0].aws_account` ->
 * `allow[0].awsAccount`. Bracketed parts (indexes, label keys) are kept as they are.
 */
export function propForField(field: string): string {
  const parts = field.replace(/^(spec|metadata)\./, '').match(/\[[^\]]*\]|[^.[]+/g) ?? [];
  return parts.reduce((acc, part) => (part.startsWith('[') ? acc + part : `${acc}${acc ? '.' : ''}${camel(part)}`), '');
}

const unresolved = (v: unknown): boolean => v !== undefined && Token.isUnresolved(v);

/**
 * Validates the fields with parseToken. `constructPath` names the construct in messages. Error
 * paths are reported with the props' names and the YAML field: `spec.allow[0].aws_account` becomes
 * `allow[0].awsAccount (YAML spec.allow[0].aws_account)`.
 */
export function validateTokenFields(constructPath: string, f: TokenFields): void {
  const skip: string[] = []; // field paths whose value is a token
  const mark = (path: string, v: unknown): boolean => {
    if (!unresolved(v)) return false;
    skip.push(path);
    return true;
  };

  const name = mark('metadata.name', f.name) ? 'placeholder' : f.name;
  const metadata: Record<string, unknown> = { name };
  if (f.description !== undefined) metadata.description = mark('metadata.description', f.description) ? 'placeholder' : f.description;
  if (f.expires !== undefined) metadata.expires = mark('metadata.expires', f.expires) ? '2030-01-01T00:00:00Z' : f.expires;
  if (f.labels !== undefined) {
    metadata.labels = mark('metadata.labels', f.labels)
      ? {}
      : Object.fromEntries(Object.entries(f.labels).filter(([k, v]) => !(mark(`metadata.labels[${JSON.stringify(k)}]`, k) || mark(`metadata.labels[${JSON.stringify(k)}]`, v))));
  }

  const roles = mark('spec.roles', f.roles)
    ? ['Node']
    : f.roles.map((r, i) => (mark(`spec.roles[${i}]`, r) ? 'Node' : r));

  const allow = mark('spec.allow', f.allow) ? [{ aws_account: PLACEHOLDER_ACCOUNT }] : f.allow.map((rule, i) => placeholderRule(rule, `spec.allow[${i}]`, mark));

  const spec: Record<string, unknown> = { roles, join_method: f.join_method, allow };
  if (f.bot_name !== undefined) spec.bot_name = mark('spec.bot_name', f.bot_name) ? 'placeholder' : f.bot_name;
  if (f.aws_iid_ttl !== undefined) spec.aws_iid_ttl = mark('spec.aws_iid_ttl', f.aws_iid_ttl) ? DEFAULT_AWS_IID_TTL : f.aws_iid_ttl;

  try {
    parseToken({ kind: 'token', version: TOKEN_VERSION, metadata, spec });
  } catch (err) {
    if (!(err instanceof TokenValidationError)) throw err;
    const real = err.errors.filter((e) => !skip.some((p) => e.field === p || e.field.startsWith(`${p}.`) || e.field.startsWith(`${p}[`)));
    if (real.length) {
      throw new JoinTokenPropsError(
        constructPath,
        real.map((e) => ({ prop: propForField(e.field), yamlField: e.field, message: e.message })),
      );
    }
  }
}

function placeholderRule(rule: AwsAllowRule, path: string, mark: (p: string, v: unknown) => boolean): AwsAllowRule {
  const out: AwsAllowRule = { ...rule };
  const accountUnknown = mark(`${path}.aws_account`, rule.aws_account);
  const roleUnknown = mark(`${path}.aws_role`, rule.aws_role);
  // Keep the account/role pair consistent so that a token on one side does not make the
  // "role must be in the instances' account" check fire against a placeholder.
  if (accountUnknown) out.aws_account = (!roleUnknown && rule.aws_role && roleArnAccount(rule.aws_role)) || PLACEHOLDER_ACCOUNT;
  if (roleUnknown) {
    const account = accountUnknown ? out.aws_account : rule.aws_account ?? PLACEHOLDER_ACCOUNT;
    out.aws_role = `arn:aws:iam::${account}:role/placeholder`;
  }
  if (mark(`${path}.aws_regions`, rule.aws_regions)) out.aws_regions = ['us-east-1'];
  else if (rule.aws_regions) out.aws_regions = rule.aws_regions.map((r, j) => (mark(`${path}.aws_regions[${j}]`, r) ? `eu-central-${j + 10}` : r));
  if (mark(`${path}.aws_arn`, rule.aws_arn)) out.aws_arn = 'arn:aws:sts::000000000000:assumed-role/placeholder/*';
  return out;
}

/** Roles as the server stores them (canonical casing), leaving tokens as they are. */
export function canonicalRoles(roles: readonly string[]): string[] {
  return roles.map((r) => (unresolved(r) ? r : canonicalRole(r) ?? r));
}
