// The `ec2` join method: an EC2 instance proves who it is with its AWS-signed instance identity
// document; no secret is shared. The verifier checks the signature and reads the identity; the
// rules are evaluated without effects (every rule, every check, for the audit and the dry run);
// DescribeInstances, as the admitting rule's aws_role, confirms the instance is running.

import type { AwsAllowRule, ProvisionToken } from '../../../schema/token';
import { iidTtlMs } from '../../../schema/token';
import { roleArnAccount } from '../../../schema/aws';
import { grantedRole } from '../../../schema/roles';
import { formatDuration } from '../../../schema/duration';
import { rfc3339Ms } from '../../../schema/time';
import { isSafeText } from '../../../schema/text-safety';
import type { JoinServices } from '../admit';
import { JoinError, badJoinRequest } from '../errors';
import type { Check, Evaluation, JoinMethodModule, RuleResult, VerifiedIdentity } from '../method';
import { ruleMismatch } from '../pipeline';
import { refuse, refusalsFor } from '../refusals';
import { verifyInstanceIdentity, type InstanceIdentity } from './identity-document';
import { Ec2TrustConfigError, type Ec2TrustStore } from './trust-store';

/** Every code an EC2 join can be refused with (from the one registry, api/join/refusals.ts). */
export const EC2_REFUSAL_CODES = refusalsFor('ec2');

/** How far pendingTime may be ahead of the server clock (clock skew). */
export const MAX_FUTURE_SKEW_MS = 60_000;

/** The account a rule admits; a rule with only aws_role stands for the role's account, all DescribeInstances can see. */
function ruleAccount(rule: AwsAllowRule): string | undefined {
  return rule.aws_account ?? (rule.aws_role ? roleArnAccount(rule.aws_role) : undefined);
}

/** One rule against the document: its account (named or implied by aws_role) and its regions. Pure. */
export function evaluateEc2Rule(rule: AwsAllowRule, index: number, id: InstanceIdentity): RuleResult {
  const checks: Check[] = [];
  const account = ruleAccount(rule);
  if (account !== undefined) {
    const field = rule.aws_account !== undefined ? 'aws_account' : 'aws_role';
    const ok = account === id.accountId;
    const wanted = field === 'aws_account' ? account : `${rule.aws_role} (account ${account})`;
    checks.push({ check: field, ok, value: id.accountId, wanted, detail: ok ? `${field} ${wanted} admits account ${id.accountId}` : `${field} ${wanted} is not ${field === 'aws_role' ? 'account ' : ''}${id.accountId}` });
  }
  if (rule.aws_regions && rule.aws_regions.length > 0) {
    const ok = rule.aws_regions.includes(id.region);
    const wanted = `[${rule.aws_regions.join(', ')}]`;
    checks.push({ check: 'aws_regions', ok, value: id.region, wanted, detail: ok ? `aws_regions ${wanted} includes ${id.region}` : `aws_regions ${wanted} does not include ${id.region}` });
  }
  return { index, matched: checks.every((c) => c.ok), checks };
}

/** Every rule against the document, and the refusal when none admits. Pure. */
export function evaluateEc2Rules(token: ProvisionToken, id: InstanceIdentity): { rules: RuleResult[]; admittedBy?: number; refusal?: JoinError } {
  const rules = (token.spec.allow ?? []).map((rule, index) => evaluateEc2Rule(rule, index, id));
  const admitting = rules.find((r) => r.matched);
  if (admitting) return { rules, admittedBy: admitting.index };
  // An account check that holds somewhere means the region is what failed.
  const accountSeen = rules.some((r) => r.checks.every((c) => c.check === 'aws_regions' || c.ok));
  const code = accountSeen ? 'aws_region_not_allowed' : 'aws_account_not_allowed';
  return { rules, refusal: ruleMismatch(code, `token ${JSON.stringify(token.metadata.name)}`, rules, `AWS account ${id.accountId} region ${id.region}`) };
}

