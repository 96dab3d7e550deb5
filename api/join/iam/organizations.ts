// At join time, the AWS Organizations conditions of IAM allow rules: which organization the
// caller's account belongs to and, for OU rules, every OU above it up to the root. The server
// asks AWS with its own credentials (organizations:DescribeAccount, then ListParents when
// DescribeAccount carries no Paths), keeps answers for a bounded time in a bounded cache, and
// never caches a failure. The validation rules and the field facts are in organizations-rules.ts.

import { AwsOrganizationsClient, OrganizationsApiError, type OrganizationsApi } from '../../aws/organizations-client';
import type { AwsAllowRule } from '../../../schema/token';
import { JoinError } from '../errors';
import { iamRuleMatches, matchIamRules, arnGlobMatch } from './arn-glob';
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

let defaultLookup: OrganizationsLookup | undefined;

/** The server's lookup, configured from JOINERY_AWS_ORGANIZATIONS_CACHE_TTL_SECONDS / _CACHE_MAX_ENTRIES. */
export function defaultOrganizationsLookup(env: NodeJS.ProcessEnv = process.env): OrganizationsLookup {
  if (!defaultLookup) {
    const ttl = Number(env.JOINERY_AWS_ORGANIZATIONS_CACHE_TTL_SECONDS);
    const max = Number(env.JOINERY_AWS_ORGANIZATIONS_CACHE_MAX_ENTRIES);
    defaultLookup = new OrganizationsLookup({
      ttlMs: Number.isFinite(ttl) && ttl >= 0 && env.JOINERY_AWS_ORGANIZATIONS_CACHE_TTL_SECONDS !== '' ? ttl * 1000 : undefined,
      maxEntries: Number.isInteger(max) && max > 0 ? max : undefined,
    });
  }
  return defaultLookup;
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
    return new JoinError('aws_organizations_throttled', `AWS throttled organizations:DescribeAccount / ListParents for account ${account}; retry the join shortly`, 429, { retryAfterSeconds: 5 });
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

/**
 * The organization conditions of one rule, for a caller whose aws_account / aws_arn conditions
 * already hold. Resolves when they hold too; throws a JoinError (aws_organization_not_allowed,
 * aws_organizations_unavailable, aws_organizations_throttled) when not.
 */
export async function matchOrganizationConditions(rule: AwsOrganizationRuleFields, identity: CallerIdentity, deps: OrganizationDeps): Promise<void> {
  if (!hasOrganizationConditions(rule)) return;
  const wanted = rule.aws_organization_id;
  const ous = rule.aws_organizational_units;
  let org: AccountOrganization;
  try {
    org = await deps.lookup.account(partitionOf(identity.arn), identity.account, hasOuMatchers(ous));
  } catch (err) {
    throw organizationsUnavailable(err, identity.account);
  }
  const token = forToken(deps);
  if (!org.member) {
    throw iamRefusal(
      'aws_organization_not_allowed',
      `AWS account ${identity.account} is not in the organization the server's AWS credentials can see; ${token} allows organization ${wanted ?? '(none set)'} (the server must use credentials of that organization's management account or a delegated administrator)`,
    );
  }
  if (wanted !== undefined && org.organizationId !== wanted) {
    throw iamRefusal('aws_organization_not_allowed', `AWS account ${identity.account} belongs to organization ${org.organizationId}, but ${token} allows only organization ${wanted}`);
  }
  if (!hasOuMatchers(ous)) return;
  const ancestry = org.ancestry ?? [];
  const excludedBy = ancestry.find((id) => (ous!.exclude ?? []).includes(id));
  if (excludedBy) {
    throw iamRefusal('aws_organization_not_allowed', `AWS account ${identity.account} is under ${excludedBy} in organization ${org.organizationId}, which ${token} excludes`);
  }
  if (!ouAncestryMatches(ous, ancestry)) {
    const where = ancestry.length > 0 ? `under ${[...ancestry].reverse().join(' / ')}` : 'under no organizational unit AWS reported';
    throw iamRefusal(
      'aws_organization_not_allowed',
      `AWS account ${identity.account} (${where} in organization ${org.organizationId}) is in none of the organizational units ${token} includes: ${(ous!.include ?? []).join(', ')}`,
    );
  }
}

function accountAndArnHold(rule: IamAllowRule, id: CallerIdentity): boolean {
  if (rule.aws_account === undefined && rule.aws_arn === undefined) return hasOrganizationConditions(rule);
  if (rule.aws_account !== undefined && rule.aws_account !== id.account) return false;
  if (rule.aws_arn !== undefined && !arnGlobMatch(rule.aws_arn, id.arn)) return false;
  return true;
}

const REFUSAL_RANK: Record<string, number> = { aws_organizations_throttled: 3, aws_organizations_unavailable: 2, aws_organization_not_allowed: 1 };

/**
 * Step 5 of the IAM join: the first allow rule whose every condition holds admits the caller.
 * Rules without organization fields behave exactly as before (matchIamRules, same refusals). A
 * rule with organization fields that fails lets the next rule try, as in Teleport; when none
 * admits, the refusal of an organization rule is given (a failed lookup first, since it might
 * have admitted), else the account / ARN refusal of before.
 */
export async function admitByIamRules(rules: IamAllowRule[], identity: CallerIdentity, deps: Partial<OrganizationDeps> = {}): Promise<IamAllowRule> {
  const token = forToken(deps);
  if (!rules.some(hasOrganizationConditions)) {
    const match = matchIamRules(rules, identity);
    if (match.ok) return match.rule;
    if (match.reason === 'account') throw iamRefusal('iam_account_not_allowed', `AWS account ${identity.account} is not allowed by ${token}`);
    throw iamRefusal('iam_arn_not_allowed', `caller ${identity.arn} does not match any aws_arn allowed by ${token}`);
  }
  const shared = deps.lookup ?? defaultOrganizationsLookup();
  // One answer (or one failure) per join, however many rules ask.
  const asked = new Map<boolean, Promise<AccountOrganization>>();
  const lookup: AccountOrganizationSource = {
    account(partition, accountId, withAncestry) {
      let p = asked.get(withAncestry);
      if (!p) asked.set(withAncestry, (p = shared.account(partition, accountId, withAncestry)));
      return p;
    },
  };
  let refusal: JoinError | undefined;
  for (const rule of rules) {
    if (!hasOrganizationConditions(rule)) {
      if (iamRuleMatches(rule, identity)) return rule;
      continue;
    }
    if (!accountAndArnHold(rule, identity)) continue;
    try {
      await matchOrganizationConditions(rule, identity, { ...deps, lookup });
      return rule;
    } catch (err) {
      if (!(err instanceof JoinError)) throw err;
      if (!refusal || (REFUSAL_RANK[err.code] ?? 0) > (REFUSAL_RANK[refusal.code] ?? 0)) refusal = err;
    }
  }
  if (refusal) throw refusal;
  const match = matchIamRules(rules, identity);
  if (!match.ok && match.reason === 'arn') throw iamRefusal('iam_arn_not_allowed', `caller ${identity.arn} does not match any aws_arn allowed by ${token}`);
  throw iamRefusal('iam_account_not_allowed', `AWS account ${identity.account} is not allowed by ${token}`);
}
