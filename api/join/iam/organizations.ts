// At join time, the AWS Organizations conditions of IAM allow rules: which organization the
// caller's account belongs to and, for OU rules, every OU above it up to the root. The server
// asks AWS with its own credentials (organizations:DescribeAccount, then ListParents when
// DescribeAccount carries no Paths), keeps answers for a bounded time in a bounded cache, and
// never caches a failure. The validation rules and the field facts are in organizations-rules.ts.

import { AwsOrganizationsClient, OrganizationsApiError, type OrganizationsApi } from '../../aws/organizations-client';
import type { AwsAllowRule } from '../../../schema/token';
import { JoinError } from '../errors';
import { refuse } from '../refusals';
import { matchIamRules, arnGlobMatch } from './arn-glob';
import type { Check, RuleResult } from '../method';
import { ruleMismatch } from '../pipeline';
import { hasOrganizationConditions, hasOuMatchers, ouAncestryMatches, type AwsOrganizationRuleFields } from '../../../schema/aws-organizations';
import { iamRefusal } from './refusals';
import type { CallerIdentity } from './sts-response';

export type IamAllowRule = AwsAllowRule & AwsOrganizationRuleFields;

/** What AWS Organizations says about one account. */
export type AccountOrganization =
  | { member: true; organizationId: string; managementAccount: string; ancestry?: string[] }
  /** DescribeAccount does not find it: not in the organization the server's credentials see. */
  | { member: false };

export const DEFAULT_CACHE_TTL_MS = 5 * 60_000;
export const DEFAULT_CACHE_MAX_ENTRIES = 10_000;
/** AWS allows five levels of OUs under a root; anything deeper than this is a loop or a bug. */
const MAX_ANCESTRY_DEPTH = 10;

const THROTTLING = new Set(['TooManyRequestsException', 'ThrottlingException', 'Throttling', 'RequestLimitExceeded']);
const DENIED = new Set(['AccessDeniedException', 'AccessDenied', 'UnrecognizedClientException', 'InvalidClientTokenId', 'ExpiredTokenException', 'SignatureDoesNotMatch', 'InvalidSignatureException']);

export interface OrganizationsLookupOptions {
  api?: OrganizationsApi;
  ttlMs?: number;
  maxEntries?: number;
  now?: () => number;
}

interface CacheEntry {
  value: AccountOrganization;
  expiresAt: number;
}

/**
 * Account -> organization answers, cached per (partition, account) for `ttlMs` with at most
 * `maxEntries` entries (least recently used evicted first). Concurrent joins of one account share
 * one pending call; a failed call is forgotten at once so the next join asks again.
 */
export class OrganizationsLookup {
  readonly api: OrganizationsApi;
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly pending = new Map<string, Promise<AccountOrganization>>();

  constructor(opts: OrganizationsLookupOptions = {}) {
    this.api = opts.api ?? new AwsOrganizationsClient();
    this.ttlMs = opts.ttlMs ?? DEFAULT_CACHE_TTL_MS;
    this.maxEntries = Math.max(1, opts.maxEntries ?? DEFAULT_CACHE_MAX_ENTRIES);
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.cache.size;
  }

  /** The account's organization, with its ancestry when `withAncestry` (fetched once, then cached). */
  async account(partition: string, accountId: string, withAncestry: boolean): Promise<AccountOrganization> {
    const key = `${partition}|${accountId}|${withAncestry ? 'ou' : 'org'}`;
    const hit = this.fromCache(`${partition}|${accountId}|ou`) ?? (withAncestry ? undefined : this.fromCache(key));
    if (hit) return hit;
    let p = this.pending.get(key);
    if (!p) {
      p = this.fetch(partition, accountId, withAncestry);
      this.pending.set(key, p);
      p.then(
        (value) => this.store(key, value),
        () => undefined,
      ).finally(() => this.pending.delete(key));
    }
    return p;
  }

