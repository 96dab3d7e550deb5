// The `iam` join method: the host proves who it is in AWS by handing over a signed
// sts:GetCallerIdentity request that covers a fresh challenge. The server checks the request is
// exactly that one harmless call to a real STS endpoint, forwards it, and matches the identity
// STS returns against the token's allow rules. No AWS credentials are needed on the server.

import { randomBytes, randomUUID } from 'node:crypto';
import { admitHost, parseAgentPublicKey, requireJoinToken, requireString, type JoinAttempt, type JoinResponse, type JoinServices } from '../admit';
import { maskTokenName } from '../../../schema/token';
import { JoinError, badJoinRequest } from '../errors';
import { admitByIamRules } from './organizations';
import { iamRefusal } from './refusals';
import { forwardStsRequest } from './sts-forward';
import { parseStsRequestShape, validateStsRequest } from './sts-request';
import { interpretStsAnswer } from './sts-response';

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
    throw new JoinError(
      'iam_challenges_exhausted',
      `${cap} IAM challenges are outstanding (JOINERY_IAM_MAX_OUTSTANDING_CHALLENGES); retry in ${retryAfterSeconds}s`,
      429,
      { retryAfterSeconds },
    );
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

export async function joinWithIam(svc: JoinServices, body: unknown, attempt: JoinAttempt): Promise<JoinResponse> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badJoinRequest('invalid_request', 'the request body must be a JSON object');
  const fields = body as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (!['token_name', 'role', 'challenge', 'sts_request', 'public_key'].includes(key)) {
      throw badJoinRequest('invalid_request', `unknown field ${JSON.stringify(key)}; expected token_name, role, challenge, sts_request, public_key`);
    }
  }
  // Masked until the token proves to be an iam token (whose name is not a secret): a token-method
  // secret sent here by mistake must not reach the audit.
  const tokenName = requireString(fields, 'token_name');
  attempt.tokenName = maskTokenName(tokenName);
  const role = requireString(fields, 'role', 64);
  attempt.details.role = role;
  if (fields.challenge === undefined || fields.challenge === '') {
    throw iamRefusal('iam_challenge_missing', 'challenge is required: fetch one from POST /v1/join/iam/challenge and sign it in the X-Teleport-Challenge header');
  }
  if (typeof fields.challenge !== 'string' || fields.challenge.length > 256) throw iamRefusal('iam_challenge_missing', 'challenge must be the string returned by POST /v1/join/iam/challenge');
  const challenge = fields.challenge;
  const stsInput = parseStsRequestShape(fields.sts_request);
  const publicKey = parseAgentPublicKey(fields.public_key);

  // 1. The token may be used for this method and role.
  const token = await requireJoinToken(svc, tokenName, 'iam', role);
  attempt.tokenName = tokenName;
  // 2. The challenge is fresh; using it up first makes every attempt single-use, refused or not.
  await consumeChallenge(svc, challenge);
  // 3. The request is exactly GetCallerIdentity to a real STS endpoint, signed over the challenge.
  const sts = validateStsRequest(stsInput, challenge);
  attempt.details.sts_host = sts.host;
  attempt.details.access_key_id = sts.accessKeyId;
  // 4. STS says who signed it.
  const answer = await forwardStsRequest(sts, { timeoutMs: svc.config.iamStsTimeoutMs, testEndpoint: svc.config.iamStsTestEndpoint });
  attempt.details.sts_status = answer.status;
  const identity = interpretStsAnswer(answer);
  attempt.details.aws_account = identity.account;
  attempt.details.aws_arn = identity.arn;
  // 5. An allow rule admits that identity.
  //    Organization conditions, if a rule has any, are checked with the server's own AWS credentials.
  await admitByIamRules(token.spec.allow ?? [], identity, { tokenName });
  // 6. Register the host and issue its certificate.
  const hostId = randomUUID();
  attempt.hostId = hostId;
  return admitHost(svc, {
    hostId,
    token,
    role,
    publicKey,
    attributes: { account: identity.account, arn: identity.arn },
  }, attempt);
}
