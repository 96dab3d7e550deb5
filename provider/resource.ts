// teleport_provision_token: plan, apply, refresh and import against the Joinery API.

import { ApiError, type JoineryClient, type TokenResource } from '../client/api-client';
import { rfc3339Ms } from '../schema/time';
import { DEFAULT_AWS_IID_TTL, maskTokenName } from '../schema/token';
import { isUnknown, UNKNOWN, type CtyObject, type CtyValue } from './cty';
import { apiDiagnostic, error, warning, type Diagnostic, type PathStep } from './diagnostics';
import { asObj, dataValueFromToken, fillUnknowns, inferredJoinMethod, resourceId, sameToken, tokenFromValue, valueFromToken } from './token-state';

export interface PlanResult {
  planned: CtyValue;
  requiresReplace: PathStep[][];
  diagnostics: Diagnostic[];
}

/**
 * The token's resource identity (Terraform 1.12+): its name, which is unique in Joinery and never
 * changes (a new name replaces the token). Null while the name is not known (a name the server
 * generates at create), as Terraform allows for a create.
 */
export function tokenIdentity(value: CtyValue | undefined): CtyObject | null {
  const name = asObj(asObj(value)?.metadata)?.name;
  return typeof name === 'string' && name !== '' ? { name } : null;
}

/**
 * The planned value: configuration values exactly as written, computed values Terraform cannot
 * know yet marked unknown, and server defaults the plan can predict filled in (join_method,
 * aws_iid_ttl), so that the state after apply matches and the next plan is empty.
 */
export function planToken(prior: CtyObject | null, proposed: CtyObject | null, config: CtyObject | null, now: Date = new Date()): PlanResult {
  if (!proposed || !config) return { planned: null, requiresReplace: [], diagnostics: [] };
  const planned: CtyObject = structuredCloneValue(proposed);
  planned.kind = 'token';

  const cfgMd = config.metadata;
  const priorMd = asObj(prior?.metadata);
  const nameLeftOut = cfgMd === null || (!isUnknown(cfgMd) && (asObj(cfgMd)!.name === null || asObj(cfgMd)!.name === ''));
  if (isUnknown(cfgMd)) planned.metadata = UNKNOWN;
  else if (cfgMd === null) planned.metadata = priorMd ? structuredCloneValue(priorMd) : UNKNOWN;
  else {
    const md = asObj(planned.metadata)!;
    const cfgName = asObj(cfgMd)!.name;
    // An empty name means "generate one"; on update the prior (generated) name stays.
    if (cfgName === null || cfgName === '') md.name = priorMd ? priorMd.name : UNKNOWN;
  }

  const spec = asObj(planned.spec);
  const cfgSpec = asObj(config.spec);
  if (spec && cfgSpec) {
    if (cfgSpec.join_method === null || cfgSpec.join_method === '') spec.join_method = inferredJoinMethod(cfgSpec.allow);
    if (cfgSpec.aws_iid_ttl === null || cfgSpec.aws_iid_ttl === '') {
      spec.aws_iid_ttl = isUnknown(spec.join_method) ? UNKNOWN : spec.join_method === 'ec2' ? DEFAULT_AWS_IID_TTL : null;
    }
  }

  const name = asObj(planned.metadata)?.name;
  const method = asObj(planned.spec)?.join_method;
  planned.id = typeof name === 'string' && typeof method === 'string' ? resourceId(name, method) : UNKNOWN;
  const requiresReplace: PathStep[][] = [];
  if (prior && name !== asObj(prior.metadata)?.name) requiresReplace.push(['metadata', 'name']);
  const diagnostics = prior ? [] : missingNameDiagnostics(nameLeftOut, method);
  return { planned, requiresReplace, diagnostics: [...diagnostics, ...expiryDiagnostics(planned, !prior || requiresReplace.length > 0, now)] };
}

/** Creating a token without a name: only the server can name a token-method token. */
function missingNameDiagnostics(nameLeftOut: boolean, method: CtyValue | undefined): Diagnostic[] {
  if (!nameLeftOut || typeof method !== 'string' || method === 'token') return [];
  return [error('Invalid token', `metadata.name: is required for join_method ${method} (only token-method names are generated)`, ['metadata', 'name'])];
}

