// The `iam` join method (a module of the join pipeline, api/join/pipeline.ts): the host proves who it is in AWS by handing over a signed
// sts:GetCallerIdentity request that covers a fresh challenge. The server checks the request is
// exactly that one harmless call to a real STS endpoint, forwards it, and matches the identity
// STS returns against the token's allow rules. No AWS credentials are needed on the server.

import { randomBytes } from 'node:crypto';
import type { JoinServices } from '../admit';
import type { JoinMethodModule, VerifiedIdentity } from '../method';
import { badJoinRequest } from '../errors';
import { refuse } from '../refusals';
import { evaluateIamRules, organizationFactsFor, type OrganizationFacts } from './organizations';
import { iamRefusal } from './refusals';
import { forwardStsRequest } from './sts-forward';
import { parseStsRequestShape, validateStsRequest, type StsRequestInput } from './sts-request';
import { interpretStsAnswer, type CallerIdentity } from './sts-response';

export { IAM_REFUSAL_CODES } from './refusals';

const CHALLENGE_BYTES = 32;
// base64url of 32 bytes, no padding.
const CHALLENGE_RE = /^[A-Za-z0-9_-]{43}$/;
// Expired challenges are kept a while so a late join hears "expired" rather than "unknown"; the
// server's housekeeping timer deletes them after that (never the request path: no table scan per
// unauthenticated request).
export const CHALLENGE_RETENTION_MS = 60 * 60 * 1000;

/**
 * Issues a single-use challenge, stored so any replica can verify it. Anyone may ask, so the
 * number outstanding (unused, unexpired) is capped cluster-wide; beyond it callers wait for
 * challenges to be used or to expire.
 */
export async function issueIamChallenge(svc: JoinServices): Promise<{ challenge: string; expires: string }> {
  const now = svc.now();
  const cap = svc.config.iamMaxOutstandingChallenges;
  if ((await svc.store.challenges.countActive(now, cap)) >= cap) {
    const retryAfterSeconds = Math.min(30, Math.ceil(svc.config.iamChallengeTtlMs / 1000));
    throw refuse('iam_challenges_exhausted', `${cap} IAM challenges are outstanding (JOINERY_IAM_MAX_OUTSTANDING_CHALLENGES); retry in ${retryAfterSeconds}s`, { retryAfterSeconds });
  }
  const challenge = randomBytes(CHALLENGE_BYTES).toString('base64url');
  const expiresAt = new Date(now.getTime() + svc.config.iamChallengeTtlMs);
  await svc.store.challenges.create(challenge, expiresAt);
  return { challenge, expires: expiresAt.toISOString() };
}

async function consumeChallenge(svc: JoinServices, challenge: string): Promise<void> {
  if (!CHALLENGE_RE.test(challenge)) throw iamRefusal('iam_challenge_unknown', 'the challenge was not issued by this cluster');
  const result = await svc.store.challenges.consume(challenge, svc.now());
  if (result === 'missing') throw iamRefusal('iam_challenge_unknown', 'the challenge was not issued by this cluster');
  if (result === 'expired') throw iamRefusal('iam_challenge_expired', 'the challenge has expired; fetch a new one and sign again');
  if (result === 'used') throw iamRefusal('iam_challenge_used', 'the challenge was already used; every join needs a new one');
}

interface IamProof {
  challenge: string;
  sts: StsRequestInput;
}

/** What STS (and, when a rule needs it, AWS Organizations) said about the caller. */
export interface IamIdentity extends VerifiedIdentity {
  caller: CallerIdentity;
  organization?: OrganizationFacts;
}

/** The facts of a caller (and of its organization, when looked up) as the audit records them. */
export function iamFacts(caller: CallerIdentity, org: OrganizationFacts | undefined, extra: Record<string, string> = {}): Record<string, string> {
  const facts: Record<string, string> = { aws_account: caller.account, arn: caller.arn, ...(caller.userId ? { user_id: caller.userId } : {}), ...extra };
  if (org && !('error' in org) && org.member) {
    facts.organization_id = org.organizationId;
    if (org.ancestry) facts.organizational_units = [...org.ancestry].reverse().join('/');
  }
  return facts;
}

