// teleport_lock: a lock (joinery locks add) declared in Terraform, so that an incident response
// can live in code. Validation, plan, apply, refresh and import against /v1/locks; the protocol
// side (encoding, private state) is service.ts's.
//
// What changes how:
// - the target (one of host_id, instance_id, account, arn, token) is the lock: another target is
//   another lock, with its own revocations, so changing it replaces the lock;
// - message and expires change in place (PATCH): extending an incident lock must not leave a
//   moment unlocked, which a destroy-then-create replacement would;
// - a lock removed outside Terraform leaves the state, so the next plan creates it again;
// - a lock that reached its `expires` did what it was declared to do: it stays in the state, the
//   plan warns, and nothing is created again until `expires` is moved (a new lock) or the resource
//   removed. Re-creating it silently at every apply would undo the expiry.

import { ApiError, type JoineryClient, type LockView } from '../client/api-client';
import { LOCK_KINDS, LockRequestError, lockTargetDigest, readLockBody, type LockKind } from '../schema/lock';
import { parseRfc3339, rfc3339Ms, sameInstant } from '../schema/time';
import { isUnknown, UNKNOWN, type CtyObject, type CtyValue } from './cty';
import { apiDiagnostic, error, warning, type Diagnostic, type PathStep } from './diagnostics';

export interface LockPlan {
  planned: CtyObject | null;
  requiresReplace: PathStep[][];
  diagnostics: Diagnostic[];
}

export interface LockResult {
  newState: CtyObject | null;
  diagnostics: Diagnostic[];
  /** A `token` lock's target digest, kept in private state: the API shows a secret name masked. */
  targetDigest?: string;
}

