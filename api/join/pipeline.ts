// The one join pipeline every method runs through:
//   read the common fields once -> find the token -> the method verifies the proof into an
//   identity (AWS calls) -> the pure rule evaluation -> admission (the only writes) -> one audit
//   event, written here and nowhere else.
// A dry run (`dry_run: true`) runs every step but admission and answers with the evaluation.

import { randomUUID } from 'node:crypto';
import { shownTokenName, type JoinMethod } from '../../schema/token';
import type { AuditEvent } from '../store/types';
import { admitHost, readAgentReport, AGENT_REPORT_FIELDS, consumeIfSingleUse, isLive, alreadyJoined, parseAgentPublicKey, requireJoinToken, requireString, type JoinResponse, type JoinServices } from './admit';
import { CaSigningError } from '../ca/signers/signer';
import { JoinError, badJoinRequest } from './errors';
import { refuseIfLocked, subjectOfIdentity } from './locks';
import { refuse, type RefusalCode } from './refusals';
import { publicDetail, publicRuleFailures, ruleFailures, type Check, type Evaluation, type IdentityFacts, type JoinMethodModule, type RuleResult } from './method';

/** The fields every method reads. */
export const COMMON_FIELDS = ['token_name', 'role', 'public_key', 'dry_run', ...AGENT_REPORT_FIELDS] as const;

/** A rule's result as the audit records it. */
export interface AuditRule {
  index: number;
  matched: boolean;
  failures: string[];
}

/** `details` of a join audit event (the contract the audit's JSON Schemas follow). */
export interface JoinAuditDetails {
  method: JoinMethod;
  role?: string;
  identity?: IdentityFacts;
  rules?: AuditRule[];
  /** Present (true) for a host's dry run: evaluated, nothing admitted. */
  dry_run?: true;
}

/** The evaluation as a dry run answers it. `audience` decides how much of the token it shows. */
export interface EvaluationReport {
  would_join: boolean;
  code?: string;
  message?: string;
  host_id?: string;
  identity?: IdentityFacts;
  checks: { check: string; ok: boolean; detail?: string }[];
  rules: { index: number; matched: boolean; checks: { check: string; ok: boolean; detail?: string }[] }[];
}

function showCheck(c: Check, audience: 'host' | 'operator'): { check: string; ok: boolean; detail?: string } {
  if (audience === 'operator') return { check: c.check, ok: c.ok, detail: c.detail };
  return { check: c.check, ok: c.ok, ...(c.ok ? {} : { detail: publicDetail(c) }) };
}

export function evaluationReport(evaluation: Evaluation | undefined, identity: IdentityFacts | undefined, refusal: JoinError | undefined, audience: 'host' | 'operator', hostId?: string): EvaluationReport {
  return {
    would_join: refusal === undefined,
    ...(refusal ? { code: refusal.code, message: audience === 'operator' ? refusal.operatorMessage ?? refusal.message : refusal.message } : {}),
    ...(hostId ? { host_id: hostId } : {}),
    ...(identity && Object.keys(identity).length > 0 ? { identity } : {}),
    checks: (evaluation?.checks ?? []).map((c) => showCheck(c, audience)),
    rules: (evaluation?.rules ?? []).map((r) => ({ index: r.index, matched: r.matched, checks: r.checks.map((c) => showCheck(c, audience)) })),
  };
}

/**
 * `token` names the token as messages show it ("token \"x\""). The refusal for an evaluation no rule passed: the method's code with a message for the host
 * (its own values, the failed checks by name) and one for the operator (what each rule asks).
 */
export function ruleMismatch(code: RefusalCode, token: string, rules: RuleResult[], who: string): JoinError {
  const line = (f: (r: RuleResult) => string[]) => rules.map((r) => `allow[${r.index}]: ${f(r).join(', ')}`).join('; ');
  const err = refuse(code, `no allow rule of ${token} admits ${who} (${line(publicRuleFailures)})`);
  err.operatorMessage = `no allow rule of ${token} admits ${who}: ${line(ruleFailures)}`;
  return err;
}

interface Attempt {
  details: JoinAuditDetails;
  tokenName?: string;
  hostId?: string;
}

export interface JoinCall {
  remoteAddr?: string;
}

export type JoinResult = { kind: 'joined'; response: JoinResponse } | { kind: 'dry_run'; response: EvaluationReport & { dry_run: true } };

function auditEvent(svc: JoinServices, a: Attempt, call: JoinCall, success: boolean, err?: JoinError): AuditEvent {
  return {
    time: svc.now().toISOString(),
    type: `join.${a.details.method}`,
    success,
    ...(err ? { code: err.code, message: err.operatorMessage ?? err.message } : {}),
    tokenName: a.tokenName,
    hostId: a.hostId,
    remoteAddr: call.remoteAddr,
    details: a.details as unknown as Record<string, unknown>,
  };
}