export const iamMethod: JoinMethodModule<IamProof, IamIdentity> = {
  method: 'iam',
  summary: 'Join with a pre-signed sts:GetCallerIdentity request',
  fields: {
    challenge: { type: 'string', required: true, description: 'from POST /v1/join/iam/challenge, signed in X-Teleport-Challenge' },
    sts_request: { type: 'object', required: true, description: '{method, url, headers: [[name, value], ...], body}: the signed request the server forwards to STS' },
  },
  eventCodes: { accepted: 'JJ003I', refused: 'JJ003W', meaning: 'an AWS identity joined (or was refused) with a signed sts:GetCallerIdentity request' },
  challenge: {
    summary: 'Get a single-use challenge for an IAM join',
    exhausted: 'Too many join requests from this address (rate_limited), or too many challenges outstanding cluster-wide (iam_challenges_exhausted); both send Retry-After',
    issue: (svc) => issueIamChallenge(svc),
  },
  readProof(body) {
    if (body.challenge === undefined || body.challenge === '') {
      throw iamRefusal('iam_challenge_missing', 'challenge is required: fetch one from POST /v1/join/iam/challenge and sign it in the X-Teleport-Challenge header');
    }
    if (typeof body.challenge !== 'string' || body.challenge.length > 256) throw iamRefusal('iam_challenge_missing', 'challenge must be the string returned by POST /v1/join/iam/challenge');
    return { challenge: body.challenge, sts: parseStsRequestShape(body.sts_request) };
  },
  async verify(svc, token, proof) {
    // The challenge is fresh; using it up first makes every attempt single-use, refused or not.
    await consumeChallenge(svc, proof.challenge);
    // The request is exactly GetCallerIdentity to a real STS endpoint, signed over the challenge.
    const sts = validateStsRequest(proof.sts, proof.challenge);
    // STS says who signed it.
    const answer = await forwardStsRequest(sts, { timeoutMs: svc.config.iamStsTimeoutMs, testEndpoint: svc.config.iamStsTestEndpoint });
    const caller = interpretStsAnswer(answer);
    // Organization conditions, if a rule in reach has any, are looked up with the server's own credentials.
    const organization = await organizationFactsFor(token.spec.allow ?? [], caller, svc.aws.organizations);
    return {
      caller,
      organization,
      facts: iamFacts(caller, organization, { sts_host: sts.host, access_key_id: sts.accessKeyId }),
      attributes: { account: caller.account, arn: caller.arn },
    };
  },
  evaluate(token, identity) {
    return { checks: [], ...evaluateIamRules(token.spec.allow ?? [], identity.caller, identity.organization, token.metadata.name) };
  },
  dryRun: {
    // An identity as the operator states it (nothing proves it: this answers "would this ARN join?").
    fields: ['arn', 'account'],
    async identity(svc, token, body, checkAws) {
      const caller = claimedCaller(body);
      const organization = checkAws && token ? await organizationFactsFor(token.spec.allow ?? [], caller, svc.aws.organizations) : undefined;
      return { caller, organization, facts: iamFacts(caller, organization), attributes: {} };
    },
  },
};

const ARN_RE = /^arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):[\x21-\x7e]{1,1900}$/;

/** The ARN (and account) an operator asks about; the account defaults to the ARN's. */
function claimedCaller(body: Record<string, unknown>): CallerIdentity {
  const arn = body.arn;
  if (typeof arn !== 'string' || !ARN_RE.test(arn)) throw badJoinRequest('invalid_request', 'arn must be an IAM or STS ARN of a 12-digit account (arn:aws:iam::123456789012:role/name, arn:aws:sts::123456789012:assumed-role/name/session)');
  const inArn = ARN_RE.exec(arn)![1];
  const account = body.account ?? inArn;
  if (typeof account !== 'string' || !/^\d{12}$/.test(account)) throw badJoinRequest('invalid_request', 'account, when given, must be a 12-digit AWS account ID as a string');
  if (account !== inArn) throw badJoinRequest('invalid_request', `account ${account} is not the account of the ARN (${inArn}); STS never answers so`);
  return { account: inArn, arn };
}
