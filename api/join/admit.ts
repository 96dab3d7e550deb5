// Plumbing every join method shares: find the token and check it may be used, then register the
// host and issue its certificate. Method-specific proof (a token name, an EC2 identity document,
// a signed STS request) lives in one file per method beside this one.

import { timingSafeEqual, createHash, type KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import { isExpired, nameIsSecret, shownTokenName, type JoinMethod, type ProvisionToken } from '../../schema/token';
import { canonicalRole, grantedRole } from '../../schema/roles';
import type { ServerConfig } from '../config';
import type { ClusterCA } from '../ca/ca';
import type { CaTrust } from '../ca/trust';
import type { JoinAws } from './aws';
import { isSafeText } from '../../schema/text-safety';
import { AlreadyExistsError, nodeStatus, type AgentReport, type AuditEvent, type NodeRecord, type Store } from '../store/types';
import { badJoinRequest } from './errors';
import { refuseCaKey } from './public-key';
import { refuse } from './refusals';

/** What a join handler may use. `now` is injectable so tests can move the clock. */
export interface JoinServices {
  store: Store;
  /** The CA that signs host certificates now (during a rotation, trust.hostIssuer). */
  readonly ca: ClusterCA;
  /** Every CA trusted now and the rotation's phase. */
  trust: CaTrust;
  config: ServerConfig;
  log: Logger;
  now(): Date;
  /** AWS clients and the EC2 trust store, built once by startServer. */
  aws: JoinAws;
}

export interface JoinResponse {
  host_id: string;
  certificate: string;
  ca_certificates: string[];
  /** The certificate's notAfter (ISO 8601); the agent renews at two thirds of the lifetime. */
  expires_at: string;
}

const MAX_FIELD = 1024;

/** A required, bounded string field of a join request body. */
export function requireString(body: Record<string, unknown>, field: string, max = MAX_FIELD): string {
  const v = body[field];
  if (typeof v !== 'string' || v.length === 0) throw badJoinRequest('invalid_request', `${field} is required and must be a non-empty string`);
  if (v.length > max) throw badJoinRequest('invalid_request', `${field} is longer than ${max} characters`);
  return v;
}

/** Optional body fields of a join and a renewal in which the agent describes itself. */
export const AGENT_REPORT_FIELDS = ['agent_version', 'hostname'] as const;
const AGENT_REPORT_MAX: Record<(typeof AGENT_REPORT_FIELDS)[number], number> = { agent_version: 64, hostname: 253 };

/**
 * What the agent says of itself: bounded and terminal-safe, for the inventory only. Nothing
 * decides on it (a host can claim any version or name).
 */
export function readAgentReport(body: Record<string, unknown>): AgentReport {
  const report: AgentReport = {};
  for (const field of AGENT_REPORT_FIELDS) {
    const v = body[field];
    if (v === undefined) continue;
    const max = AGENT_REPORT_MAX[field];
    if (typeof v !== 'string' || v.length === 0 || v.length > max || !isSafeText(v)) {
      throw badJoinRequest('invalid_request', `${field}, when given, must be a non-empty string of at most ${max} characters without control or invisible characters`);
    }
    if (field === 'agent_version') report.agentVersion = v;
    else report.hostname = v;
  }
  return report;
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
 * distinct so an operator can tell a typo from an expiry from a misconfigured token. A name is
 * quoted only once the token is known not to be a `token`-method secret; until then a caller may
 * have sent a secret to the wrong endpoint, so it is masked.
 */
export async function requireJoinToken(svc: JoinServices, tokenName: string, method: JoinMethod, role: string): Promise<ProvisionToken> {
  const stored = await svc.store.tokens.get(tokenName);
  // For the token method the name is the secret: compare in constant time after the lookup, so a
  // case-folding or trimming backend cannot turn a near miss into a match.
  if (!stored || (method === 'token' && !sameSecret(stored.token.metadata.name, tokenName))) {
    throw refuse('token_not_found', method === 'token' ? 'the join token is not valid' : `token ${JSON.stringify(shownTokenName(tokenName))} does not exist (name masked: it may be a secret)`);
  }
  checkTokenUsable(stored.token, method, role, svc.now());
  return stored.token;
}

/** A found token may be used now, for this method and (when given) this role; throws the refusal. */
export function checkTokenUsable(token: ProvisionToken, method: JoinMethod, role: string | undefined, now: Date): void {
  const shown = nameIsSecret(token) ? '' : `${JSON.stringify(token.metadata.name)} `;
  if (isExpired(token, now)) {
    throw refuse('token_expired', `token ${shown}expired at ${token.metadata.expires}`);
  }
  if (token.spec.join_method !== method) {
    throw refuse('join_method_mismatch', `token uses join_method ${token.spec.join_method}, but this is a ${method} join`);
  }
  if (role === undefined) return;
  const canonical = grantedRole(token.spec.roles, role);
  if (!canonical) {
    const instanceHint = canonicalRole(role) === 'Instance' ? '; Instance is implied only by a token granting a local service role (Node, Proxy, Kube, App, Db, ...)' : '';
    throw refuse('role_not_allowed', `role ${JSON.stringify(role)} is not allowed by this token (allowed: ${token.spec.roles.join(', ')}${instanceHint})`);
  }
}

/** The refusal for a host whose identity is live: removed or lapsed hosts may join again. */
export function alreadyJoined(hostId: string): ReturnType<typeof refuse> {
  return refuse(
    'host_already_joined',
    `host ${hostId} has already joined and its certificate is still valid; it renews over POST /v1/renew, and may join again once removed (\`joinery nodes rm ${hostId}\`) or once its certificate expired without renewal`,
  );
}

/** Whether a registered host still holds a live identity (not removed, newest certificate unexpired). */
export function isLive(node: NodeRecord | undefined, now: Date): boolean {
  return node !== undefined && nodeStatus(node, now) === 'active';
}

/**
 * A `token`-method token granting the Bot role is single-use, as in Teleport: the first join
 * deletes it. The delete is the claim, so of two concurrent joins exactly one proceeds; should
 * issuing then fail, the token stays spent (fail closed) and the operator makes a new one.
 */
export async function consumeIfSingleUse(svc: JoinServices, token: ProvisionToken, role: string): Promise<void> {
  if (token.spec.join_method !== 'token' || role.toLowerCase() !== 'bot') return;
  if (!(await svc.store.tokens.delete(token.metadata.name))) {
    throw refuse('token_not_found', 'the join token is not valid');
  }
}

/**
 * Registers the host and issues its certificate. The node write is the point of no return: it
 * inserts, or replaces a removed or lapsed row, atomically, so of two concurrent joins of one host
 * exactly one gets a certificate and a live host is refused.
 */
export async function admitHost(
  svc: JoinServices,
  req: { hostId: string; token: ProvisionToken; role: string; publicKey: KeyObject; attributes: Record<string, string>; labels?: Record<string, string>; report?: AgentReport },
  audit?: AuditEvent,
  /** Runs once the certificate is signed, before the host is recorded (a single-use token is used up here). */
  signed?: () => Promise<void>,
): Promise<JoinResponse> {
  for (const ca of svc.trust.trusted) refuseCaKey(ca, req.publicKey);
  // The canonical role (requireJoinToken already checked the token grants it, Instance included).
  const role = grantedRole(req.token.spec.roles, req.role) ?? req.role;
  const now = svc.now();
  const issued = await svc.ca.issueHostCertificate({ publicKey: req.publicKey, hostId: req.hostId, role, ttlMs: svc.config.hostCertTtlMs, now });
  await signed?.();
  try {
    await svc.store.nodes.insert(
      {
        hostId: req.hostId,
        joinMethod: req.token.spec.join_method,
        tokenName: req.token.metadata.name,
        role,
        joinedAt: now.toISOString(),
        certSerial: issued.serial,
        certNotAfter: issued.notAfter.toISOString(),
        attributes: req.attributes,
        lastSeen: now.toISOString(),
        ...req.report,
        ...(req.labels ? { labels: req.labels } : {}),
      },
      now,
      // The accepted join's audit event commits with the node: one transaction per join.
      audit && { ...audit, time: now.toISOString(), hostId: req.hostId },
    );
  } catch (e) {
    if (e instanceof AlreadyExistsError) throw alreadyJoined(req.hostId);
    throw e;
  }
  return { host_id: req.hostId, certificate: issued.certPem, ca_certificates: svc.trust.bundle(), expires_at: issued.notAfter.toISOString() };
}