  private fromCache(key: string): AccountOrganization | undefined {
    const entry = this.cache.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.cache.delete(key);
      return undefined;
    }
    // Re-insert so that Map order is least recently used first.
    this.cache.delete(key);
    this.cache.set(key, entry);
    return entry.value;
  }

  private store(key: string, value: AccountOrganization): void {
    this.cache.delete(key);
    this.cache.set(key, { value, expiresAt: this.now() + this.ttlMs });
    while (this.cache.size > this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
  }

  private async fetch(partition: string, accountId: string, withAncestry: boolean): Promise<AccountOrganization> {
    let described;
    try {
      described = await this.api.describeAccount(partition, accountId);
    } catch (err) {
      if ((err as OrganizationsApiError)?.code === 'AccountNotFoundException') return { member: false };
      throw err;
    }
    const parsed = parseAccountArn(described.arn);
    if (!parsed || parsed.accountId !== accountId) {
      throw new OrganizationsApiError('InvalidResponse', `DescribeAccount for ${accountId} answered with an unexpected ARN ${JSON.stringify(described.arn.slice(0, 200))}`);
    }
    const result: AccountOrganization = { member: true, organizationId: parsed.organizationId, managementAccount: parsed.managementAccount };
    if (!withAncestry) return result;
    result.ancestry = described.paths ? ancestryFromPaths(described.paths) : await this.ancestryFromParents(partition, accountId);
    return result;
  }

  private async ancestryFromParents(partition: string, accountId: string): Promise<string[]> {
    const ancestry: string[] = [];
    let child = accountId;
    for (let depth = 0; depth < MAX_ANCESTRY_DEPTH; depth++) {
      const parents = await this.api.listParents(partition, child);
      if (parents.length !== 1) throw new OrganizationsApiError('InvalidResponse', `ListParents for ${child} answered ${parents.length} parents (expected one)`);
      const parent = parents[0];
      if (ancestry.includes(parent.id)) throw new OrganizationsApiError('InvalidResponse', `ListParents loops at ${parent.id}`);
      ancestry.push(parent.id);
      if (parent.type === 'ROOT') return ancestry;
      child = parent.id;
    }
    throw new OrganizationsApiError('InvalidResponse', `account ${accountId} is more than ${MAX_ANCESTRY_DEPTH} levels below its root`);
  }
}

/** arn:<partition>:organizations::<management>:account/<o-id>/<account> */
export function parseAccountArn(arn: string): { managementAccount: string; organizationId: string; accountId: string } | undefined {
  const m = /^arn:[a-z-]+:organizations::(\d{12}):account\/(o-[a-z0-9]{10,32})\/(\d{12})$/.exec(arn);
  return m ? { managementAccount: m[1], organizationId: m[2], accountId: m[3] } : undefined;
}

/** The root and OU IDs of DescribeAccount paths (`o-id/r-id/ou-.../account-id/`). */
export function ancestryFromPaths(paths: string[]): string[] {
  const ids = new Set<string>();
  for (const path of paths) {
    const parts = path.split('/').filter((p) => p !== '');
    // Organization first, account last: what lies between is the root and the OUs.
    for (const id of parts.slice(1, -1)) ids.add(id);
  }
  return [...ids];
}

/** Where matching gets account answers from (OrganizationsLookup; a stand-in in tests). */
export interface AccountOrganizationSource {
  account(partition: string, accountId: string, withAncestry: boolean): Promise<AccountOrganization>;
}

export interface OrganizationDeps {
  lookup: AccountOrganizationSource;
  /** Names the token in messages (IAM token names are not secrets). */
  tokenName?: string;
}

function partitionOf(arn: string): string {
  return arn.split(':')[1] || 'aws';
}

function forToken(deps: Partial<OrganizationDeps>): string {
  return deps.tokenName === undefined ? 'the token' : `token ${JSON.stringify(deps.tokenName)}`;
}

/** Maps a failed AWS call to a refusal an operator can act on. Exported for tests. */
export function organizationsUnavailable(err: unknown, account: string): JoinError {
  const code = (err as OrganizationsApiError)?.code ?? (err as Error)?.name ?? 'Error';
  const text = String((err as Error)?.message ?? err).replace(/\s+/g, ' ').slice(0, 300);
  const what = `the server could not look up AWS account ${account} in AWS Organizations (${code}: ${text})`;
  if (THROTTLING.has(code)) {
    return refuse('aws_organizations_throttled', `AWS throttled organizations:DescribeAccount / ListParents for account ${account}; retry the join shortly`, { retryAfterSeconds: 5 });
  }
  if (code === 'CredentialsProviderError') {
    return iamRefusal('aws_organizations_unavailable', `${what}; give the server AWS credentials (environment, shared config or instance role) of the organization's management account or a delegated administrator`);
  }
  if (DENIED.has(code)) {
    return iamRefusal('aws_organizations_unavailable', `${what}; allow organizations:DescribeAccount and organizations:ListParents to the server's credentials`);
  }
  if (code === 'AWSOrganizationsNotInUseException') {
    return iamRefusal('aws_organizations_unavailable', `${what}; the server's credentials belong to an account that is in no organization: use credentials of the organization's management account or a delegated administrator`);
  }
  return iamRefusal('aws_organizations_unavailable', what);
}

