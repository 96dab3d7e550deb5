// Plumbing every join method shares: find the token and check it may be used, then register the
// host and issue its certificate. Method-specific proof (a token name, an EC2 identity document,
// a signed STS request) lives in one file per method beside this one.

import { timingSafeEqual, createHash, type KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import { isExpired, type JoinMethod, type ProvisionToken } from '../../schema/token';
import type { ServerConfig } from '../config';
import type { ClusterCA } from '../ca/ca';
import { AlreadyExistsError, type Store } from '../store/types';
import { JoinError, badJoinRequest } from './errors';

/** What a join handler may use. `now` is injectable so tests can move the clock. */
export interface JoinServices {
  store: Store;
  ca: ClusterCA;
  config: ServerConfig;
  log: Logger;
  now(): Date;
}

export interface JoinResponse {
  host_id: string;
  certificate: string;
  ca_certificates: string[];
}

/** Facts about an attempt, recorded in the audit log whether it succeeds or not. */
export interface JoinAttempt {
  method: JoinMethod;
  tokenName?: string;
  hostId?: string;
  details: Record<string, unknown>;
}

const MAX_FIELD = 1024;

/** A required, bounded string field of a join request body. */
export function requireString(body: Record<string, unknown>, field: string, max = MAX_FIELD): string {
  const v = body[field];
  if (typeof v !== 'string' || v.length === 0) throw badJoinRequest('invalid_request', `${field} is required and must be a non-empty string`);
  if (v.length > max) throw badJoinRequest('invalid_request', `${field} is longer than ${max} characters`);
  return v;
}

// The agent's public key is read strictly in its own module; re-exported under its old home.
export { parseAgentPublicKey } from './public-key';

function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/**
 * Loads the named token and checks it can be used for this method and role. The refusals are
 * distinct so an operator can tell a typo from an expiry from a misconfigured token.
 */
export async function requireJoinToken(svc: JoinServices, tokenName: string, method: JoinMethod, role: string): Promise<ProvisionToken> {
  const stored = await svc.store.tokens.get(tokenName);
  // For the token method the name is the secret: compare in constant time after the lookup, so a
  // case-folding or trimming backend cannot turn a near miss into a match.
  if (!stored || (method === 'token' && !sameSecret(stored.token.metadata.name, tokenName))) {
    throw new JoinError('token_not_found', method === 'token' ? 'the join token is not valid' : `token ${JSON.stringify(tokenName)} does not exist`);
  }
  const token = stored.token;
  if (isExpired(token, svc.now())) {
    throw new JoinError('token_expired', `token ${method === 'token' ? '' : JSON.stringify(tokenName) + ' '}expired at ${token.metadata.expires}`);
  }
  if (token.spec.join_method !== method) {
    throw new JoinError('join_method_mismatch', `token uses join_method ${token.spec.join_method}, but this is a ${method} join`);
  }
  const canonical = token.spec.roles.find((r) => r.toLowerCase() === role.toLowerCase());
  if (!canonical) {
    throw new JoinError('role_not_allowed', `role ${JSON.stringify(role)} is not allowed by this token (allowed: ${token.spec.roles.join(', ')})`);
  }
  return token;
}

/**
 * Registers the host and issues its certificate. The node insert is the point of no return and
 * is unique on host ID, so of two concurrent joins of one host exactly one gets a certificate.
 */
export async function admitHost(
  svc: JoinServices,
  req: { hostId: string; token: ProvisionToken; role: string; publicKey: KeyObject; attributes: Record<string, string> },
): Promise<JoinResponse> {
  // The role as the token spells it (requireJoinToken already checked it is there).
  const role = req.token.spec.roles.find((r) => r.toLowerCase() === req.role.toLowerCase()) ?? req.role;
  const issued = await svc.ca.issueHostCertificate({ publicKey: req.publicKey, hostId: req.hostId, role, ttlMs: svc.config.hostCertTtlMs, now: svc.now() });
  try {
    await svc.store.nodes.insert({
      hostId: req.hostId,
      joinMethod: req.token.spec.join_method,
      tokenName: req.token.metadata.name,
      role,
      joinedAt: svc.now().toISOString(),
      certSerial: issued.serial,
      attributes: req.attributes,
    });
  } catch (e) {
    if (e instanceof AlreadyExistsError) {
      throw new JoinError('host_already_joined', `host ${req.hostId} has already joined; an operator can remove it with \`joinery nodes rm ${req.hostId}\` to allow a new join`, 409);
    }
    throw e;
  }
  return { host_id: req.hostId, certificate: issued.certPem, ca_certificates: [svc.ca.certPem] };
}
