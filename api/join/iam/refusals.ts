// Every way an IAM join can be refused, each with its own machine-readable code and (in the
// description) its HTTP status. The OpenAPI document and docs/iam.md list them from here.

import { JoinError } from '../errors';

const REFUSALS = {
  // The join request body.
  invalid_request: [400, 'token_name or role is missing or not a string, or the body has an unknown field.'],
  invalid_public_key: [400, 'public_key is not an accepted PEM public key.'],
  iam_sts_request_invalid: [400, 'sts_request is not {method, url, headers: [[name, value], ...], body} with bounded, printable strings.'],
  // The token (shared with every join method).
  token_not_found: [403, 'No token has this name.'],
  token_expired: [403, 'The token has expired.'],
  join_method_mismatch: [403, 'The token is not an iam token.'],
  role_not_allowed: [403, 'The token does not grant the requested role.'],
  // The challenge.
  iam_challenge_missing: [400, 'The request carries no challenge (fetch one from POST /v1/join/iam/challenge).'],
  iam_challenge_unknown: [403, 'The challenge was not issued by this cluster.'],
  iam_challenge_expired: [403, 'The challenge has expired; fetch a new one.'],
  iam_challenge_used: [403, 'The challenge was already used; every join needs a new one.'],
  iam_challenge_header_missing: [400, 'The signed request has no X-Teleport-Challenge header.'],
  iam_challenge_mismatch: [400, 'The X-Teleport-Challenge header differs from the challenge.'],
  iam_challenge_not_signed: [400, 'X-Teleport-Challenge is not listed in the SigV4 SignedHeaders.'],
  // The shape of the signed STS request (refused before any network call).
  iam_sts_method: [400, 'The signed request is not a POST.'],
  iam_sts_url_invalid: [400, 'The signed request URL is not an absolute URL (or has a fragment).'],
  iam_sts_scheme: [400, 'The signed request URL is not https.'],
  iam_sts_userinfo: [400, 'The signed request URL has a user-info part (user@host).'],
  iam_sts_port: [400, 'The signed request URL names a port.'],
  iam_sts_trailing_dot: [400, 'The signed request host ends with a dot.'],
  iam_sts_host_not_allowed: [400, 'The signed request host is not a known AWS STS endpoint.'],
  iam_sts_path: [400, 'The signed request path is not exactly /.'],
  iam_sts_query: [400, 'The signed request URL has a query string.'],
  iam_sts_body: [400, 'The signed request body is not exactly Action=GetCallerIdentity&Version=2011-06-15.'],
  iam_sts_header_invalid: [400, 'A header name or value is not valid HTTP, or is a hop-by-hop header that cannot be forwarded.'],
  iam_sts_header_repeated: [400, 'A header appears more than once (in any letter case).'],
  iam_sts_authorization_missing: [400, 'The signed request has no Authorization header.'],
  iam_sts_authorization_duplicate: [400, 'The signed request has more than one Authorization header.'],
  iam_sts_authorization_invalid: [400, 'The Authorization header is not an AWS4-HMAC-SHA256 signature for the sts service.'],
  iam_sts_host_header_missing: [400, 'The signed request has no Host header.'],
  iam_sts_host_header_mismatch: [400, 'The Host header differs from the URL host.'],
  iam_sts_host_not_signed: [400, 'The Host header is not listed in the SigV4 SignedHeaders.'],
  // The answer of STS.
  iam_sts_unreachable: [403, 'STS could not be reached or did not answer in time.'],
  iam_sts_throttled: [429, 'STS throttled the request; retry later.'],
  iam_sts_denied: [403, 'STS refused the signed request (4xx: bad signature, expired credentials, ...).'],
  iam_sts_error: [403, 'STS answered with an error other than a refusal (5xx, redirect, ...).'],
  iam_sts_response_too_large: [403, 'The STS answer exceeded the size limit.'],
  iam_sts_response_invalid: [403, 'The STS answer is not one well-formed GetCallerIdentity result (JSON or XML).'],
  iam_identity_invalid: [403, 'The STS identity has an empty Account or Arn, or the ARN is in another account.'],
  // The allow rules.
  iam_account_not_allowed: [403, 'No allow rule names the caller account.'],
  iam_arn_not_allowed: [403, 'An allow rule names the account, but no rule pattern matches the caller ARN.'],
  // AWS Organizations conditions of an allow rule (looked up with the server's own credentials).
  aws_organization_not_allowed: [403, 'The caller account is not in the allowed organization, is in none of the included organizational units, or is under an excluded one.'],
  aws_organizations_unavailable: [403, 'The server could not look the account up in AWS Organizations (no credentials, access denied, AWS error or timeout).'],
  aws_organizations_throttled: [429, 'AWS Organizations throttled the account lookup; retry later.'],
  // Registration.
  host_already_joined: [409, 'The generated host ID is already registered (practically never for IAM).'],
} as const satisfies Record<string, readonly [number, string]>;

export type IamRefusalCode = keyof typeof REFUSALS;

/** Code -> what it means and its HTTP status, for the OpenAPI document and the docs. */
export const IAM_REFUSAL_CODES: Record<string, string> = Object.fromEntries(
  Object.entries(REFUSALS).map(([code, [status, text]]) => [code, `${text.replace(/\.$/, '')} (${status}).`]),
);

/** A refused IAM join, with the status its code is documented with. */
export function iamRefusal(code: IamRefusalCode, message: string): JoinError {
  return new JoinError(code, message, REFUSALS[code][0]);
}
