// The `token` resource (kind token, version v2): the one definition of its shape, defaults and
// rules. The API validates with it, the CLI loads files with it, the Terraform provider derives
// its schema and plan-time diagnostics from it, and the constructs take its types as props.

import { AWS_ACCOUNT_RE, AWS_REGION_RE, IAM_ROLE_ARN_RE, roleArnAccount } from './aws';
import { formatDuration, parseGoDuration } from './duration';
import { checkOrganizationRule, organizationFieldsOf, type AwsOrganizationRuleFields } from './aws-organizations';
import { canonicalRole, SYSTEM_ROLES } from './roles';
import { isObject, isUnset, type Obj } from './values';
import { CONTROL_CHARS, INVISIBLE_CHARS } from './text-safety';
import { parseRfc3339, rfc3339Ms } from './time';
import {
  DEFAULT_AWS_IID_TTL,
  DEFAULT_ORIGIN,
  fieldAt,
  fieldsAt,
  JOIN_METHODS,
  LABEL_KEY_RE,
  MAX_ALLOW_RULES,
  MAX_AWS_IID_TTL_TEXT,
  MAX_LABELS,
  MAX_NAME_LENGTH,
  MAX_REGIONS,
  MAX_ROLES,
  methodRestriction,
  MIN_TOKEN_SECRET_LENGTH,
  ORIGIN_LABEL,
  ORIGINS,
  TOKEN_KIND,
  TOKEN_VERSION,
  type JoinMethod,
  type TokenField,
} from './token-fields';

export {
  DEFAULT_AWS_IID_TTL,
  DEFAULT_ORIGIN,
  FIELD_DOCS,
  JOIN_METHODS,
  LABEL_KEY_RE,
  MAX_ALLOW_RULES,
  MAX_LABELS,
  MAX_NAME_LENGTH,
  MAX_REGIONS,
  MAX_ROLES,
  MIN_TOKEN_SECRET_LENGTH,
  ORIGIN_LABEL,
  ORIGINS,
  TOKEN_KIND,
  TOKEN_VERSION,
  type JoinMethod,
} from './token-fields';
const MAX_LABEL_KEY = 253;
const MAX_LABEL_VALUE = 1024;
const MAX_DESCRIPTION = 4096;
/** At most this many problems are listed; the rest are counted ("and N more"). */
export const MAX_REPORTED_ERRORS = 20;
/**
 * aws_iid_ttl bounds. Below a second no instance can join in time. Above, Teleport reads the
 * value as a Go time.Duration, so it refuses anything beyond the largest one (2^63-1 ns, about
 * 292 years); the same bound here keeps tokens portable both ways. Multi-year values have a use:
 * replaying documents AWS signed long ago (the EC2 test vectors do).
 */
export const MIN_AWS_IID_TTL_MS = 1000;
export const MAX_AWS_IID_TTL_MS = 9_223_372_036_854.775;
const MAX_ARN = 2048;
export interface AwsAllowRule extends AwsOrganizationRuleFields {
  /** The AWS account ID (12 digits) the joining host must be in. */
  aws_account?: string;
  /** EC2 only: regions the instance may run in; any region when absent. */
  aws_regions?: string[];
  /** EC2 only: role ARN the server assumes to call ec2:DescribeInstances in a foreign account. */
  aws_role?: string;
  /** IAM only: ARN pattern (`*`, `?` wildcards) the caller identity must match. */
  aws_arn?: string;
}

export interface TokenMetadata {
  name: string;
  description?: string;
  labels?: Record<string, string>;
  /** RFC 3339 time after which the token can no longer be used. */
  expires?: string;
  /** Set by the server; changes on every write. Sent back on update for conflict detection. */
  revision?: string;
  /** Teleport's namespace; only "default". Kept because Teleport exports carry it. */
  namespace?: string;
}

/** Teleport's Labels type: a value or a list of values per key. */
export type SuggestedLabels = Record<string, string | string[]>;

