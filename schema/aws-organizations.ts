// AWS Organizations conditions on an IAM allow rule: the fields, and how a token's rule is
// checked when it is written. Pure functions (no I/O) so the token schema can call them.
//
// Facts from Teleport's sources (v18; read, not copied):
// - api/types (TokenRule): an allow rule carries `aws_organization_id` (string) and
//   `aws_organizational_units`, an object with two string lists, `include` and `exclude`:
//       allow:
//       - aws_organization_id: o-a1b2c3d4e5
//         aws_organizational_units:
//           include: [ou-ab12-cdef3456]      # or ["*"], or the root ID r-ab12
//           exclude: [ou-ab12-99998888]
// - lib/auth (validateProvisionToken, with its test table):
//   * ec2 tokens refuse OU matchers ("does not support aws_organizational_units");
//   * on iam tokens OU matchers (include or exclude non-empty) need aws_organization_id;
//   * with OU matchers, include must have at least one entry (exclude-only is refused);
//   * "*" in include must be its only entry; "*" in exclude is refused;
//   * an empty matcher ({} or empty lists) counts as no matcher.
//   * an iam rule with aws_organization_id alone (no aws_account, no aws_arn) is accepted.
// - Teleport does not check the ID formats; Joinery does (an ID in the wrong shape can never
//   match, so refusing it at write time saves a silent lock-out). The formats are AWS's:
//   organization `o-` + 10..32 of [a-z0-9]; root `r-` + 4..32 of [a-z0-9];
//   OU `ou-` + 4..32 of [a-z0-9] (the root part) + `-` + 8..32 of [a-z0-9].
// - Teleport ignores aws_organization_id on ec2 tokens (lib/join/ec2join never reads it), so an
//   ec2 rule naming an organization admits instances of any organization. Joinery refuses both
//   fields on ec2 tokens instead of storing a restriction that does nothing.
// - Matching (lib/join/iamjoin, lib/utils/aws/organizations): after aws_account and aws_arn
//   match, the account's organization (from the DescribeAccount ARN) must equal the rule's; with
//   OU matchers the account's ancestry (its root and every OU above it) is compared: any exclude
//   entry in the ancestry refuses, then "*" or any include entry in the ancestry admits. A rule
//   that does not match lets the next rule try.

import { isObject, isUnset } from './values';

export const ORGANIZATION_ID_RE = /^o-[a-z0-9]{10,32}$/;
export const ROOT_ID_RE = /^r-[a-z0-9]{4,32}$/;
export const OU_ID_RE = /^ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}$/;
export const OU_WILDCARD = '*';
/** Bound on each list: a rule is stored and compared on every join. */
export const MAX_OU_ENTRIES = 100;

export interface AwsOrganizationalUnitsMatcher {
  /** Root or OU IDs whose accounts (at any depth) may join; `["*"]` for the whole organization. */
  include?: string[];
  /** Root or OU IDs whose accounts (at any depth) may not join; wins over include. */
  exclude?: string[];
}

/** The organization fields of an IAM allow rule, as they appear in a token's YAML. */
export interface AwsOrganizationRuleFields {
  /** IAM only: the AWS Organizations ID (o-...) the caller's account must belong to. */
  aws_organization_id?: string;
  /** IAM only: which parts of that organization may join (needs aws_organization_id). */
  aws_organizational_units?: AwsOrganizationalUnitsMatcher;
}

export interface OrganizationRuleError {
  /** Relative to the rule, e.g. `aws_organizational_units.include[1]`. */
  field: string;
  message: string;
}

export const ORGANIZATION_FIELD_DOCS: Record<string, string> = {
  'spec.allow.aws_organization_id': 'IAM only: AWS Organizations ID (o-...) the joining account must belong to; the server checks it with organizations:DescribeAccount.',
  'spec.allow.aws_organizational_units': 'IAM only, with aws_organization_id: organizational units whose accounts may join.',
  'spec.allow.aws_organizational_units.include': 'Root or OU IDs (r-..., ou-...) whose accounts, at any depth, may join; ["*"] for the whole organization.',
  'spec.allow.aws_organizational_units.exclude': 'Root or OU IDs whose accounts, at any depth, may not join; wins over include; no wildcard.',
};

/** Whether a matcher filters at all (Teleport treats `{}` and empty lists as no matcher). */
export function hasOuMatchers(m: AwsOrganizationalUnitsMatcher | undefined): boolean {
  return !!m && ((m.include?.length ?? 0) > 0 || (m.exclude?.length ?? 0) > 0);
}

/** Whether a rule needs an Organizations lookup at join time. */
export function hasOrganizationConditions(rule: AwsOrganizationRuleFields): boolean {
  return rule.aws_organization_id !== undefined || hasOuMatchers(rule.aws_organizational_units);
}