/**
 * What the plan says about a metadata.expires that has passed. Creating such a token is refused
 * (it could never be used to join, and the date is almost always a stale copy); a token that
 * exists and has expired plans as usual, with a warning saying what to do, so an expiry that
 * passes never breaks a plan or forces a diff.
 */
export function expiryDiagnostics(planned: CtyObject, creating: boolean, now: Date): Diagnostic[] {
  const expires = asObj(planned.metadata)?.expires;
  const at = rfc3339Ms(expires);
  if (typeof expires !== 'string' || at === undefined || at > now.getTime()) return []; // unset, unknown, invalid (validation reports it) or ahead
  const path = ['metadata', 'expires'];
  if (creating) {
    return [
      error(
        'Token would be created expired',
        `metadata.expires (${expires}) has already passed, so no host could ever join with this token. Set metadata.expires to a future time, or leave it out for a token that does not expire.`,
        path,
      ),
    ];
  }
  return [
    warning(
      'Token has expired',
      `Token ${shownName(planned)} expired at ${expires}: hosts can no longer join with it. To use it again, set metadata.expires to a later time (an in-place update); if it is no longer needed, remove the resource so that the next apply deletes it.`,
      path,
    ),
  ];
}

function structuredCloneValue<T extends CtyValue>(v: T): T {
  if (Array.isArray(v)) return v.map(structuredCloneValue) as T;
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, structuredCloneValue(e)])) as T;
  return v;
}

/** The name to mask in diagnostics: a token-method (or not yet known) token's name is a secret. */
function secretName(value: CtyObject | null, name: string | undefined): string | undefined {
  const method = asObj(value?.spec)?.join_method;
  return method === 'ec2' || method === 'iam' ? undefined : name;
}

/** The name as diagnostics may show it: a token-method name is a secret and is masked. */
function shownName(value: CtyObject | null, name = tokenName(value) ?? ''): string {
  return asObj(value?.spec)?.join_method === 'ec2' || asObj(value?.spec)?.join_method === 'iam' ? JSON.stringify(name) : `${JSON.stringify(maskTokenName(name))} (masked)`;
}

function tokenName(value: CtyObject | null): string | undefined {
  const name = asObj(value?.metadata)?.name ?? value?.id;
  return typeof name === 'string' && name !== '' ? name : undefined;
}

export interface ApplyResult {
  newState: CtyValue;
  diagnostics: Diagnostic[];
  /** The server's revision of the token, kept in the resource's private state for conflict detection. */
  revision?: string;
}

/**
 * Create, update or delete. An update sends the revision Terraform last saw, so a change made
 * outside Terraform after the refresh is reported instead of silently overwritten.
 */