export interface TokenSpec {
  roles: string[];
  join_method: JoinMethod;
  bot_name?: string;
  allow?: AwsAllowRule[];
  /** EC2 only: how long after launch an instance may join (Go duration). */
  aws_iid_ttl?: string;
  /** Stored and returned; no effect in Joinery yet. */
  suggested_labels?: SuggestedLabels;
  /** Stored and returned; no effect in Joinery yet. */
  suggested_agent_matcher_labels?: SuggestedLabels;
}

export interface ProvisionToken {
  kind: typeof TOKEN_KIND;
  /** Always empty for tokens; kept when a Teleport export carries it. */
  sub_kind?: string;
  version: typeof TOKEN_VERSION;
  metadata: TokenMetadata;
  spec: TokenSpec;
}

/** What a caller may send: the same shape with every field optional and join_method inferable. */
export type TokenInput = {
  kind?: string;
  version?: string;
  metadata?: Partial<TokenMetadata>;
  spec?: Partial<Omit<TokenSpec, 'join_method'>> & { join_method?: string };
};

export interface FieldError {
  /** Dotted path of the offending field, e.g. `spec.allow[1].aws_account`. */
  field: string;
  message: string;
}

export class TokenValidationError extends Error {
  /** `errors` holds at most MAX_REPORTED_ERRORS problems; `more` counts the ones left out. */
  constructor(
    public readonly errors: FieldError[],
    public readonly more = 0,
  ) {
    super(errors.map((e) => `${e.field}: ${e.message}`).join('; ') + (more ? `; and ${more} more problem${more === 1 ? '' : 's'}` : ''));
    this.name = 'TokenValidationError';
  }
  get field(): string {
    return this.errors[0].field;
  }
}

// ---------------------------------------------------------------------------------------------
// Field-level checks. Each returns an error message, or undefined when the value is valid.
// Exported one by one so the provider can check the known parts of a partly unknown plan.

/** A value quoted for a message, cut short so that a huge value cannot make a huge answer. */
export function shown(value: unknown, max = 100): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > max ? `${text.slice(0, max)}...` : text;
}

/** A message when the text holds a bidi-control, zero-width or other invisible character. */
export function checkVisible(text: string): string | undefined {
  const m = INVISIBLE_CHARS.exec(text);
  if (!m) return undefined;
  const code = m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
  return `must not contain invisible or bidirectional-control characters (U+${code} at position ${m.index})`;
}

export function checkName(name: unknown): string | undefined {
  if (typeof name !== 'string') return 'must be a string';
  if (name.length === 0) return 'is required and must not be empty';
  if (name.length > MAX_NAME_LENGTH) return `must be at most ${MAX_NAME_LENGTH} characters (got ${name.length})`;
  if (CONTROL_CHARS.test(name)) return 'must not contain control characters';
  if (name.trim() !== name) return 'must not start or end with white space';
  return checkVisible(name);
}

/** For the token method the name is the secret; a short one can be guessed. */
export function checkTokenSecret(name: unknown): string | undefined {
  if (typeof name !== 'string' || name.length >= MIN_TOKEN_SECRET_LENGTH) return undefined;
  return `a token-method token's name is its secret: use at least ${MIN_TOKEN_SECRET_LENGTH} characters (got ${name.length}), or leave it empty to have one generated`;
}

export function checkLabelKey(key: string): string | undefined {
  if (key.length > MAX_LABEL_KEY) return `label key is longer than ${MAX_LABEL_KEY} characters`;
  if (!LABEL_KEY_RE.test(key)) return `label key ${shown(key)} must match ${LABEL_KEY_RE}`;
  return undefined;
}

export function checkLabelValue(key: string, value: unknown): string | undefined {
  if (typeof value !== 'string') return 'label values must be strings';
  if (value.length > MAX_LABEL_VALUE) return `label value is longer than ${MAX_LABEL_VALUE} characters`;
  if (CONTROL_CHARS.test(value)) return 'label value must not contain control characters';
  const invisible = checkVisible(value);
  if (invisible) return `label value ${invisible}`;
  if (key === ORIGIN_LABEL && !(ORIGINS as readonly string[]).includes(value)) {
    return `${ORIGIN_LABEL} must be one of ${ORIGINS.join(', ')} (got ${shown(value)})`;
  }
  return undefined;
}

