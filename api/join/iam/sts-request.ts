// Strict validation of the client-built sts:GetCallerIdentity request. The server forwards this
// request to AWS, so it must be exactly the one harmless request and nothing else: a fixed
// method, an allowlisted host, a fixed path and body, and a single SigV4 signature that covers
// the challenge. Every refusal here happens before any network call.

import { isAllowedStsHost } from './sts-endpoints';
import { iamRefusal } from './refusals';

export const GET_CALLER_IDENTITY_BODY = 'Action=GetCallerIdentity&Version=2011-06-15';
export const CHALLENGE_HEADER = 'X-Teleport-Challenge';

const MAX_HEADERS = 64;
const MAX_HEADER_NAME = 256;
const MAX_HEADER_VALUE = 8192;
const MAX_URL = 2048;
const MAX_BODY = 8192;
// RFC 9110 token characters.
const HEADER_NAME_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Visible ASCII, space and tab: no CR/LF (header injection), no NUL, nothing Node would refuse.
const HEADER_VALUE_RE = /^[\t\x20-\x7e]*$/;
// Framing and hop-by-hop headers describe this connection, not the signed request; forwarding
// them could desynchronise the outbound connection.
const FORBIDDEN_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'expect', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate']);
// AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/sts/aws4_request, SignedHeaders=a;b, Signature=hex
const SIGV4_RE =
  /^AWS4-HMAC-SHA256 Credential=([A-Za-z0-9]{16,128})\/([0-9]{8})\/([a-z0-9-]{1,32})\/([a-z0-9-]{1,32})\/aws4_request, ?SignedHeaders=([a-z0-9!#$%&'*+.^_`|~-]+(?:;[a-z0-9!#$%&'*+.^_`|~-]+)*), ?Signature=([0-9a-f]{64})$/;
const URL_RE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$/;

/** The request as the client sent it, with types and sizes checked. */
export interface StsRequestInput {
  method: string;
  url: string;
  headers: [string, string][];
  body: string;
}

/** A request that passed every check: safe to forward to `host`. */
export interface ValidatedStsRequest {
  /** The allowlisted STS host, lower case. */
  host: string;
  /** The headers exactly as signed, in the client's order and case. */
  headers: [string, string][];
  body: string;
  accessKeyId: string;
  credentialRegion: string;
  signedHeaders: string[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Checks types and bounds only (400 iam_sts_request_invalid); meaning is checked later. */
export function parseStsRequestShape(raw: unknown): StsRequestInput {
  const bad = (why: string) => iamRefusal('iam_sts_request_invalid', `sts_request ${why}`);
  if (!isObject(raw)) throw bad('is required: an object {method, url, headers, body}');
  for (const key of Object.keys(raw)) {
    if (!['method', 'url', 'headers', 'body'].includes(key)) throw bad(`has an unknown field ${JSON.stringify(key)}`);
  }
  const { method, url, headers, body } = raw;
  if (typeof method !== 'string' || method.length === 0 || method.length > 16) throw bad('.method must be a short non-empty string');
  if (typeof url !== 'string' || url.length === 0 || url.length > MAX_URL) throw bad(`.url must be a non-empty string of at most ${MAX_URL} characters`);
  if (typeof body !== 'string' || body.length > MAX_BODY) throw bad(`.body must be a string of at most ${MAX_BODY} characters`);
  if (!Array.isArray(headers) || headers.length > MAX_HEADERS) throw bad(`.headers must be a list of at most ${MAX_HEADERS} [name, value] pairs`);
  const pairs: [string, string][] = [];
  headers.forEach((pair: unknown, i) => {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
      throw bad(`.headers[${i}] must be a [name, value] pair of strings`);
    }
    if (pair[0].length > MAX_HEADER_NAME || pair[1].length > MAX_HEADER_VALUE) throw bad(`.headers[${i}] is too long`);
    pairs.push([pair[0], pair[1]]);
  });
  return { method, url, headers: pairs, body };
}

/** The host of the URL, after the URL is shown to be exactly https://<allowlisted host>/. */
function checkUrl(url: string): string {
  // Parsed by hand rather than with WHATWG URL, which silently drops a default port, accepts
  // backslashes and normalises hosts: every deviation must be visible to be refused.
  if (/[\s\u0000-\u001f\u007f]/.test(url)) throw iamRefusal('iam_sts_url_invalid', 'the STS URL contains white space or control characters');
  const m = URL_RE.exec(url);
  if (!m) throw iamRefusal('iam_sts_url_invalid', `the STS URL ${JSON.stringify(url)} is not an absolute URL`);
  const [, scheme, authority, path, query, fragment] = m;
  if (scheme.toLowerCase() !== 'https') throw iamRefusal('iam_sts_scheme', `the STS URL must use https (got ${scheme}:)`);
  if (fragment !== undefined) throw iamRefusal('iam_sts_url_invalid', 'the STS URL must not have a fragment');
  if (authority.includes('@')) throw iamRefusal('iam_sts_userinfo', 'the STS URL must not contain user information (user@host)');
  if (authority.startsWith('[')) throw iamRefusal('iam_sts_host_not_allowed', `the STS host ${authority} is an IP literal, not an AWS STS endpoint`);
  if (authority.includes(':')) throw iamRefusal('iam_sts_port', 'the STS URL must not name a port');
  if (authority.endsWith('.')) throw iamRefusal('iam_sts_trailing_dot', 'the STS host must not end with a dot');
  const host = authority.toLowerCase();
  if (!isAllowedStsHost(host)) {
    throw iamRefusal('iam_sts_host_not_allowed', `${JSON.stringify(authority)} is not an AWS STS endpoint (expected sts.amazonaws.com or sts.<region>.amazonaws.com)`);
  }
  if (path !== '/') throw iamRefusal('iam_sts_path', `the STS URL path must be exactly / (got ${JSON.stringify(path)})`);
  if (query !== undefined) throw iamRefusal('iam_sts_query', 'the STS URL must not have a query string');
  return host;
}

function checkHeaderSyntax(headers: [string, string][], bodyBytes: number): void {
  const seen = new Map<string, string>();
  for (const [name, value] of headers) {
    if (!HEADER_NAME_RE.test(name)) throw iamRefusal('iam_sts_header_invalid', `header name ${JSON.stringify(name)} is not a valid HTTP token`);
    if (!HEADER_VALUE_RE.test(value)) throw iamRefusal('iam_sts_header_invalid', `header ${name} has characters outside printable ASCII`);
    const lower = name.toLowerCase();
    if (FORBIDDEN_HEADERS.has(lower)) throw iamRefusal('iam_sts_header_invalid', `header ${name} is a connection header and cannot be forwarded`);
    if (lower === 'content-length' && value !== String(bodyBytes)) {
      throw iamRefusal('iam_sts_header_invalid', `Content-Length ${JSON.stringify(value)} does not match the ${bodyBytes}-byte body`);
    }
    const previous = seen.get(lower);
    if (previous !== undefined) {
      if (lower === 'authorization') throw iamRefusal('iam_sts_authorization_duplicate', 'the signed request has more than one Authorization header');
      throw iamRefusal('iam_sts_header_repeated', `header ${name} appears more than once${previous !== name ? ` (also as ${previous})` : ''}`);
    }
    seen.set(lower, name);
  }
}

function findHeader(headers: [string, string][], lowerName: string): string | undefined {
  return headers.find(([n]) => n.toLowerCase() === lowerName)?.[1];
}

/**
 * Everything the request must be before it is forwarded. `challenge` is the value the client
 * claims to have signed; the caller has already consumed it from the store.
 */
export function validateStsRequest(req: StsRequestInput, challenge: string): ValidatedStsRequest {
  if (req.method !== 'POST') throw iamRefusal('iam_sts_method', `the STS request method must be POST (got ${JSON.stringify(req.method)})`);
  const host = checkUrl(req.url);
  if (req.body !== GET_CALLER_IDENTITY_BODY) {
    throw iamRefusal('iam_sts_body', `the STS request body must be exactly ${GET_CALLER_IDENTITY_BODY}`);
  }
  checkHeaderSyntax(req.headers, Buffer.byteLength(req.body));

  const authorization = findHeader(req.headers, 'authorization');
  if (authorization === undefined) throw iamRefusal('iam_sts_authorization_missing', 'the STS request has no Authorization header');
  const sig = SIGV4_RE.exec(authorization);
  if (!sig) throw iamRefusal('iam_sts_authorization_invalid', 'the Authorization header is not an AWS4-HMAC-SHA256 (SigV4) signature');
  const [, accessKeyId, , credentialRegion, service, signedList] = sig;
  if (service !== 'sts') throw iamRefusal('iam_sts_authorization_invalid', `the signature is for service ${service}, not sts`);
  const signedHeaders = signedList.split(';');

  const hostHeader = findHeader(req.headers, 'host');
  if (hostHeader === undefined) throw iamRefusal('iam_sts_host_header_missing', 'the STS request has no Host header');
  if (hostHeader.toLowerCase() !== host) {
    throw iamRefusal('iam_sts_host_header_mismatch', `the Host header ${JSON.stringify(hostHeader)} differs from the URL host ${host}`);
  }
  if (!signedHeaders.includes('host')) throw iamRefusal('iam_sts_host_not_signed', 'the Host header is not covered by the signature');

  const challengeHeader = findHeader(req.headers, CHALLENGE_HEADER.toLowerCase());
  if (challengeHeader === undefined) throw iamRefusal('iam_challenge_header_missing', `the STS request has no ${CHALLENGE_HEADER} header`);
  if (challengeHeader !== challenge) throw iamRefusal('iam_challenge_mismatch', `the ${CHALLENGE_HEADER} header does not carry the challenge`);
  if (!signedHeaders.includes(CHALLENGE_HEADER.toLowerCase())) {
    throw iamRefusal('iam_challenge_not_signed', `the ${CHALLENGE_HEADER} header is not covered by the signature (not in SignedHeaders)`);
  }
  return { host, headers: req.headers, body: req.body, accessKeyId, credentialRegion, signedHeaders };
}