function auditRules(rules: RuleResult[]): AuditRule[] {
  return rules.map((r) => ({ index: r.index, matched: r.matched, failures: ruleFailures(r) }));
}

/** Reads the fields every method shares, refusing fields no step reads. */
function readCommon(mod: JoinMethodModule, body: unknown): { fields: Record<string, unknown>; tokenName: string; role: string; dryRun: boolean } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badJoinRequest('invalid_request', 'the request body must be a JSON object');
  const fields = body as Record<string, unknown>;
  const known: readonly string[] = [...COMMON_FIELDS, ...Object.keys(mod.fields)];
  for (const key of Object.keys(fields)) {
    if (!known.includes(key)) throw badJoinRequest('invalid_request', `unknown field ${JSON.stringify(key.slice(0, 64))}; a ${mod.method} join carries ${known.join(', ')}`);
  }
  const tokenName = requireString(fields, 'token_name');
  const role = requireString(fields, 'role', 64);
  if (fields.dry_run !== undefined && typeof fields.dry_run !== 'boolean') throw badJoinRequest('invalid_request', 'dry_run, when given, must be true or false');
  return { fields, tokenName, role, dryRun: fields.dry_run === true };
}

/** A join attempt of one method, start to end, with its one audit event. */
export async function runJoin(svc: JoinServices, mod: JoinMethodModule, body: unknown, call: JoinCall): Promise<JoinResult> {
  const attempt: Attempt = { details: { method: mod.method } };
  let admitted = false;
  let dryRun = false;
  let evaluation: Evaluation | undefined;
  try {
    // 1. The request: common fields, then the method's own (400s only, nothing looked up yet).
    const common = readCommon(mod, body);
    const { fields, tokenName, role } = common;
    dryRun = common.dryRun;
    // Masked until a stored token says its name is no secret.
    attempt.tokenName = shownTokenName(tokenName);
    attempt.details.role = role;
    if (dryRun) attempt.details.dry_run = true;
    const proof = mod.readProof(fields);
    const publicKey = parseAgentPublicKey(fields.public_key);
    const report = readAgentReport(fields);

    // 2. The token.
    const token = await requireJoinToken(svc, tokenName, mod.method, role);
    attempt.tokenName = shownTokenName(tokenName, token);
    mod.checkToken?.(token, role);

    // 3. The proof, verified into an identity.
    const identity = await mod.verify(svc, token, proof);
    // The token method proves nothing beyond the token: no identity to record.
    if (Object.keys(identity.facts).length > 0) attempt.details.identity = identity.facts;
    attempt.hostId = identity.hostId;
    // 3b. Locks match what was verified, so a locked instance with a fresh document stays out.
    await refuseIfLocked(svc.store, subjectOfIdentity(identity.facts, identity.hostId, token.metadata.name), svc.now());

    // 4. The rules, evaluated without effects.
    evaluation = mod.evaluate(token, identity, svc.now());
    if (evaluation.rules.length > 0) attempt.details.rules = auditRules(evaluation.rules);
    if (evaluation.refusal) throw evaluation.refusal;

    // 5. One live identity per host: refuse a live host before spending an AWS call.
    if (identity.hostId && isLive(await svc.store.nodes.get(identity.hostId), svc.now())) throw alreadyJoined(identity.hostId);
    // 6. Lookups that depend on the admitting rule.
    await mod.confirm?.(svc, token, identity, evaluation.admittedBy);

    if (dryRun) {
      await svc.store.audit.append(auditEvent(svc, attempt, call, true));
      return { kind: 'dry_run', response: { dry_run: true, ...evaluationReport(evaluation, identity.facts, undefined, 'host', identity.hostId) } };
    }

    // 7. Admission: the only writes. The accepted join's audit event commits with the node.
    const hostId = identity.hostId ?? randomUUID();
    attempt.hostId = hostId;
    // A single-use token is used up once the certificate is signed: a key service that fails to
    // sign (KMS, an HSM) must not cost the host its token.
    const response = await admitHost(svc, { hostId, token, role, publicKey, attributes: identity.attributes, labels: identity.labels, report }, auditEvent(svc, attempt, call, true), () => consumeIfSingleUse(svc, token, role));
    admitted = true;
    return { kind: 'joined', response };
  } catch (err) {
    if (admitted) throw err;
    const refusal = err instanceof JoinError ? err : err instanceof CaSigningError ? new JoinError('ca_unavailable', err.message, 503) : new JoinError('internal', 'internal server error', 500);
    await svc.store.audit.append(auditEvent(svc, attempt, call, false, refusal)).catch((e) => svc.log.error({ err: e }, 'audit write failed'));
    // A dry run that got as far as the token is answered with its evaluation, refused or not;
    // a malformed request stays a 400 like any other.
    if (dryRun && err instanceof JoinError && err.status !== 400) {
      return { kind: 'dry_run', response: { dry_run: true, ...evaluationReport(evaluation, attempt.details.identity, err, 'host', attempt.hostId) } };
    }
    throw err;
  }
}
