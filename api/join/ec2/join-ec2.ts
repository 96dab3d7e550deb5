// The `ec2` join method: an EC2 instance proves who it is with its AWS-signed instance identity
// document; no secret is shared. Checks run in a fixed order, cheapest first, and every refusal
// carries its own code (EC2_REFUSAL_CODES) so an operator can tell what to fix.

import type { AwsAllowRule, ProvisionToken } from '../../../schema/token';
import { iidTtlMs, maskTokenName } from '../../../schema/token';
import { roleArnAccount } from '../../../schema/aws';
import { formatDuration } from '../../../schema/duration';
import { rfc3339Ms } from '../../../schema/time';
import { admitHost, alreadyJoined, isLive, parseAgentPublicKey, requireJoinToken, requireString, type JoinAttempt, type JoinResponse, type JoinServices } from '../admit';
import { JoinError, badJoinRequest } from '../errors';
import { AwsInstanceLookup, type InstanceLookup } from './describe-instance';
import { verifyInstanceIdentity, type InstanceIdentity } from './identity-document';
import { ec2TrustStoreFor, Ec2TrustConfigError, type Ec2TrustStore } from './trust-store';

/** Every code an EC2 join can be refused with, and what it means. For the OpenAPI document and README. */
export const EC2_REFUSAL_CODES: Record<string, string> = {
  invalid_request: '400: a required field is missing or malformed (token_name, role, iid, public_key, host_id).',
  invalid_public_key: '400: public_key is not a PEM SubjectPublicKeyInfo of an accepted type (EC P-256/P-384, RSA 2048-8192 with e >= 65537, Ed25519).',
  token_not_found: '403: no token has this name.',
  token_expired: '403: the token is past metadata.expires.',
  join_method_mismatch: '403: the token is not an ec2 token.',
  role_not_allowed: '403: the requested role is not in the token\'s roles.',
  bot_join_method_unsupported: '403: the Bot role cannot join with the ec2 method (as in Teleport); bots use the token or iam method.',
  iid_malformed: '400: iid is not base64 of a PKCS#7 SignedData carrying an identity document with accountId, instanceId, region and pendingTime.',
  iid_region_unsupported: '403: no certificate is trusted for the document\'s region (add one with JOINERY_EC2_EXTRA_CERTS).',
  iid_signature_invalid: '403: the document\'s signature does not verify with the region\'s AWS certificate (altered, other region, or not signed by AWS).',
  host_id_mismatch: '403: host_id differs from <accountId>-<instanceId> of the signed document.',
  iid_ttl_exceeded: '403: the instance launched longer ago than the token\'s aws_iid_ttl.',
  iid_pending_time_in_future: '403: the document\'s pendingTime is more than 1 minute ahead of the server clock.',
  aws_account_not_allowed: '403: no allow rule names the document\'s AWS account.',
  aws_region_not_allowed: '403: the rules for the account do not list the document\'s region.',
  host_already_joined: '409: this instance has joined and its certificate is still valid (it renews over /v1/renew); it may join again once removed (`joinery nodes rm <host_id>`) or once its certificate expired without renewal.',
  aws_assume_role_failed: '403: the server could not assume the rule\'s aws_role.',
  aws_access_denied: '403: AWS refused ec2:DescribeInstances to the server\'s (or the assumed role\'s) credentials.',
  aws_credentials_unavailable: '403: the server has no AWS credentials in the SDK chain.',
  aws_throttled: '429: AWS throttled the call; retry shortly.',
  aws_request_failed: '403: another AWS error while checking the instance.',
  ec2_instance_not_found: '403: EC2 does not know the instance in that account and region.',
  ec2_instance_not_running: '403: the instance exists but is not in state running.',
  ec2_trust_store_invalid: '403: the server\'s JOINERY_EC2_EXTRA_CERTS configuration is broken; see the message.',
};

/** How far pendingTime may be ahead of the server clock (clock skew). */
export const MAX_FUTURE_SKEW_MS = 60_000;

export interface Ec2JoinDeps {
  lookup?: InstanceLookup;
  trust?: Ec2TrustStore;
}

/** The account a rule admits; a rule with only aws_role stands for the role's account, all DescribeInstances can see. */
function ruleAccount(rule: AwsAllowRule): string | undefined {
  return rule.aws_account ?? (rule.aws_role ? roleArnAccount(rule.aws_role) : undefined);
}

/** The first allow rule that admits the document, or a refusal saying why none does. */
export function matchAllowRule(token: ProvisionToken, id: InstanceIdentity): { rule: AwsAllowRule; index: number } {
  const rules = token.spec.allow ?? [];
  let accountSeen = false;
  for (const [index, rule] of rules.entries()) {
    const account = ruleAccount(rule);
    if (account && account !== id.accountId) continue;
    accountSeen = true;
    if (rule.aws_regions && rule.aws_regions.length > 0 && !rule.aws_regions.includes(id.region)) continue;
    return { rule, index };
  }
  if (!accountSeen) {
    const accounts = [...new Set(rules.map(ruleAccount).filter(Boolean))];
    throw new JoinError('aws_account_not_allowed', `token ${JSON.stringify(token.metadata.name)} does not allow AWS account ${id.accountId} (allowed: ${accounts.join(', ') || 'none'})`);
  }
  const regions = [...new Set(rules.filter((r) => (ruleAccount(r) ?? id.accountId) === id.accountId).flatMap((r) => r.aws_regions ?? []))];
  throw new JoinError('aws_region_not_allowed', `token ${JSON.stringify(token.metadata.name)} does not allow region ${id.region} for account ${id.accountId} (allowed: ${regions.join(', ')})`);
}