/** What the server learned about the caller's account in AWS Organizations, or why it could not. */
export type OrganizationFacts = AccountOrganization | { error: JoinError };

/**
 * The organization conditions of one rule against what AWS Organizations said (pure). Each check
 * carries the operator's sentence; the first failing one is the rule's refusal.
 */
export function organizationChecks(rule: AwsOrganizationRuleFields, identity: CallerIdentity, org: OrganizationFacts | undefined, tokenName?: string): Check[] {
  if (!hasOrganizationConditions(rule)) return [];
  const wanted = rule.aws_organization_id;
  const ous = rule.aws_organizational_units;
  const token = forToken({ tokenName });
  const orgCheck = (ok: boolean, value: string | undefined, detail: string): Check => ({ check: 'aws_organization_id', ok, value, wanted, detail });
  if (org === undefined) return [orgCheck(false, undefined, `the organization of account ${identity.account} was not looked up (a dry run without check_aws)`)];
  if ('error' in org) return [orgCheck(false, undefined, org.error.message)];
  if (!org.member) {
    return [orgCheck(false, undefined, `AWS account ${identity.account} is not in the organization the server's AWS credentials can see; ${token} allows organization ${wanted ?? '(none set)'} (the server must use credentials of that organization's management account or a delegated administrator)`)];
  }
  const checks: Check[] = [];
  if (wanted !== undefined) {
    const ok = org.organizationId === wanted;
    checks.push(orgCheck(ok, org.organizationId, ok ? `AWS account ${identity.account} belongs to organization ${wanted}` : `AWS account ${identity.account} belongs to organization ${org.organizationId}, but ${token} allows only organization ${wanted}`));
  }
  if (!hasOuMatchers(ous)) return checks;
  const ancestry = org.ancestry ?? [];
  const path = [...ancestry].reverse().join(' / ');
  const ouWanted = `include [${(ous!.include ?? []).join(', ')}] exclude [${(ous!.exclude ?? []).join(', ')}]`;
  const ouCheck = (ok: boolean, detail: string): Check => ({ check: 'aws_organizational_units', ok, value: path || '(no OU)', wanted: ouWanted, detail });
  const excludedBy = ancestry.find((id) => (ous!.exclude ?? []).includes(id));
  if (excludedBy) {
    checks.push(ouCheck(false, `AWS account ${identity.account} is under ${excludedBy} in organization ${org.organizationId}, which ${token} excludes`));
  } else if (!ouAncestryMatches(ous, ancestry)) {
    const where = ancestry.length > 0 ? `under ${path}` : 'under no organizational unit AWS reported';
    checks.push(ouCheck(false, `AWS account ${identity.account} (${where} in organization ${org.organizationId}) is in none of the organizational units ${token} includes: ${(ous!.include ?? []).join(', ')}`));
  } else {
    checks.push(ouCheck(true, `AWS account ${identity.account} (under ${path}) is in an included organizational unit`));
  }
  return checks;
}

/** Asks AWS Organizations about the caller's account; a failure becomes the refusal it maps to. */
async function lookupOrganization(lookup: AccountOrganizationSource, identity: CallerIdentity, withAncestry: boolean): Promise<OrganizationFacts> {
  try {
    return await lookup.account(partitionOf(identity.arn), identity.account, withAncestry);
  } catch (err) {
    return { error: organizationsUnavailable(err, identity.account) };
  }
}

/**
 * The organization conditions of one rule, for a caller whose aws_account / aws_arn conditions
 * already hold. Resolves when they hold too; throws a JoinError (aws_organization_not_allowed,
 * aws_organizations_unavailable, aws_organizations_throttled) when not.
 */
export async function matchOrganizationConditions(rule: AwsOrganizationRuleFields, identity: CallerIdentity, deps: OrganizationDeps): Promise<void> {
  if (!hasOrganizationConditions(rule)) return;
  const org = await lookupOrganization(deps.lookup, identity, hasOuMatchers(rule.aws_organizational_units));
  if ('error' in org) throw org.error;
  const failed = organizationChecks(rule, identity, org, deps.tokenName).find((c) => !c.ok);
  if (failed) throw iamRefusal('aws_organization_not_allowed', failed.detail);
}

function accountAndArnHold(rule: IamAllowRule, id: CallerIdentity): boolean {
  if (rule.aws_account === undefined && rule.aws_arn === undefined) return hasOrganizationConditions(rule);
  if (rule.aws_account !== undefined && rule.aws_account !== id.account) return false;
  if (rule.aws_arn !== undefined && !arnGlobMatch(rule.aws_arn, id.arn)) return false;
  return true;
}