const TARGETS: readonly LockKind[] = LOCK_KINDS;
const str = (v: CtyValue | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

/** The target attributes that are set (unknown counts as set: it will be). */
function givenTargets(config: CtyObject): LockKind[] {
  return TARGETS.filter((k) => config[k] !== null && config[k] !== undefined);
}

/** The attribute a field of an API error (or of readLockBody) is about. */
function attributeOf(field: string | undefined, kind: LockKind | undefined): PathStep[] | undefined {
  if (field === 'target') return kind ? [kind] : undefined;
  if (field === 'expires' || field === 'ttl') return ['expires'];
  if (field === 'message') return ['message'];
  return undefined;
}

/**
 * Checks the configuration alone: exactly one target, and the target, message and expires as the
 * API will read them (schema/lock.ts). Whether `expires` has passed is the plan's question, since
 * it matters only when a lock is created or its end moved.
 */
export function validateLockConfig(config: CtyObject): Diagnostic[] {
  const given = givenTargets(config);
  if (given.length === 0) {
    return [error('Missing lock target', `Set exactly one of ${TARGETS.join(', ')}: what the lock keeps out.`)];
  }
  if (given.length > 1) {
    return given.slice(1).map((k) => error('Conflicting lock targets', `A lock has one target: ${given[0]} is set, so ${k} cannot be. Declare one teleport_lock per target.`, [k]));
  }
  const diags: Diagnostic[] = [];
  const expires = config.expires;
  if (typeof expires === 'string' && !parseRfc3339(expires).ok) {
    diags.push(error('Invalid lock', `expires must be an RFC 3339 time such as "2030-01-02T15:04:05Z", not ${JSON.stringify(expires.slice(0, 64))}.`, ['expires']));
  }
  const kind = given[0];
  if (isUnknown(config[kind]) || isUnknown(config.message)) return diags;
  try {
    readLockBody({ kind, target: config[kind], ...(typeof config.message === 'string' ? { message: config.message } : {}) }, new Date());
  } catch (e) {
    if (!(e instanceof LockRequestError)) throw e;
    diags.push(error('Invalid lock', `${attributeOf(e.field, kind)?.[0] ?? e.field}: ${e.message.replace(/^target/, kind)}`, attributeOf(e.field, kind)));
  }
  return diags;
}

/** Whether a lock with this `expires` has ended by `now` (unset or unknown: never). */
function lapsed(expires: CtyValue | undefined, now: Date): boolean {
  const at = rfc3339Ms(expires);
  return at !== undefined && at <= now.getTime();
}

/**
 * The plan. The configuration's values are planned as written; `id` and `created_at` are known
 * after apply on a create. A changed target replaces the lock; so does any change to a lock that
 * has lapsed (it is gone from the server). An `expires` that has passed is refused where a lock
 * would be created or its end moved, and only warned about on a lapsed lock left as it is.
 */
export function planLock(prior: CtyObject | null, proposed: CtyObject | null, config: CtyObject | null, targetDigest: string | undefined, now: Date = new Date()): LockPlan {
  if (!proposed || !config) return { planned: null, requiresReplace: [], diagnostics: [] };
  const planned: CtyObject = { ...proposed };
  if (prior) {
    // An imported secret token lock holds the masked name; the configuration's name is the same
    // lock when its digest is the one the server gave.
    const token = str(config.token);
    if (token !== undefined && str(prior.token) !== token && targetDigest !== undefined && lockTargetDigest(token) === targetDigest) prior = { ...prior, token };
    // The same instant written another way is no change.
    if (sameInstant(planned.expires, prior.expires)) planned.expires = prior.expires;
  }
  const changed = prior ? Object.keys(planned).filter((k) => k !== 'id' && k !== 'created_at' && !sameValue(planned[k], prior![k])) : [];
  const expired = prior !== null && lapsed(prior.expires, now);
  const requiresReplace: PathStep[][] = prior ? changed.filter((k) => expired || (TARGETS as readonly string[]).includes(k)).map((k) => [k]) : [];
  const creating = !prior || requiresReplace.length > 0;
  planned.id = creating ? UNKNOWN : prior!.id;
  planned.created_at = creating ? UNKNOWN : prior!.created_at;

  const diagnostics: Diagnostic[] = [];
  const endMoves = creating || changed.includes('expires');
  if (endMoves && typeof planned.expires === 'string') {
    const kind = givenTargets(planned)[0];
    try {
      readLockBody({ kind: kind ?? 'host_id', target: 'x', expires: planned.expires }, now);
    } catch (e) {
      if (!(e instanceof LockRequestError)) throw e;
      const past = lapsed(planned.expires, now);
      diagnostics.push(
        error(
          past ? 'Lock would end before it starts' : 'Invalid lock',
          past ? `expires (${planned.expires}) has already passed, so this lock would keep nothing out. Set expires to a future time, or leave it out for a lock until removed.` : e.message,
          ['expires'],
        ),
      );
    }
  } else if (expired && changed.length === 0) {
    diagnostics.push(
      warning(
        'Lock has expired',
        `The lock ${String(prior!.id)} ended at ${String(prior!.expires)} and no longer keeps anything out. Terraform will not create it again by itself: set a later expires to lock again (a new lock), or remove the resource.`,
        ['expires'],
      ),
    );
  }
  return { planned, requiresReplace, diagnostics };
}

function sameValue(a: CtyValue | undefined, b: CtyValue | undefined): boolean {
  return (a ?? null) === (b ?? null);
}

/** The request body of a lock's own fields, from a planned value. */
function lockBody(v: CtyObject): { kind: LockKind; target: string; message?: string; expires?: string } {
  const kind = givenTargets(v)[0];
  return { kind, target: String(v[kind]), ...(str(v.message) ? { message: str(v.message) } : {}), ...(str(v.expires) ? { expires: str(v.expires) } : {}) };
}

/** How the lock is named in messages: a token lock's target may be a secret. */
function shown(v: CtyObject | null): string {
  const id = str(v?.id);
  return id ? `lock ${id}` : 'the lock';
}

function lockApiDiagnostic(e: unknown, action: string, v: CtyObject): Diagnostic {
  const kind = givenTargets(v)[0];
  if (e instanceof ApiError && e.status === 400) return error('Invalid lock', e.message, attributeOf(e.field, kind));
  if (e instanceof ApiError && e.status === 409 && e.code === 'too_many_locks') return error('Too many locks', e.message);
  return apiDiagnostic(e, action, kind === 'token' ? str(v.token) : undefined);
}

/** Create, change in place (end and message) or delete. */
export async function applyLock(client: JoineryClient, prior: CtyObject | null, planned: CtyObject | null): Promise<LockResult> {
  if (!planned) {
    const id = str(prior?.id);
    if (!id) return { newState: null, diagnostics: [] };
    try {
      await client.deleteLock(id); // already gone (removed or expired) counts as deleted
      return { newState: null, diagnostics: [] };
    } catch (e) {
      return { newState: prior, diagnostics: [lockApiDiagnostic(e, `deleting ${shown(prior)}`, prior!)] };
    }
  }
  if (!prior) {
    try {
      const lock = await client.createLock(lockBody(planned));
      return { newState: { ...planned, id: lock.id, created_at: lock.created_at }, diagnostics: [], targetDigest: lock.target_sha256 };
    } catch (e) {
      return { newState: null, diagnostics: [lockApiDiagnostic(e, 'creating the lock', planned)] };
    }
  }
  const id = String(prior.id);
  const body = lockBody(planned);
  // Only the state's copy changed (an imported secret token lock taking the configured name).
  if (sameValue(planned.message, prior.message) && sameValue(planned.expires, prior.expires)) return { newState: { ...planned, id, created_at: prior.created_at }, diagnostics: [] };
  try {
    const lock = await client.updateLock(id, { expires: body.expires ?? null, message: body.message ?? null });
    return { newState: { ...planned, id, created_at: prior.created_at }, diagnostics: [], targetDigest: lock.target_sha256 };
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      return {
        newState: prior,
        diagnostics: [error('Lock no longer exists', `${shown(prior)} was removed (or expired) after Terraform last read it. Run terraform plan (or apply) again: the plan will create it anew.`)],
      };
    }
    return { newState: prior, diagnostics: [lockApiDiagnostic(e, `changing ${shown(prior)}`, planned)] };
  }
}