export function checkExpires(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'must be an RFC 3339 time string';
  const r = parseRfc3339(value);
  if (r.ok) return undefined;
  if (r.problem === 'syntax') return `must be an RFC 3339 time such as 2030-01-02T15:04:05Z (got ${shown(value)})`;
  if (r.problem === 'leap-second') return `is a leap second (second 60), which is not accepted; use second 59 (got ${shown(value)})`;
  return `is not a real date and time (got ${shown(value)}): month 01-12, a day the month has, hour 00-23, minute and second 00-59, zone offset at most 23:59, year 0001-9999 in UTC`;
}

/** The expiry as stored: the same instant in UTC, or undefined when it is not a valid time. */
export function normaliseExpires(value: unknown): string | undefined {
  const r = parseRfc3339(value);
  return r.ok ? r.time.utc : undefined;
}

export function checkAwsAccount(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'must be a string of 12 digits (quote it in YAML)';
  if (!AWS_ACCOUNT_RE.test(value)) return `must be a 12-digit AWS account ID (got ${shown(value)})`;
  return undefined;
}

export function checkAwsRegion(value: unknown): string | undefined {
  if (typeof value !== 'string' || !AWS_REGION_RE.test(value)) {
    return `must be an AWS region name such as us-west-2 (got ${shown(value)})`;
  }
  return undefined;
}

export function checkAwsRole(value: unknown): string | undefined {
  if (typeof value !== 'string' || !IAM_ROLE_ARN_RE.test(value)) {
    return `must be an IAM role ARN such as arn:aws:iam::222222222222:role/teleport-DescribeInstances-role (got ${shown(value)})`;
  }
  return undefined;
}

export function checkAwsArn(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0) return 'must be a non-empty ARN pattern';
  if (value.length > MAX_ARN) return `must be at most ${MAX_ARN} characters`;
  if (CONTROL_CHARS.test(value) || /\s/.test(value)) return 'must not contain white space or control characters';
  return undefined;
}

/** The aws_iid_ttl check: a Go duration from MIN_AWS_IID_TTL_MS to MAX_AWS_IID_TTL_MS. */
export function checkDuration(value: unknown): string | undefined {
  const ms = typeof value === 'string' ? parseGoDuration(value) : undefined;
  if (ms === undefined) return `must be a duration such as 5m, 90s or 1h30m (got ${shown(value)})`;
  if (ms <= 0) return 'must be greater than zero';
  if (ms < MIN_AWS_IID_TTL_MS) return `must be at least ${formatDuration(MIN_AWS_IID_TTL_MS)} (got ${shown(value)})`;
  if (ms > MAX_AWS_IID_TTL_MS) return `must be at most ${MAX_AWS_IID_TTL_TEXT}, the largest Go duration (got ${shown(value)})`;
  return undefined;
}

export function checkJoinMethod(value: unknown): string | undefined {
  if (typeof value !== 'string' || !(JOIN_METHODS as readonly string[]).includes(value)) {
    return `must be one of ${JOIN_METHODS.join(', ')} (got ${shown(value)})`;
  }
  return undefined;
}