/** The first allow rule that admits the document, or the refusal saying why none does. */
export function matchAllowRule(token: ProvisionToken, id: InstanceIdentity): { rule: AwsAllowRule; index: number } {
  const { admittedBy, refusal } = evaluateEc2Rules(token, id);
  if (admittedBy === undefined) throw refusal!;
  return { rule: token.spec.allow![admittedBy], index: admittedBy };
}

/** pendingTime must lie within [now - aws_iid_ttl, now + 1 minute]. */
export function checkPendingTime(token: ProvisionToken, id: InstanceIdentity, hostId: string, now: Date): void {
  // Read strictly (real ranges, no 24:00 or rolled-over dates); anything unreadable is refused.
  const pending = rfc3339Ms(id.pendingTime) ?? NaN;
  if (Number.isNaN(pending)) throw badJoinRequest('iid_malformed', `iid is not an EC2 instance identity document: pendingTime ${JSON.stringify(id.pendingTime)} is not a time`);
  const ttl = iidTtlMs(token);
  const age = now.getTime() - pending;
  if (age > ttl) {
    throw refuse(
      'iid_ttl_exceeded',
      `instance ${hostId} launched at ${id.pendingTime} is older than aws_iid_ttl ${token.spec.aws_iid_ttl} (launched ${formatDuration(age)} ago); instances must join within aws_iid_ttl of launch — raise aws_iid_ttl on token ${JSON.stringify(token.metadata.name)} if they need longer`,
    );
  }
  if (-age > MAX_FUTURE_SKEW_MS) {
    throw refuse('iid_pending_time_in_future', `instance ${hostId} claims launch at ${id.pendingTime}, ${formatDuration(-age)} after the server's time ${now.toISOString()}; check the server clock`);
  }
}

/** What the instance proved, verified. */
export interface Ec2Identity extends VerifiedIdentity {
  document: InstanceIdentity;
  hostId: string;
  /** The host_id the request asked for, if any (it must equal the document's). */
  requestedHostId?: string;
}

interface Ec2Proof {
  iid: unknown;
  hostId?: string;
}

function trustStore(svc: JoinServices): Ec2TrustStore {
  try {
    return svc.aws.ec2Trust();
  } catch (e) {
    if (e instanceof Ec2TrustConfigError) throw refuse('ec2_trust_store_invalid', `the server cannot check EC2 identity documents: ${e.message}`);
    throw e;
  }
}

/** A signed document turned into the identity it proves (signature checked against the region's certificate). */
export async function verifyEc2Document(svc: JoinServices, iid: unknown): Promise<Omit<Ec2Identity, 'requestedHostId'>> {
  const document = await verifyInstanceIdentity(iid, trustStore(svc));
  const hostId = `${document.accountId}-${document.instanceId}`;
  return {
    document,
    hostId,
    facts: { aws_account: document.accountId, aws_region: document.region, instance_id: document.instanceId, pending_time: document.pendingTime },
    attributes: { account: document.accountId, region: document.region, instance_id: document.instanceId },
  };
}

function checkResult(check: string, fn: () => void, okDetail: string): { check: Check; refusal?: JoinError } {
  try {
    fn();
    return { check: { check, ok: true, detail: okDetail } };
  } catch (e) {
    if (!(e instanceof JoinError)) throw e;
    return { check: { check, ok: false, detail: e.message }, refusal: e };
  }
}

/** The token-wide checks and every rule, without effects; the first failure in check order is the refusal. */
export function evaluateEc2(token: ProvisionToken, id: Ec2Identity, now: Date): Evaluation {
  const checks: { check: Check; refusal?: JoinError }[] = [];
  if (id.requestedHostId !== undefined) {
    checks.push(
      checkResult('host_id', () => {
        if (id.requestedHostId !== id.hostId) throw refuse('host_id_mismatch', `host_id ${JSON.stringify(id.requestedHostId)} does not match the signed identity ${id.hostId}; an EC2 host joins as <accountId>-<instanceId> (use an empty data directory)`);
      }, `host_id is ${id.hostId}`),
    );
  }
  checks.push(checkResult('aws_iid_ttl', () => checkPendingTime(token, id.document, id.hostId, now), `launched at ${id.document.pendingTime}, within aws_iid_ttl ${token.spec.aws_iid_ttl ?? '(default)'}`));
  const ruled = evaluateEc2Rules(token, id.document);
  const refusal = checks.find((c) => c.refusal)?.refusal ?? ruled.refusal;
  return { checks: checks.map((c) => c.check), rules: ruled.rules, admittedBy: refusal ? undefined : ruled.admittedBy, refusal };
}