/**
 * The state for the lock the server answers: the target kept as configured when the server shows
 * it masked (a secret token name) and the digest agrees, `expires` kept as written when it is the
 * same instant.
 */
function stateOf(lock: LockView, prior: CtyObject | null): CtyObject {
  const state: CtyObject = Object.fromEntries(TARGETS.map((k) => [k, null]));
  const priorTarget = str(prior?.[lock.kind]);
  const sameSecret = lock.kind === 'token' && priorTarget !== undefined && lock.target_sha256 === lockTargetDigest(priorTarget);
  state[lock.kind] = sameSecret ? priorTarget! : lock.target;
  state.id = lock.id;
  state.created_at = lock.created_at;
  state.message = lock.message ?? (prior?.message === '' ? '' : null);
  state.expires = lock.expires_at !== null && sameInstant(lock.expires_at, prior?.expires) ? prior!.expires : lock.expires_at;
  return state;
}

/** Refresh: gone when removed outside Terraform, kept when it lapsed at its declared end. */
export async function readLock(client: JoineryClient, prior: CtyObject, now: Date = new Date()): Promise<LockResult> {
  const id = str(prior.id);
  if (!id) return { newState: null, diagnostics: [] };
  try {
    const lock = await client.getLock(id);
    if (!lock) return { newState: lapsed(prior.expires, now) ? prior : null, diagnostics: [] };
    return { newState: stateOf(lock, prior), diagnostics: [], targetDigest: lock.target_sha256 };
  } catch (e) {
    return { newState: prior, diagnostics: [lockApiDiagnostic(e, `reading ${shown(prior)}`, prior)] };
  }
}

/** Import by lock ID (joinery locks ls lists them). */
export async function importLock(client: JoineryClient, id: string): Promise<LockResult> {
  if (id === '') return { newState: null, diagnostics: [error('Missing lock ID', 'Import takes the lock ID, as `joinery locks ls` lists it.')] };
  try {
    const lock = await client.getLock(id);
    if (!lock) return { newState: null, diagnostics: [error('Cannot import non-existent remote object', `There is no active lock ${JSON.stringify(id.slice(0, 64))} in Joinery (removed, or expired). Import takes the lock ID, as joinery locks ls lists it.`)] };
    return { newState: stateOf(lock, null), diagnostics: [], targetDigest: lock.target_sha256 };
  } catch (e) {
    return { newState: null, diagnostics: [apiDiagnostic(e, `importing lock ${JSON.stringify(id.slice(0, 64))}`)] };
  }
}