export async function applyToken(client: JoineryClient, prior: CtyObject | null, planned: CtyObject | null, revision?: string): Promise<ApplyResult> {
  if (!planned) {
    const name = tokenName(prior);
    if (!name) return { newState: null, diagnostics: [] };
    try {
      await client.deleteToken(name); // already gone counts as deleted
      return { newState: null, diagnostics: [] };
    } catch (e) {
      return { newState: prior, diagnostics: [apiDiagnostic(e, `deleting token ${shownName(prior, name)}`, secretName(prior, name))] };
    }
  }

  const input = tokenFromValue(planned);
  let saved: TokenResource;
  try {
    if (!prior) {
      saved = await client.createToken(input);
    } else {
      const name = tokenName(prior)!;
      saved = await client.putToken({ ...input, metadata: { ...input.metadata, name, ...(revision ? { revision } : {}) } } as never);
    }
  } catch (e) {
    if (prior && e instanceof ApiError && e.status === 409 && e.code === 'revision_conflict') {
      return {
        newState: prior,
        revision,
        diagnostics: [
          error(
            'Token changed outside Terraform',
            `Token ${shownName(prior)} was changed in Joinery after Terraform last read it, so this update would overwrite that change. Run terraform plan (or apply) again to see the current token and plan against it.`,
          ),
        ],
      };
    }
    if (!prior && e instanceof ApiError && e.status === 409) {
      const name = input.metadata?.name ?? '';
      const secret = input.spec?.join_method !== 'ec2' && input.spec?.join_method !== 'iam';
      const arg = secret ? '<token name>' : name;
      return {
        newState: null,
        diagnostics: [
          error(
            'Token already exists',
            `A token named ${shownName(planned, name)} already exists in Joinery. To manage it with Terraform, import it instead of creating it:\n\n  terraform import <resource address> ${arg}\n\n(or add an import block with id = ${secret ? '"<token name>"' : JSON.stringify(name)}).`,
            ['metadata', 'name'],
          ),
        ],
      };
    }
    return { newState: prior, diagnostics: [apiDiagnostic(e, prior ? 'updating the token' : 'creating the token', secretName(planned, tokenName(prior) ?? input.metadata?.name))] };
  }
  // Known planned values are kept exactly (Terraform requires it); unknowns come from the server.
  return { newState: fillUnknowns(planned, valueFromToken(saved, planned)), diagnostics: [], revision: saved.metadata.revision };
}

/** Refresh: null when the token was deleted outside Terraform, the server's view when it changed. */
export async function readToken(client: JoineryClient, prior: CtyObject): Promise<ApplyResult> {
  const name = tokenName(prior);
  if (!name) return { newState: null, diagnostics: [] };
  try {
    const current = await client.getToken(name);
    if (!current) return { newState: null, diagnostics: [] };
    const revision = current.metadata.revision;
    if (sameToken(tokenFromValue(prior), current)) return { newState: prior, diagnostics: [], revision };
    return { newState: valueFromToken(current, prior), diagnostics: [], revision };
  } catch (e) {
    return { newState: prior, diagnostics: [apiDiagnostic(e, `reading token ${shownName(prior, name)}`, secretName(prior, name))] };
  }
}

/**
 * The name of the token to import: the import ID (`terraform import ADDR NAME`, or an import block
 * with `id`), or on Terraform 1.12+ the name in an import block's `identity = { name = ... }`.
 */
export function importName(id: string, identity: CtyObject | null): string | Diagnostic {
  if (id !== '') return id;
  const name = identity?.name;
  if (typeof name === 'string' && name !== '') return name;
  return error('Missing token name', 'Import takes the token name: as the import ID, or in an import block as identity = { name = "<token name>" }.');
}

export async function importToken(client: JoineryClient, id: string): Promise<ApplyResult> {
  try {
    const current = await client.getToken(id);
    if (!current) {
      return { newState: null, diagnostics: [error('Cannot import non-existent remote object', `There is no token named ${JSON.stringify(maskTokenName(id))} (masked) in Joinery. Import takes the token name.`)] };
    }
    return { newState: valueFromToken(current, null), diagnostics: [], revision: current.metadata.revision };
  } catch (e) {
    return { newState: null, diagnostics: [apiDiagnostic(e, `importing token ${JSON.stringify(maskTokenName(id))} (masked)`, id)] };
  }
}

export async function readTokenDataSource(client: JoineryClient, config: CtyObject): Promise<ApplyResult> {
  const name = asObj(config.metadata)?.name;
  if (typeof name !== 'string' || name === '') {
    return { newState: null, diagnostics: [error('Missing token name', 'Set metadata.name to the name of the token to read.', ['metadata', 'name'])] };
  }
  try {
    const current = await client.getToken(name);
    if (!current) return { newState: null, diagnostics: [error('Token not found', `There is no token named ${JSON.stringify(maskTokenName(name))} (masked) in Joinery.`, ['metadata', 'name'])] };
    return { newState: dataValueFromToken(current), diagnostics: [] };
  } catch (e) {
    return { newState: null, diagnostics: [apiDiagnostic(e, `reading token ${JSON.stringify(maskTokenName(name))} (masked)`, name)] };
  }
}