/** pendingTime must lie within [now - aws_iid_ttl, now + 1 minute]. */
export function checkPendingTime(token: ProvisionToken, id: InstanceIdentity, hostId: string, now: Date): void {
  // Read strictly (real ranges, no 24:00 or rolled-over dates); anything unreadable is refused.
  const pending = rfc3339Ms(id.pendingTime) ?? NaN;
  if (Number.isNaN(pending)) throw badJoinRequest('iid_malformed', `iid is not an EC2 instance identity document: pendingTime ${JSON.stringify(id.pendingTime)} is not a time`);
  const ttl = iidTtlMs(token);
  const age = now.getTime() - pending;
  if (age > ttl) {
    throw new JoinError(
      'iid_ttl_exceeded',
      `instance ${hostId} launched at ${id.pendingTime} is older than aws_iid_ttl ${token.spec.aws_iid_ttl} (launched ${formatDuration(age)} ago); instances must join within aws_iid_ttl of launch — raise aws_iid_ttl on token ${JSON.stringify(token.metadata.name)} if they need longer`,
    );
  }
  if (-age > MAX_FUTURE_SKEW_MS) {
    throw new JoinError('iid_pending_time_in_future', `instance ${hostId} claims launch at ${id.pendingTime}, ${formatDuration(-age)} after the server's time ${now.toISOString()}; check the server clock`);
  }
}

/** A live instance is refused; one removed, or whose last certificate lapsed unrenewed, may join again. */
async function refuseIfJoined(svc: JoinServices, hostId: string): Promise<void> {
  if (isLive(await svc.store.nodes.get(hostId), svc.now())) throw alreadyJoined(hostId);
}

function trustStore(svc: JoinServices, deps: Ec2JoinDeps): Ec2TrustStore {
  if (deps.trust) return deps.trust;
  try {
    return ec2TrustStoreFor(svc.config);
  } catch (e) {
    if (e instanceof Ec2TrustConfigError) throw new JoinError('ec2_trust_store_invalid', `the server cannot check EC2 identity documents: ${e.message}`);
    throw e;
  }
}

export function makeEc2JoinHandler(deps: Ec2JoinDeps = {}) {
  const lookup = deps.lookup ?? new AwsInstanceLookup();
  return async function joinWithEc2(svc: JoinServices, body: unknown, attempt: JoinAttempt): Promise<JoinResponse> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badJoinRequest('invalid_request', 'the request body must be a JSON object');
    const req = body as Record<string, unknown>;

    // 1. The token: exists, not expired, an ec2 token, and grants the role.
    const tokenName = requireString(req, 'token_name');
    // Masked until the token proves to be an ec2 token: a token-method secret sent here by mistake must not reach the audit.
    attempt.tokenName = maskTokenName(tokenName);
    const role = requireString(req, 'role', 64);
    attempt.details.role = role;
    if (req.host_id !== undefined && (typeof req.host_id !== 'string' || req.host_id.length === 0 || req.host_id.length > 128)) {
      throw badJoinRequest('invalid_request', 'host_id, when given, must be a non-empty string of at most 128 characters (<accountId>-<instanceId>)');
    }
    const token = await requireJoinToken(svc, tokenName, 'ec2', role);
    attempt.tokenName = tokenName; // an ec2 token's name is not a secret
    const publicKey = parseAgentPublicKey(req.public_key);

    // 2. The signed document, verified against the region's certificate.
    const id = await verifyInstanceIdentity(req.iid, trustStore(svc, deps));
    Object.assign(attempt.details, { account: id.accountId, region: id.region, instance_id: id.instanceId, pending_time: id.pendingTime });

    // 3. The host ID follows from the signed identity.
    const hostId = `${id.accountId}-${id.instanceId}`;
    attempt.hostId = hostId;
    if (req.host_id !== undefined && req.host_id !== hostId) {
      throw new JoinError('host_id_mismatch', `host_id ${JSON.stringify(req.host_id)} does not match the signed identity ${hostId}; an EC2 host joins as <accountId>-<instanceId> (use an empty data directory)`);
    }

    // 4. Launched recently enough, and not in the future.
    checkPendingTime(token, id, hostId, svc.now());

    // 5. An allow rule for the account and region.
    const { rule, index } = matchAllowRule(token, id);
    attempt.details.rule = index;
    if (rule.aws_role) attempt.details.aws_role = rule.aws_role;

    // 6. One live identity per instance: refuse a live host before spending an AWS call.
    await refuseIfJoined(svc, hostId);

    // 7. EC2 must know the instance, running.
    const state = await lookup.instanceState({ region: id.region, accountId: id.accountId, instanceId: id.instanceId, roleArn: rule.aws_role });
    if (state === undefined) {
      throw new JoinError(
        'ec2_instance_not_found',
        `EC2 does not know instance ${id.instanceId} in account ${id.accountId} region ${id.region}${rule.aws_role ? ` (asked as ${rule.aws_role})` : " (asked with the server's own credentials; for another account set aws_role on the rule)"}`,
      );
    }
    attempt.details.instance_state = state;
    if (state !== 'running') throw new JoinError('ec2_instance_not_running', `instance ${id.instanceId} is ${state}, not running`);

    // 8. Register (atomic on host ID: of two racing joins one wins) and issue the certificate.
    return admitHost(svc, {
      hostId,
      token,
      role,
      publicKey,
      attributes: { account: id.accountId, region: id.region, instance_id: id.instanceId },
    }, attempt);
  };
}

/** The handler the server routes POST /v1/join/ec2 to, with the real AWS lookup. */
export const joinWithEc2 = makeEc2JoinHandler();
