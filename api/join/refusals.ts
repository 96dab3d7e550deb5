// Every way a join or a renewal can be refused, in one shape: the code, its HTTP status, what it
// means and what to do about it. The route answers from here (refuse()), the OpenAPI document
// lists `x-refusal-codes` from here, and the tables in docs/ec2.md, docs/iam.md,
// docs/lifecycle.md and the whole of docs/refusals.md (one section per registered method) are
// generated from here (`npm run docs:refusals`; a test keeps them equal). A method's own codes
// are scoped by its name; a method without any gives only the codes every join can give.

import type { JoinMethod } from '../../schema/token';
import { JoinError } from './errors';

/** Where a code can be given: a join method (by its name), the renewal, or every join method. */
export type RefusalScope = 'join' | 'renew' | JoinMethod;

export interface Refusal {
  status: 400 | 401 | 403 | 409 | 429;
  meaning: string;
  action: string;
  scopes: readonly RefusalScope[];
}

const J = ['join'] as const;
const EC2 = ['ec2'] as const;
const IAM = ['iam'] as const;
const RENEW = ['renew'] as const;
const AWS_HELP = 'the message names the AWS error; fix the server\'s credentials or the rule\'s aws_role';

export const REFUSALS = {
  // The request (every method; the renewal's body too).
  invalid_request: { status: 400, meaning: 'The body is not a JSON object, misses a required field, or has a malformed or unknown one.', action: 'Send the fields the method documents; the message names the field.', scopes: ['join', 'renew'] },
  invalid_public_key: { status: 400, meaning: '`public_key` is not one PEM SubjectPublicKeyInfo of an accepted type (EC P-256/P-384, RSA 2048-8192 bits with e >= 65537, Ed25519).', action: 'Send the host\'s own public key as `-----BEGIN PUBLIC KEY-----`.', scopes: ['join', 'renew'] },
  public_key_is_ca_key: { status: 403, meaning: '`public_key` is the cluster CA\'s own public key; the CA never certifies its own key for a host.', action: 'Send a key generated on the host. Someone tried to obtain a host certificate for the CA\'s key: investigate the source address.', scopes: ['join', 'renew'] },
  // The token (every method).
  token_not_found: { status: 403, meaning: 'No token has this name (a Bot token is consumed by its first join, so a second use hears this too).', action: 'Check the name (`joinery tokens ls`); create the token if it was deleted.', scopes: J },
  token_expired: { status: 403, meaning: 'The token is past `metadata.expires`.', action: 'Create a new token or extend `metadata.expires`.', scopes: J },
  join_method_mismatch: { status: 403, meaning: 'The token is for another join method than the endpoint used.', action: 'Join with the token\'s `join_method`, or use a token of this method.', scopes: J },
  role_not_allowed: { status: 403, meaning: 'The requested role is not in the token\'s `roles`.', action: 'Ask for a role the token grants, or add the role to the token.', scopes: J },
  locked: { status: 403, meaning: 'A lock (`joinery locks add`) matches the verified identity: the host, its EC2 instance, AWS account or ARN, or the token. The message carries the lock\'s own message.', action: 'Wait for the lock to expire or remove it (`joinery locks rm ID`) once the incident is over; `joinery locks ls` lists them.', scopes: ['join', 'renew'] },
  host_already_joined: { status: 409, meaning: 'The host ID belongs to a live host (certificate valid, not removed).', action: 'The host renews over POST /v1/renew; it may join again once removed (`joinery nodes rm HOST_ID`) or once its certificate expired without renewal.', scopes: J },
  // EC2: the signed instance identity document.
  bot_join_method_unsupported: { status: 403, meaning: 'The Bot role cannot join with the ec2 method (as in Teleport).', action: 'Bots join with the token or iam method.', scopes: EC2 },
  iid_malformed: { status: 400, meaning: '`iid` is not base64 of a PKCS#7 SignedData carrying an identity document with accountId, instanceId, region and pendingTime.', action: 'Send the rsa2048 document exactly as IMDS gives it.', scopes: EC2 },
  iid_region_unsupported: { status: 403, meaning: 'No certificate is trusted for the document\'s region.', action: 'Add the region\'s AWS certificate with JOINERY_EC2_EXTRA_CERTS.', scopes: EC2 },
  iid_signature_invalid: { status: 403, meaning: 'The document\'s signature does not verify with the region\'s AWS certificate (altered, other region, or not signed by AWS).', action: 'Send the document unaltered; if the region\'s certificate changed, update JOINERY_EC2_EXTRA_CERTS.', scopes: EC2 },
  host_id_mismatch: { status: 403, meaning: '`host_id` differs from `<accountId>-<instanceId>` of the signed document.', action: 'Join from an empty data directory: an EC2 host\'s ID follows from its document.', scopes: EC2 },
  iid_ttl_exceeded: { status: 403, meaning: 'The instance launched longer ago than the token\'s `aws_iid_ttl`.', action: 'Raise `aws_iid_ttl` on the token, or join sooner after launch.', scopes: EC2 },
  iid_pending_time_in_future: { status: 403, meaning: 'The document\'s pendingTime is more than a minute ahead of the server clock.', action: 'Check the server\'s clock (NTP).', scopes: EC2 },
  aws_account_not_allowed: { status: 403, meaning: 'No allow rule admits the document\'s AWS account.', action: 'Add the account to a rule; the audit and the dry-run list each rule\'s failed checks.', scopes: EC2 },
  aws_region_not_allowed: { status: 403, meaning: 'The rules that admit the account do not list the document\'s region.', action: 'Add the region to the rule\'s `aws_regions`; the audit and the dry-run list each rule\'s failed checks.', scopes: EC2 },
  aws_assume_role_failed: { status: 403, meaning: 'The server could not assume the rule\'s `aws_role`.', action: `Check the role's trust policy names the server's principal; ${AWS_HELP}.`, scopes: EC2 },
  aws_access_denied: { status: 403, meaning: 'AWS refused `ec2:DescribeInstances` to the server\'s (or the assumed role\'s) credentials.', action: 'Allow ec2:DescribeInstances to the server\'s credentials or the rule\'s role.', scopes: EC2 },
  aws_credentials_unavailable: { status: 403, meaning: 'The server found no AWS credentials in the SDK chain.', action: 'Give the server credentials (environment, shared config or instance role).', scopes: EC2 },
  aws_throttled: { status: 429, meaning: 'AWS throttled the call past JOINERY_EC2_THROTTLE_WAIT_MS.', action: 'Retry shortly (Retry-After says when).', scopes: EC2 },
  aws_request_failed: { status: 403, meaning: 'Another AWS error while checking the instance.', action: AWS_HELP + '.', scopes: EC2 },
  ec2_instance_not_found: { status: 403, meaning: 'EC2 does not know the instance in that account and region.', action: 'For another account set `aws_role` on the rule so the server asks as that account.', scopes: EC2 },
  ec2_instance_not_running: { status: 403, meaning: 'The instance exists but is not in state running.', action: 'Join from a running instance.', scopes: EC2 },
  ec2_trust_store_invalid: { status: 403, meaning: 'The server\'s JOINERY_EC2_EXTRA_CERTS configuration is broken.', action: 'Fix the file the message names and restart the server.', scopes: EC2 },
  // IAM: the body and the challenge.
  iam_sts_request_invalid: { status: 400, meaning: '`sts_request` is not `{method, url, headers: [[name, value], ...], body}` with bounded, printable strings.', action: 'Send the pre-signed request as the agent builds it.', scopes: IAM },
  iam_challenges_exhausted: { status: 429, meaning: 'Too many IAM challenges are outstanding across the cluster (JOINERY_IAM_MAX_OUTSTANDING_CHALLENGES).', action: 'Retry after Retry-After.', scopes: IAM },
  iam_challenge_missing: { status: 400, meaning: 'The request carries no challenge.', action: 'Fetch one from POST /v1/join/iam/challenge and sign it in X-Teleport-Challenge.', scopes: IAM },
  iam_challenge_unknown: { status: 403, meaning: 'The challenge was not issued by this cluster.', action: 'Fetch a challenge from this cluster.', scopes: IAM },
  iam_challenge_expired: { status: 403, meaning: 'The challenge has expired.', action: 'Fetch a new one and sign again.', scopes: IAM },
  iam_challenge_used: { status: 403, meaning: 'The challenge was already used.', action: 'Every join needs a new challenge.', scopes: IAM },
  iam_challenge_header_missing: { status: 400, meaning: 'The signed request has no `X-Teleport-Challenge` header.', action: 'Sign the challenge in X-Teleport-Challenge.', scopes: IAM },
  iam_challenge_mismatch: { status: 400, meaning: 'The `X-Teleport-Challenge` header differs from the challenge.', action: 'Sign the challenge the request names.', scopes: IAM },
  iam_challenge_not_signed: { status: 400, meaning: '`X-Teleport-Challenge` is not listed in the SigV4 `SignedHeaders`.', action: 'Include the header in the signature.', scopes: IAM },
  // IAM: the shape of the signed STS request (refused before any network call).
  iam_sts_method: { status: 400, meaning: 'The signed request is not a `POST`.', action: 'Sign a POST.', scopes: IAM },
  iam_sts_url_invalid: { status: 400, meaning: 'The URL is not an absolute URL, or has a fragment or white space.', action: 'Sign https://sts.<region>.amazonaws.com/.', scopes: IAM },
  iam_sts_scheme: { status: 400, meaning: 'The URL is not `https`.', action: 'Sign an https URL.', scopes: IAM },
  iam_sts_userinfo: { status: 400, meaning: 'The URL has a user-info part (`user@host`).', action: 'Sign a URL without user-info.', scopes: IAM },
  iam_sts_port: { status: 400, meaning: 'The URL names a port.', action: 'Sign a URL without a port.', scopes: IAM },
  iam_sts_trailing_dot: { status: 400, meaning: 'The host ends with a dot.', action: 'Sign the host without the trailing dot.', scopes: IAM },
  iam_sts_host_not_allowed: { status: 400, meaning: 'The host is not a known AWS STS endpoint (IP literals included).', action: 'Sign a request to an AWS STS endpoint.', scopes: IAM },
  iam_sts_path: { status: 400, meaning: 'The path is not exactly `/`.', action: 'Sign the path /.', scopes: IAM },
  iam_sts_query: { status: 400, meaning: 'The URL has a query string.', action: 'Put the action in the body.', scopes: IAM },
  iam_sts_body: { status: 400, meaning: 'The body is not exactly `Action=GetCallerIdentity&Version=2011-06-15`.', action: 'Sign exactly that body.', scopes: IAM },
  iam_sts_header_invalid: { status: 400, meaning: 'A header name or value is not valid HTTP, or is a connection-level header (or a wrong `Content-Length`).', action: 'Send only the headers the signature needs.', scopes: IAM },
  iam_sts_header_repeated: { status: 400, meaning: 'A header appears more than once, in any letter case.', action: 'Send each header once.', scopes: IAM },
  iam_sts_authorization_missing: { status: 400, meaning: 'No `Authorization` header.', action: 'Send the SigV4 Authorization header.', scopes: IAM },
  iam_sts_authorization_duplicate: { status: 400, meaning: 'More than one `Authorization` header.', action: 'Send one Authorization header.', scopes: IAM },
  iam_sts_authorization_invalid: { status: 400, meaning: '`Authorization` is not an `AWS4-HMAC-SHA256` signature for the `sts` service.', action: 'Sign with SigV4 for sts.', scopes: IAM },
  iam_sts_host_header_missing: { status: 400, meaning: 'No `Host` header.', action: 'Sign the Host header.', scopes: IAM },
  iam_sts_host_header_mismatch: { status: 400, meaning: 'The `Host` header differs from the URL host.', action: 'Sign the URL\'s host.', scopes: IAM },
  iam_sts_host_not_signed: { status: 400, meaning: '`Host` is not listed in the SigV4 `SignedHeaders`.', action: 'Include Host in the signature.', scopes: IAM },
  // IAM: the answer of STS.
  iam_sts_unreachable: { status: 403, meaning: 'STS could not be reached or did not answer in time.', action: 'Check the server\'s egress (HTTPS_PROXY) and JOINERY_IAM_STS_TIMEOUT_MS.', scopes: IAM },
  iam_sts_throttled: { status: 429, meaning: 'STS throttled the request.', action: 'Retry later.', scopes: IAM },
  iam_sts_denied: { status: 403, meaning: 'STS refused the signed request (bad signature, unknown or expired credentials, ...).', action: 'Check the host\'s AWS credentials and clock.', scopes: IAM },
  iam_sts_error: { status: 403, meaning: 'STS answered with another non-200 status (5xx, redirect, ...).', action: 'Retry; the message carries the status.', scopes: IAM },
  iam_sts_response_too_large: { status: 403, meaning: 'The STS answer exceeded 64 KiB.', action: 'Check that the signed host is really STS.', scopes: IAM },
  iam_sts_response_invalid: { status: 403, meaning: 'The STS answer is not exactly one well-formed GetCallerIdentity result.', action: 'Check that the signed host is really STS.', scopes: IAM },
  iam_identity_invalid: { status: 403, meaning: 'The identity has an empty `Account` or `Arn`, or the ARN is in another account.', action: 'Report it: STS answered something unexpected.', scopes: IAM },
  // IAM: the allow rules.
  iam_account_not_allowed: { status: 403, meaning: 'No allow rule admits the caller\'s account.', action: 'Add the account to a rule; the audit and the dry-run list each rule\'s failed checks.', scopes: IAM },
  iam_arn_not_allowed: { status: 403, meaning: 'A rule admits the account, but no `aws_arn` pattern matches the caller\'s ARN.', action: 'Widen the rule\'s aws_arn; the audit and the dry-run list each rule\'s failed checks.', scopes: IAM },
  aws_organization_not_allowed: { status: 403, meaning: 'An organization rule\'s conditions do not hold: the account is in another organization, in none the server can see, in none of the included OUs, or under an excluded one.', action: 'Check aws_organization_id / aws_organizational_units; the message says which condition failed.', scopes: IAM },
  aws_organizations_unavailable: { status: 403, meaning: 'The server could not look the account up in AWS Organizations (no credentials, access denied, AWS error or timeout).', action: 'The message says what to fix; the server needs organizations:DescribeAccount and ListParents.', scopes: IAM },
  aws_organizations_throttled: { status: 429, meaning: 'AWS Organizations throttled the lookup.', action: 'Retry after Retry-After.', scopes: IAM },
  // Renewal.
  client_certificate_required: { status: 401, meaning: 'No TLS client certificate was presented.', action: 'Present the host certificate and its key.', scopes: RENEW },
  certificate_untrusted: { status: 403, meaning: 'The client certificate is not one this cluster issued to a host (another cluster\'s CA, even of the same name; a bad signature; an unknown serial; or from before the host last joined).', action: 'Renew against the cluster that issued the certificate; a host of another cluster joins this one anew.', scopes: RENEW },
  certificate_expired: { status: 403, meaning: 'The client certificate has expired (or is not yet valid).', action: 'The host joins again.', scopes: RENEW },
  node_removed: { status: 403, meaning: 'The host was removed (`joinery nodes rm`); its certificates are revoked and on /v1/crl.', action: 'The host joins again to get a new identity.', scopes: RENEW },
  certificate_superseded: { status: 403, meaning: 'The client certificate was already renewed; only the newest certificate renews.', action: 'Renew with the newest certificate; if the identity was copied, remove the node.', scopes: RENEW },
  renewal_too_frequent: { status: 429, meaning: 'The host already holds the most unexpired certificates allowed (32).', action: 'Renew again when older certificates expire.', scopes: RENEW },
} as const satisfies Record<string, Refusal>;

export type RefusalCode = keyof typeof REFUSALS;

/** A refusal with its registered status. */
export function refuse(code: RefusalCode, message: string, details?: Record<string, unknown>): JoinError {
  return new JoinError(code, message, REFUSALS[code].status, details);
}

/** Whether `code` is registered for `scope` (a method's codes include those of every method). */
export function inScope(code: RefusalCode, scope: RefusalScope): boolean {
  const scopes = REFUSALS[code].scopes as readonly RefusalScope[];
  return scopes.includes(scope) || (scope !== 'renew' && scope !== 'join' && scopes.includes('join'));
}

/** The codes one join method or the renewal can give, in registry order. */
export function refusalsFor(scope: RefusalScope): Record<string, Refusal> {
  return Object.fromEntries(Object.entries(REFUSALS).filter(([code]) => inScope(code as RefusalCode, scope)));
}

/** The markdown table docs/*.md carry between `<!-- refusal-codes:SCOPE -->` markers. */
export function refusalTable(scope: RefusalScope): string {
  const rows = Object.entries(refusalsFor(scope)).map(([code, r]) => `| \`${code}\` | ${r.status} | ${r.meaning} | ${r.action} |`);
  return ['| Code | Status | Meaning | What to do |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