function checkOuList(raw: unknown, field: string, which: 'include' | 'exclude', errors: OrganizationRuleError[]): string[] | undefined {
  if (isUnset(raw)) return undefined;
  if (!Array.isArray(raw)) {
    errors.push({ field, message: 'must be a list of organizational unit or root IDs' });
    return undefined;
  }
  if (raw.length > MAX_OU_ENTRIES) {
    errors.push({ field, message: `must list at most ${MAX_OU_ENTRIES} IDs` });
    return undefined;
  }
  const seen = new Set<string>();
  const out: string[] = [];
  raw.forEach((v, i) => {
    const at = `${field}[${i}]`;
    if (typeof v !== 'string') return void errors.push({ field: at, message: 'must be a string' });
    if (v === OU_WILDCARD) {
      if (which === 'exclude') errors.push({ field: at, message: 'may not be "*": a wildcard in exclude would refuse the whole organization' });
    } else if (!OU_ID_RE.test(v) && !ROOT_ID_RE.test(v)) {
      errors.push({ field: at, message: `${JSON.stringify(v.slice(0, 80))} is not an organizational unit ID (ou-xxxx-xxxxxxxx) or root ID (r-xxxx)${which === 'include' ? ', nor "*"' : ''}` });
    }
    if (seen.has(v)) errors.push({ field: at, message: `duplicate entry ${JSON.stringify(v.slice(0, 80))}` });
    seen.add(v);
    out.push(v);
  });
  return out;
}

/**
 * Checks the organization fields of one allow rule (`raw` is the rule as sent; other fields are
 * ignored) for a token of `joinMethod`. Returns every problem found, field paths relative to the
 * rule; an empty list when the fields are absent or valid.
 */
export function checkOrganizationRule(raw: unknown, joinMethod: string = 'iam'): OrganizationRuleError[] {
  const errors: OrganizationRuleError[] = [];
  if (!isObject(raw)) return errors;
  const orgId = raw.aws_organization_id;
  const ous = raw.aws_organizational_units;
  if (isUnset(orgId) && isUnset(ous)) return errors;

  if (joinMethod !== 'iam') {
    if (!isUnset(orgId)) errors.push({ field: 'aws_organization_id', message: `is only valid for join_method iam (this token uses ${joinMethod})` });
    if (!isUnset(ous)) errors.push({ field: 'aws_organizational_units', message: `is only valid for join_method iam (this token uses ${joinMethod})` });
    return errors;
  }

  if (!isUnset(orgId)) {
    if (typeof orgId !== 'string' || !ORGANIZATION_ID_RE.test(orgId)) {
      errors.push({ field: 'aws_organization_id', message: 'must be an AWS Organizations ID: o- followed by 10 to 32 lower-case letters or digits (e.g. o-a1b2c3d4e5)' });
    }
  }

  if (isUnset(ous)) return errors;
  if (!isObject(ous)) {
    errors.push({ field: 'aws_organizational_units', message: 'must be an object with include and/or exclude lists' });
    return errors;
  }
  for (const key of Object.keys(ous)) {
    if (key !== 'include' && key !== 'exclude') errors.push({ field: `aws_organizational_units.${key}`, message: 'unknown field; expected include or exclude' });
  }
  const include = checkOuList(ous.include, 'aws_organizational_units.include', 'include', errors);
  const exclude = checkOuList(ous.exclude, 'aws_organizational_units.exclude', 'exclude', errors);
  const active = (include?.length ?? 0) > 0 || (exclude?.length ?? 0) > 0;
  if (!active) return errors;

  if (isUnset(orgId)) {
    errors.push({ field: 'aws_organizational_units', message: 'needs aws_organization_id: organizational units are matched inside one organization' });
  }
  if (!include || include.length === 0) {
    errors.push({ field: 'aws_organizational_units.include', message: 'must list at least one entry when organizational units are matched (use ["*"] or the root ID for the whole organization)' });
  } else if (include.includes(OU_WILDCARD) && include.length > 1) {
    errors.push({ field: 'aws_organizational_units.include', message: '"*" must be the only entry when it is used' });
  }
  return errors;
}

/**
 * Whether an account whose ancestry (its root and every OU above it, any order) is `ancestry`
 * passes the matcher. Exclusion wins; an empty ancestry never passes an active matcher.
 */
export function ouAncestryMatches(m: AwsOrganizationalUnitsMatcher | undefined, ancestry: readonly string[]): boolean {
  if (!hasOuMatchers(m)) return true;
  const include = m!.include ?? [];
  const exclude = m!.exclude ?? [];
  if (include.length === 0 || ancestry.length === 0) return false;
  if (exclude.includes(OU_WILDCARD) || ancestry.some((id) => exclude.includes(id))) return false;
  return include.includes(OU_WILDCARD) || ancestry.some((id) => include.includes(id));
}

/**
 * The organization fields of a rule that passed checkOrganizationRule, as they are stored (for
 * the schema's normalized token): absent fields stay absent, lists are copied.
 */
export function organizationFieldsOf(raw: Record<string, unknown>): AwsOrganizationRuleFields {
  const out: AwsOrganizationRuleFields = {};
  if (typeof raw.aws_organization_id === 'string' && !isUnset(raw.aws_organization_id)) out.aws_organization_id = raw.aws_organization_id;
  const ous = raw.aws_organizational_units;
  if (isObject(ous)) {
    const m: AwsOrganizationalUnitsMatcher = {};
    if (Array.isArray(ous.include)) m.include = ous.include.filter((v): v is string => typeof v === 'string');
    if (Array.isArray(ous.exclude)) m.exclude = ous.exclude.filter((v): v is string => typeof v === 'string');
    out.aws_organizational_units = m;
  }
  return out;
}