/**
 * The one Organizations lookup a join needs, if any: only when a rule with organization
 * conditions has its account and ARN conditions met (with the OU ancestry when such a rule has
 * OU conditions). Its only effect is the AWS call.
 */
export async function organizationFactsFor(rules: IamAllowRule[], identity: CallerIdentity, lookup: AccountOrganizationSource): Promise<OrganizationFacts | undefined> {
  const asking = rules.filter((r) => hasOrganizationConditions(r) && accountAndArnHold(r, identity));
  if (asking.length === 0) return undefined;
  return lookupOrganization(lookup, identity, asking.some((r) => hasOuMatchers(r.aws_organizational_units)));
}

/** One rule's account and ARN conditions as checks (pure). */
function accountArnChecks(rule: IamAllowRule, id: CallerIdentity): Check[] {
  const checks: Check[] = [];
  if (rule.aws_account !== undefined) {
    const ok = rule.aws_account === id.account;
    checks.push({ check: 'aws_account', ok, value: id.account, wanted: rule.aws_account, detail: ok ? `aws_account ${rule.aws_account} matches` : `aws_account ${rule.aws_account} is not ${id.account}` });
  }
  if (rule.aws_arn !== undefined) {
    const ok = arnGlobMatch(rule.aws_arn, id.arn);
    checks.push({ check: 'aws_arn', ok, value: id.arn, wanted: rule.aws_arn, detail: ok ? `aws_arn ${rule.aws_arn} matches ${id.arn}` : `aws_arn ${rule.aws_arn} does not match ${id.arn}` });
  }
  return checks;
}

const REFUSAL_RANK: Record<string, number> = { aws_organizations_throttled: 3, aws_organizations_unavailable: 2, aws_organization_not_allowed: 1 };

/**
 * Every allow rule against the caller and what Organizations said (pure). The first rule whose
 * every condition holds admits, as in Teleport. When none does and an organization rule was in
 * reach, its refusal is given (a failed lookup first: that rule might have admitted), else the
 * account / ARN refusal.
 */
export function evaluateIamRules(rules: IamAllowRule[], identity: CallerIdentity, org: OrganizationFacts | undefined, tokenName?: string): { rules: RuleResult[]; admittedBy?: number; refusal?: JoinError } {
  const results: RuleResult[] = rules.map((rule, index) => {
    const checks = accountArnChecks(rule, identity);
    // Organization conditions are checked only for a rule whose account and ARN hold (no lookup otherwise).
    if (hasOrganizationConditions(rule) && accountAndArnHold(rule, identity)) checks.push(...organizationChecks(rule, identity, org, tokenName));
    return { index, matched: checks.length > 0 && checks.every((c) => c.ok), checks };
  });
  const admitting = results.find((r) => r.matched);
  if (admitting) return { rules: results, admittedBy: admitting.index };
  const who = `caller ${identity.arn} (account ${identity.account})`;
  let refusal: JoinError | undefined;
  for (const [i, rule] of rules.entries()) {
    if (!hasOrganizationConditions(rule) || !accountAndArnHold(rule, identity)) continue;
    const failed = results[i].checks.find((c) => !c.ok);
    if (!failed) continue;
    const candidate = org && 'error' in org ? org.error : iamRefusal('aws_organization_not_allowed', '');
    if (!refusal || (REFUSAL_RANK[candidate.code] ?? 0) > (REFUSAL_RANK[refusal.code] ?? 0)) refusal = candidate;
  }
  if (refusal && refusal.code !== 'aws_organization_not_allowed') return { rules: results, refusal };
  const match = matchIamRules(rules, identity);
  const code = refusal ? 'aws_organization_not_allowed' : !match.ok && match.reason === 'arn' ? 'iam_arn_not_allowed' : 'iam_account_not_allowed';
  return { rules: results, refusal: ruleMismatch(code, forToken({ tokenName }), results, who) };
}

/**
 * Step 5 of the IAM join as one call: the lookup (if a rule needs it), then the pure evaluation.
 * Resolves to the admitting rule or throws the refusal.
 */
export async function admitByIamRules(rules: IamAllowRule[], identity: CallerIdentity, deps: OrganizationDeps): Promise<IamAllowRule> {
  const org = await organizationFactsFor(rules, identity, deps.lookup);
  const { admittedBy, refusal } = evaluateIamRules(rules, identity, org, deps.tokenName);
  if (admittedBy === undefined) throw refusal!;
  return rules[admittedBy];
}