export function checkRole(value: unknown): string | undefined {
  if (typeof value !== 'string' || !canonicalRole(value)) {
    return `${shown(value)} is not a known role; use one of ${SYSTEM_ROLES.join(', ')}`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------

/** The join method a token without one gets: ec2 when it has allow rules, token otherwise. */
export function inferJoinMethod(allow: unknown): JoinMethod {
  return Array.isArray(allow) && allow.length > 0 ? 'ec2' : 'token';
}

/** A key as it appears in a field path; hostile keys can be any length. */
function pathKey(key: string): string {
  return key.length > 64 ? `${key.slice(0, 64)}...` : key;
}

class Collector {
  readonly errors: FieldError[] = [];
  /** Problems found beyond MAX_REPORTED_ERRORS: counted, not listed. */
  more = 0;
  add(field: string, message: string | undefined): boolean {
    if (message) {
      if (this.errors.length < MAX_REPORTED_ERRORS) this.errors.push({ field, message });
      else this.more++;
    }
    return !message;
  }
  /** Refuses keys the declaration (schema/token-fields.ts) does not have at this level. */
  unknownKeys(obj: Obj, path: string, fields: readonly TokenField[]): void {
    const allowed = fields.map((f) => f.name);
    for (const key of Object.keys(obj)) {
      if (!allowed.includes(key)) {
        this.add(path ? `${path}.${pathKey(key)}` : pathKey(key), `unknown field; expected one of ${allowed.join(', ')}`);
      }
    }
  }
}

/**
 * Validates a token resource and returns it normalized with server defaults applied: roles in
 * canonical casing, join_method inferred, aws_iid_ttl defaulted for ec2, the origin label set.
 * Throws TokenValidationError listing every problem with its field path.
 */
export function parseToken(input: unknown): ProvisionToken {
  const c = new Collector();
  if (!isObject(input)) throw new TokenValidationError([{ field: '', message: 'a token must be an object' }]);
  c.unknownKeys(input, '', fieldsAt(''));

  if (!isUnset(input.kind) && input.kind !== TOKEN_KIND) c.add('kind', `must be "${TOKEN_KIND}" (got ${shown(input.kind)})`);
  if (input.version !== TOKEN_VERSION) {
    c.add('version', isUnset(input.version) ? `is required and must be "${TOKEN_VERSION}"` : `must be "${TOKEN_VERSION}" (got ${shown(input.version)})`);
  }

  const subKind = parseFixed(input, 'sub_kind', fieldAt('sub_kind'), c);

  const metadata = parseMetadata(input.metadata, c);
  const spec = parseSpec(input.spec, c);
  if (metadata && spec?.join_method === 'token' && !checkName(metadata.name)) c.add('metadata.name', checkTokenSecret(metadata.name));
  if (c.errors.length) throw new TokenValidationError(c.errors, c.more);
  return { kind: TOKEN_KIND, ...(subKind !== undefined ? { sub_kind: subKind } : {}), version: TOKEN_VERSION, metadata: metadata!, spec: spec! };
}

/** Like parseToken, but returns the errors instead of throwing. */
export function validateToken(input: unknown): { ok: true; token: ProvisionToken } | { ok: false; errors: FieldError[]; more: number } {
  try {
    return { ok: true, token: parseToken(input) };
  } catch (e) {
    if (e instanceof TokenValidationError) return { ok: false, errors: e.errors, more: e.more };
    throw e;
  }
}

function parseMetadata(raw: unknown, c: Collector): TokenMetadata | undefined {
  if (!isObject(raw)) {
    c.add('metadata', 'is required and must be an object with at least a name');
    return undefined;
  }
  c.unknownKeys(raw, 'metadata', fieldsAt('metadata'));
  const md: TokenMetadata = { name: raw.name as string };
  c.add('metadata.name', checkName(raw.name));

  if (!isUnset(raw.description)) {
    if (typeof raw.description !== 'string') c.add('metadata.description', 'must be a string');
    else if (raw.description.length > MAX_DESCRIPTION) c.add('metadata.description', `must be at most ${MAX_DESCRIPTION} characters`);
    else if (c.add('metadata.description', checkVisible(raw.description))) md.description = raw.description;
  }

  // A Map, so that a key such as "__proto__" is kept as a label like any other.
  const labels = new Map<string, string>();
  if (!isUnset(raw.labels)) {
    if (!isObject(raw.labels)) c.add('metadata.labels', 'must be a map of strings');
    else if (Object.keys(raw.labels).length > MAX_LABELS) c.add('metadata.labels', `must have at most ${MAX_LABELS} labels (got ${Object.keys(raw.labels).length})`);
    else {
      for (const [k, v] of Object.entries(raw.labels)) {
        const path = `metadata.labels[${JSON.stringify(pathKey(k))}]`;
        if (c.add(path, checkLabelKey(k) ?? checkLabelValue(k, v))) labels.set(k, v as string);
      }
    }
  }
  if (!labels.has(ORIGIN_LABEL)) labels.set(ORIGIN_LABEL, DEFAULT_ORIGIN);
  md.labels = Object.fromEntries([...labels].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

  if (!isUnset(raw.expires)) {
    // A YAML timestamp arrives as a Date; accept it as the time it names (an invalid Date is refused).
    const exp = raw.expires instanceof Date ? (Number.isNaN(raw.expires.getTime()) ? 'an invalid date' : raw.expires.toISOString()) : raw.expires;
    // Stored in UTC, so that every reader compares the same instant without an offset to get wrong.
    if (c.add('metadata.expires', checkExpires(exp))) md.expires = normaliseExpires(exp);
  }
  if (!isUnset(raw.revision)) {
    if (typeof raw.revision !== 'string') c.add('metadata.revision', 'must be a string');
    else md.revision = raw.revision;
  }
  const namespace = parseFixed(raw, 'namespace', fieldAt('metadata.namespace'), c, 'metadata.');
  if (namespace !== undefined) md.namespace = namespace;
  return md;
}

function parseSpec(raw: unknown, c: Collector): TokenSpec | undefined {
  if (!isObject(raw)) {
    c.add('spec', 'is required and must be an object with at least roles');
    return undefined;
  }
  c.unknownKeys(raw, 'spec', fieldsAt('spec'));

  const roles: string[] = [];
  if (!Array.isArray(raw.roles) || raw.roles.length === 0) {
    c.add('spec.roles', `is required: list at least one role (e.g. [Node])`);
  } else if (raw.roles.length > MAX_ROLES) {
    c.add('spec.roles', `must list at most ${MAX_ROLES} roles (got ${raw.roles.length})`);
  } else {
    raw.roles.forEach((r, i) => {
      const path = `spec.roles[${i}]`;
      if (!c.add(path, checkRole(r))) return;
      const canon = canonicalRole(r as string)!;
      if (roles.includes(canon)) c.add(path, `duplicate role ${canon}`);
      else roles.push(canon);
    });
  }

  const rawAllow = isUnset(raw.allow) || (Array.isArray(raw.allow) && raw.allow.length === 0) ? undefined : raw.allow;
  let method: JoinMethod | undefined;
  if (isUnset(raw.join_method)) method = inferJoinMethod(rawAllow);
  else if (c.add('spec.join_method', checkJoinMethod(raw.join_method))) method = raw.join_method as JoinMethod;

  const spec: TokenSpec = { roles, join_method: method ?? 'token' };

  if (!isUnset(raw.bot_name)) {
    const msg = typeof raw.bot_name !== 'string' ? 'must be a string' : checkName(raw.bot_name);
    if (c.add('spec.bot_name', msg)) spec.bot_name = raw.bot_name as string;
  }
  if (roles.includes('Bot') && !spec.bot_name && isUnset(raw.bot_name)) c.add('spec.bot_name', 'is required when roles include Bot');
  if (spec.bot_name && !roles.includes('Bot')) c.add('spec.bot_name', 'may only be set when roles include Bot');

  if (rawAllow !== undefined) {
    if (!Array.isArray(rawAllow)) c.add('spec.allow', 'must be a list of allow rules');
    else if (rawAllow.length > MAX_ALLOW_RULES) c.add('spec.allow', `must have at most ${MAX_ALLOW_RULES} rules (got ${rawAllow.length})`);
    else if (method) spec.allow = rawAllow.map((r, i) => parseRule(r, i, method!, c));
  }

  if (method === 'token' && spec.allow) c.add('spec.allow', 'must be empty for join_method token (allow rules are for ec2 and iam)');
  if ((method === 'ec2' || method === 'iam') && !spec.allow) {
    c.add('spec.allow', `is required for join_method ${method}: add at least one rule with aws_account${method === 'ec2' ? ' or aws_role' : ' or aws_arn'}`);
  }

  if (!isUnset(raw.aws_iid_ttl)) {
    const restricted = methodRestriction(fieldAt('spec.aws_iid_ttl'), method);
    if (restricted) c.add('spec.aws_iid_ttl', restricted);
    else if (c.add('spec.aws_iid_ttl', checkDuration(raw.aws_iid_ttl))) spec.aws_iid_ttl = raw.aws_iid_ttl as string;
  } else if (method === 'ec2') {
    spec.aws_iid_ttl = DEFAULT_AWS_IID_TTL;
  }
  for (const name of ['suggested_labels', 'suggested_agent_matcher_labels'] as const) {
    const labels = parseSuggestedLabels(raw[name], `spec.${name}`, c);
    if (labels) spec[name] = labels;
  }
  return spec;
}

function parseRule(raw: unknown, i: number, method: JoinMethod, c: Collector): AwsAllowRule {
  const path = `spec.allow[${i}]`;
  const rule: AwsAllowRule = {};
  if (!isObject(raw)) {
    c.add(path, 'must be an object');
    return rule;
  }
  c.unknownKeys(raw, path, fieldsAt('spec.allow'));
  const restricted = (name: string) => methodRestriction(fieldAt(`spec.allow.${name}`), method);

  if (!isUnset(raw.aws_account) && c.add(`${path}.aws_account`, checkAwsAccount(raw.aws_account))) rule.aws_account = raw.aws_account as string;

  const regions = raw.aws_regions;
  if (!isUnset(regions) && !(Array.isArray(regions) && regions.length === 0)) {
    if (restricted('aws_regions')) c.add(`${path}.aws_regions`, restricted('aws_regions'));
    else if (!Array.isArray(regions)) c.add(`${path}.aws_regions`, 'must be a list of region names');
    else if (regions.length > MAX_REGIONS) c.add(`${path}.aws_regions`, `must list at most ${MAX_REGIONS} regions (got ${regions.length})`);
    else {
      const seen = new Set<string>();
      regions.forEach((r, j) => {
        if (!c.add(`${path}.aws_regions[${j}]`, checkAwsRegion(r))) return;
        if (seen.has(r)) c.add(`${path}.aws_regions[${j}]`, `duplicate region ${r}`);
        seen.add(r);
      });
      rule.aws_regions = [...regions] as string[];
    }
  }

  if (!isUnset(raw.aws_role)) {
    if (restricted('aws_role')) c.add(`${path}.aws_role`, restricted('aws_role'));
    else if (c.add(`${path}.aws_role`, checkAwsRole(raw.aws_role))) {
      rule.aws_role = raw.aws_role as string;
      const roleAccount = roleArnAccount(rule.aws_role);
      // DescribeInstances through a role only sees the role's own account.
      if (rule.aws_account && roleAccount !== rule.aws_account) {
        c.add(`${path}.aws_role`, `is a role in account ${roleAccount}, but aws_account is ${rule.aws_account}; the role must be in the instances' account`);
      }
    }
  }

  if (!isUnset(raw.aws_arn)) {
    if (restricted('aws_arn')) c.add(`${path}.aws_arn`, restricted('aws_arn'));
    else if (c.add(`${path}.aws_arn`, checkAwsArn(raw.aws_arn))) rule.aws_arn = raw.aws_arn as string;
  }

  if (method === 'ec2' && !rule.aws_account && !rule.aws_role && isUnset(raw.aws_account) && isUnset(raw.aws_role)) {
    c.add(path, 'an ec2 allow rule must set aws_account or aws_role');
  }
  // AWS Organizations conditions (iam): their combination rules live with their matcher.
  const orgErrors = checkOrganizationRule(raw, method);
  for (const e of orgErrors) c.add(`${path}.${e.field}`, e.message);
  if (orgErrors.length === 0) Object.assign(rule, organizationFieldsOf(raw));

  if (method === 'iam' && !rule.aws_account && !rule.aws_arn && !rule.aws_organization_id && isUnset(raw.aws_account) && isUnset(raw.aws_arn) && isUnset(raw.aws_organization_id)) {
    c.add(path, 'an iam allow rule must set aws_account and/or aws_arn (or aws_organization_id)');
  }
  return rule;
}

/** A field accepted for Teleport compatibility with one fixed value (sub_kind "", namespace "default"). */
function parseFixed(raw: Obj, name: string, field: TokenField, c: Collector, prefix = ''): string | undefined {
  const value = raw[name];
  if (value === undefined || value === null) return undefined;
  if (value !== field.fixed) {
    c.add(`${prefix}${name}`, `must be ${JSON.stringify(field.fixed)} when set (got ${shown(value)})`);
    return undefined;
  }
  return value === '' ? undefined : (value as string);
}

/** Teleport's Labels: a map from a label key to a value or a list of values. */
function parseSuggestedLabels(raw: unknown, path: string, c: Collector): SuggestedLabels | undefined {
  if (isUnset(raw)) return undefined;
  if (!isObject(raw)) {
    c.add(path, 'must be a map from label keys to a value or a list of values');
    return undefined;
  }
  const entries = Object.entries(raw);
  if (entries.length > MAX_LABELS) {
    c.add(path, `must have at most ${MAX_LABELS} labels (got ${entries.length})`);
    return undefined;
  }
  const out = new Map<string, string | string[]>();
  for (const [k, v] of entries) {
    const at = `${path}[${JSON.stringify(pathKey(k))}]`;
    if (!c.add(at, checkLabelKey(k))) continue;
    const values = Array.isArray(v) ? v : [v];
    if (values.length > MAX_LABELS) {
      c.add(at, `must list at most ${MAX_LABELS} values`);
      continue;
    }
    const problem = values.map((x) => (typeof x !== 'string' ? 'values must be strings' : CONTROL_CHARS.test(x) ? 'values must not contain control characters' : checkVisible(x))).find(Boolean);
    if (c.add(at, problem)) out.set(k, Array.isArray(v) ? [...(v as string[])] : (v as string));
  }
  return Object.fromEntries([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Whether the token's expiry has passed at `now`. An expiry that cannot be read (a row written
 * before times were checked strictly, or edited by hand) counts as passed: fail closed.
 */
export function isExpired(token: ProvisionToken, now: Date = new Date()): boolean {
  const expires = token.metadata.expires;
  if (expires === undefined || expires === null) return false;
  const ms = rfc3339Ms(expires);
  return ms === undefined || !(ms > now.getTime());
}

/** The token's aws_iid_ttl in milliseconds (the default when unset). */
export function iidTtlMs(token: ProvisionToken): number {
  return parseGoDuration(token.spec.aws_iid_ttl ?? DEFAULT_AWS_IID_TTL)!;
}

/**
 * Whether the token's name is its secret: for the `token` method the name is what a host
 * presents to join, so it is never shown whole; for `ec2` and `iam` the proof is elsewhere and
 * the name is a plain label. The one place that decides it.
 */
export function nameIsSecret(token: { spec: { join_method: string } }): boolean {
  return token.spec.join_method === 'token';
}

/**
 * A token name as audit events, logs and answers may show it: whole only once a stored token
 * says its name is no secret; masked while unknown (a secret may have reached the wrong
 * endpoint, or be a near miss of one).
 */
export function shownTokenName(name: string, token?: { spec: { join_method: string } }): string {
  return token && !nameIsSecret(token) ? name : maskTokenName(name);
}

/**
 * Masking of a secret token name, as Teleport masks them: a name shorter than 16 characters is
 * all `*`; a longer one keeps only its last quarter visible.
 */
export function maskTokenName(name: string): string {
  if (name.length < 16) return '*'.repeat(name.length);
  const keep = Math.floor(name.length / 4);
  return '*'.repeat(name.length - keep) + name.slice(name.length - keep);
}