/** EC2 allows 50 tags of 128/256 characters; the inventory keeps no more, whatever an answer says. */
const MAX_TAG_LABELS = 50;
const MAX_TAG_KEY = 128;
const MAX_TAG_VALUE = 256;

/** An instance's tags as inventory labels `aws/<Key>`; tags too long or not terminal-safe are left out. */
export function tagLabels(tags: Record<string, string>): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [key, value] of Object.entries(tags).slice(0, MAX_TAG_LABELS)) {
    if (key.length > MAX_TAG_KEY || value.length > MAX_TAG_VALUE || !isSafeText(key) || !isSafeText(value)) continue;
    labels[`aws/${key}`] = value;
  }
  return labels;
}

/** DescribeInstances, as the admitting rule's aws_role: the instance must exist and run. */
export async function confirmInstanceRunning(svc: JoinServices, token: ProvisionToken, id: Ec2Identity, ruleIndex: number | undefined): Promise<void> {
  const rule = ruleIndex === undefined ? undefined : token.spec.allow?.[ruleIndex];
  const doc = id.document;
  const described = await svc.aws.instances.describeInstance({ region: doc.region, accountId: doc.accountId, instanceId: doc.instanceId, roleArn: rule?.aws_role });
  const state = described?.state;
  if (state === undefined) {
    throw refuse(
      'ec2_instance_not_found',
      `EC2 does not know instance ${doc.instanceId} in account ${doc.accountId} region ${doc.region}${rule?.aws_role ? ` (asked as ${rule.aws_role})` : " (asked with the server's own credentials; for another account set aws_role on the rule)"}`,
    );
  }
  id.facts.instance_state = state;
  id.labels = tagLabels(described!.tags);
  if (rule?.aws_role) id.facts.described_as = rule.aws_role;
  if (state !== 'running') throw refuse('ec2_instance_not_running', `instance ${doc.instanceId} is ${state}, not running`);
}

export const ec2Method: JoinMethodModule<Ec2Proof, Ec2Identity> = {
  method: 'ec2',
  summary: 'Join with a signed EC2 instance identity document',
  fields: {
    iid: { type: 'string', required: true, description: 'the rsa2048 instance identity document (PKCS#7) as IMDS gives it' },
    host_id: { type: 'string', required: false, description: '<accountId>-<instanceId> of the document, when the host states it' },
  },
  eventCodes: { accepted: 'JJ002I', refused: 'JJ002W', meaning: 'an EC2 instance joined (or was refused) with its signed instance identity document' },
  readProof(body) {
    if (body.host_id !== undefined && (typeof body.host_id !== 'string' || body.host_id.length === 0 || body.host_id.length > 128)) {
      throw badJoinRequest('invalid_request', 'host_id, when given, must be a non-empty string of at most 128 characters (<accountId>-<instanceId>)');
    }
    return { iid: body.iid, hostId: body.host_id as string | undefined };
  },
  checkToken(token, role) {
    // Teleport issues bots certificates only through the token and iam methods.
    if (grantedRole(token.spec.roles, role) === 'Bot') throw refuse('bot_join_method_unsupported', 'the Bot role cannot join with the ec2 method; use the token or iam method for bots');
  },
  async verify(svc, _token, proof) {
    return { ...(await verifyEc2Document(svc, proof.iid)), requestedHostId: proof.hostId };
  },
  evaluate: evaluateEc2,
  confirm: confirmInstanceRunning,
  dryRun: {
    // The document as IMDS gives it (base64, or PEM with a PKCS7 armour); its signature is checked.
    fields: ['iid'],
    identity: (svc, _token, body) => verifyEc2Document(svc, body.iid),
  },
};
