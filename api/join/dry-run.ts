// The admin dry run (POST /v1/tokens/{name}/test, POST /v1/tokens/test): a captured proof (an
// EC2 identity document, or an IAM ARN) against one token or every token of its method, with
// every check and its outcome. It changes nothing: no token is consumed, no node written, no join
// audited. With `check_aws` it also makes the AWS lookups a real join makes.

import type { ProvisionToken } from '../../schema/token';
import { checkTokenUsable, isLive, alreadyJoined, type JoinServices } from './admit';
import { JoinError, badJoinRequest } from './errors';
import type { Check, Evaluation, JoinMethodModule } from './method';
import { joinMethodModules } from './methods';
import { NotFoundError } from '../store/types';
import { evaluationReport, type EvaluationReport } from './pipeline';

export interface TokenTest extends EvaluationReport {
  token: string;
  method: string;
}

export interface TokenTestAnswer {
  /** Whether a join with this proof would be admitted (by the named token, or by any token). */
  would_join: boolean;
  results: TokenTest[];
}

const COMMON = ['role', 'check_aws'];

/** The method whose captured-proof fields the body carries. */
function methodFor(body: Record<string, unknown>): JoinMethodModule {
  const mods = joinMethodModules().filter((m) => m.dryRun);
  const mod = mods.find((m) => m.dryRun!.fields.some((f) => body[f] !== undefined));
  if (!mod) throw badJoinRequest('invalid_request', `the body needs a proof to test: ${mods.map((m) => m.dryRun!.fields.join(' + ')).join(', or ')}`);
  const known = [...COMMON, ...mod.dryRun!.fields];
  for (const key of Object.keys(body)) {
    if (!known.includes(key)) throw badJoinRequest('invalid_request', `unknown field ${JSON.stringify(key.slice(0, 64))}; a ${mod.method} test carries ${known.join(', ')}`);
  }
  return mod;
}

async function testOne(svc: JoinServices, mod: JoinMethodModule, token: ProvisionToken, body: Record<string, unknown>, role: string | undefined, checkAws: boolean): Promise<TokenTest> {
  const now = svc.now();
  const tokenCheck: Check = { check: 'token', ok: true, detail: `token ${JSON.stringify(token.metadata.name)} is a usable ${token.spec.join_method} token${role ? ` granting ${role}` : ''}` };
  let refusal: JoinError | undefined;
  try {
    checkTokenUsable(token, mod.method, role, now);
    if (role !== undefined) mod.checkToken?.(token, role);
  } catch (e) {
    if (!(e instanceof JoinError)) throw e;
    Object.assign(tokenCheck, { ok: false, detail: e.message });
    refusal = e;
  }
  const identity = await mod.dryRun!.identity(svc, token, body, checkAws);
  const evaluation: Evaluation = mod.evaluate(token, identity, now);
  evaluation.checks.unshift(tokenCheck);
  refusal ??= evaluation.refusal;
  if (!refusal && identity.hostId) {
    const live = isLive(await svc.store.nodes.get(identity.hostId), now);
    evaluation.checks.push({ check: 'host', ok: !live, detail: live ? alreadyJoined(identity.hostId).message : `host ${identity.hostId} holds no live identity` });
    if (live) refusal = alreadyJoined(identity.hostId);
  }
  if (!refusal && checkAws && mod.confirm) {
    const check: Check = { check: 'aws', ok: true, detail: 'the AWS lookups a join makes succeed' };
    try {
      await mod.confirm(svc, token, identity, evaluation.admittedBy);
      if (identity.facts.instance_state) check.detail = `ec2:DescribeInstances: instance ${identity.facts.instance_id} is ${identity.facts.instance_state}`;
    } catch (e) {
      if (!(e instanceof JoinError)) throw e;
      Object.assign(check, { ok: false, detail: e.message });
      refusal = e;
    }
    evaluation.checks.push(check);
  }
  return { token: token.metadata.name, method: mod.method, ...evaluationReport(evaluation, identity.facts, refusal, 'operator', identity.hostId) };
}

/** Tests the proof in `body` against the token `name`, or against every token of the proof's method. */
export async function testTokens(svc: JoinServices, name: string | undefined, body: unknown): Promise<TokenTestAnswer> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badJoinRequest('invalid_request', 'the body must be a JSON object: {iid} or {arn, account}, with role and check_aws optional');
  const fields = body as Record<string, unknown>;
  const mod = methodFor(fields);
  if (fields.role !== undefined && (typeof fields.role !== 'string' || fields.role.length === 0 || fields.role.length > 64)) throw badJoinRequest('invalid_request', 'role, when given, must be a role name');
  if (fields.check_aws !== undefined && typeof fields.check_aws !== 'boolean') throw badJoinRequest('invalid_request', 'check_aws, when given, must be true or false');
  const role = fields.role as string | undefined;
  const checkAws = fields.check_aws === true;
  // The proof is checked once whatever the tokens: a malformed document or a bad signature is an error, not a result.
  await mod.dryRun!.identity(svc, undefined, fields, false);

  let tokens: ProvisionToken[];
  if (name !== undefined) {
    const stored = await svc.store.tokens.get(name);
    if (!stored) throw new NotFoundError(`token ${JSON.stringify(name)}`);
    tokens = [stored.token];
  } else {
    tokens = [];
    for (let after: string | undefined, pages = 0; pages < 1000; pages++) {
      const page = await svc.store.tokens.list({ limit: 500, after });
      tokens.push(...page.items.map((t) => t.token).filter((t) => t.spec.join_method === mod.method));
      after = page.next;
      if (!after) break;
    }
  }
  const results: TokenTest[] = [];
  for (const token of tokens) results.push(await testOne(svc, mod, token, fields, role, checkAws));
  return { would_join: results.some((r) => r.would_join), results };
}
