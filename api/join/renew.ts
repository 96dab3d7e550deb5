// Renewal: a joined host trades its current certificate, presented as the TLS client certificate,
// for a new one with the same host ID and role. The TLS handshake proved possession of the old key,
// so the certificate itself is the credential; the join token is not consulted again (deleting a
// token stops new joins, not the identities it already granted: remove the node for that).

import { X509Certificate, type KeyObject } from 'node:crypto';
import { normalizeSerial } from '../store/migrations';
import { ConflictError, NotFoundError, type AuditEvent } from '../store/types';
import { AGENT_REPORT_FIELDS, parseAgentPublicKey, readAgentReport, type JoinResponse, type JoinServices } from './admit';
import { refuseIfLocked, subjectOfNode } from './locks';
import { refuseCaKey } from './public-key';
import { JoinError, badJoinRequest } from './errors';
import { refuse } from './refusals';

/**
 * How many unexpired certificates one host may hold. An agent renews at two thirds of the
 * lifetime, so it holds two or three; the bound keeps a renewal flood from growing the
 * certificate table and, once the host is removed, the CRL without limit.
 */
export const MAX_LIVE_CERTIFICATES_PER_HOST = 32;

/** Facts about a renewal, audited whether it succeeds or not. */
export interface RenewAttempt {
  hostId?: string;
  details: Record<string, unknown>;
  /** The pin of the trusted CA that issued the presented certificate. */
  issuerPin?: string;
  /** The pin of the CA that issued the new certificate. */
  issuedByPin?: string;
}

/**
 * The client certificate as the TLS layer holds it: already parsed, and whether its chain verified
 * against the cluster CA in the handshake (the server asks for client certificates with the CA as
 * its trust anchor, but lets unverified ones through so renewal can say why it refuses them).
 */
export interface PresentedCertificate {
  certificate: X509Certificate;
  chainVerified: boolean;
}

function untrusted(message: string): JoinError {
  return refuse('certificate_untrusted', message);
}

/**
 * The presented certificate, checked against this cluster's CA (unless the TLS handshake already
 * verified its chain) and clock. Its serial and issuer go to the audit first.
 */
export function checkPresented(svc: JoinServices, presented: Buffer | PresentedCertificate, now: Date, attempt: RenewAttempt): X509Certificate {
  let cert: X509Certificate;
  try {
    cert = Buffer.isBuffer(presented) ? new X509Certificate(presented) : presented.certificate;
  } catch {
    throw untrusted('the client certificate cannot be parsed');
  }
  attempt.details.serial = cert.serialNumber.toLowerCase();
  attempt.details.issuer = cert.issuer.replace(/\n/g, ', ');
  const issuer = svc.trust.issuerOf(cert, !Buffer.isBuffer(presented) && presented.chainVerified);
  if (issuer) attempt.issuerPin = issuer.pin;
  if (!issuer) {
    const retired = svc.trust.retiredIssuerPin(cert);
    if (retired) {
      throw untrusted(
        `the client certificate was issued by the CA ${retired}, which this cluster no longer trusts: the cluster CA was rotated (it is now ${svc.trust.trusted.map((ca) => ca.pin).join(' and ')}); the host must join again`,
      );
    }
    const ca = svc.ca.certificate;
    // The same name as this CA but another key: a host of another cluster of that name, or of a CA that was replaced.
    const sameName = cert.issuer === ca.subject;
    throw untrusted(
      `the client certificate (issuer ${attempt.details.issuer}) is not signed by this cluster's CA${sameName ? ` (it names this cluster's CA, ${JSON.stringify(svc.ca.clusterName)}, but another key signed it: a certificate of another cluster of the same name, or of a CA that was replaced; that host joins this cluster anew)` : ''}`,
    );
  }
  const notAfter = Date.parse(cert.validTo);
  const notBefore = Date.parse(cert.validFrom);
  // Unreadable validity fails closed.
  if (Number.isNaN(notAfter) || notAfter <= now.getTime()) throw refuse('certificate_expired', `the client certificate expired at ${Number.isNaN(notAfter) ? cert.validTo : new Date(notAfter).toISOString()}; the host must join again`);
  if (Number.isNaN(notBefore) || notBefore > now.getTime()) throw refuse('certificate_expired', `the client certificate is not valid before ${cert.validFrom}; check the server clock`);
  return cert;
}

/**
 * Renews the host identified by the presented certificate (its DER, or as the TLS layer holds it;
 * undefined when the client sent none). `body` may carry a new `public_key` to rotate the host's
 * key. With `audit`, the success event it makes is written in the renewal's transaction.
 */
export async function renewHost(
  svc: JoinServices,
  der: Buffer | PresentedCertificate | undefined,
  body: unknown,
  attempt: RenewAttempt,
  audit?: (attempt: RenewAttempt) => AuditEvent,
): Promise<JoinResponse> {
  if (!der || (Buffer.isBuffer(der) && der.length === 0)) {
    throw refuse('client_certificate_required', 'renewal needs the host certificate as the TLS client certificate (with its key)');
  }
  const now = svc.now();
  const presented = checkPresented(svc, der, now, attempt);

  // The serial must be one this cluster issued to a host: a valid signature alone would also
  // admit the server's own TLS certificate.
  const found = await svc.store.nodes.certificate(presented.serialNumber);
  if (!found) throw untrusted(`the client certificate (serial ${presented.serialNumber.toLowerCase()}) was not issued to a host by this cluster`);
  const { certificate, node } = found;
  attempt.hostId = certificate.hostId;
  // A lock refuses at once, and says so (its creation put the certificate on the CRL too).
  if (node) await refuseIfLocked(svc.store, subjectOfNode(node), now);
  if (!node || node.removedAt || certificate.revokedAt) {
    throw refuse('node_removed', `host ${certificate.hostId} was removed${node?.removedAt ? ` at ${node.removedAt}` : ''}; its certificates are revoked, and it must join again to get a new identity`);
  }
  // A host that lapsed and joined again starts a new identity; certificates from before do not carry over.
  if (certificate.issuedAt < node.joinedAt) throw untrusted(`the client certificate was issued before host ${node.hostId} last joined (${node.joinedAt})`);
  // Only the newest certificate renews: an older one still verifies until it expires, but if it
  // could renew, a copy of the identity (a backup, an image) would live on beside the host.
  if (normalizeSerial(certificate.serial) !== normalizeSerial(node.certSerial)) {
    throw refuse('certificate_superseded', `the client certificate (serial ${normalizeSerial(certificate.serial)}) was already renewed; host ${node.hostId} renews with its newest certificate (serial ${normalizeSerial(node.certSerial)}). If this identity was copied, remove the node`);
  }
  if ((await svc.store.nodes.countLiveCertificates(node.hostId, now)) >= MAX_LIVE_CERTIFICATES_PER_HOST) {
    throw refuse('renewal_too_frequent', `host ${node.hostId} already holds ${MAX_LIVE_CERTIFICATES_PER_HOST} unexpired certificates; renew again when older ones expire`);
  }

  if (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body))) throw badJoinRequest('invalid_request', 'the request body must be a JSON object (or empty)');
  for (const key of Object.keys((body as Record<string, unknown> | undefined) ?? {})) {
    if (key !== 'public_key' && !(AGENT_REPORT_FIELDS as readonly string[]).includes(key)) {
      throw badJoinRequest('invalid_request', `unknown field ${JSON.stringify(key.slice(0, 64))}; a renewal body may carry public_key, ${AGENT_REPORT_FIELDS.join(', ')}`);
    }
  }
  const report = readAgentReport((body as Record<string, unknown> | undefined) ?? {});
  const requested = (body as Record<string, unknown> | undefined)?.public_key;
  let publicKey: KeyObject = presented.publicKey;
  if (requested !== undefined) {
    publicKey = parseAgentPublicKey(requested);
    attempt.details.key_rotated = true;
  }
  for (const ca of svc.trust.trusted) refuseCaKey(ca, publicKey);

  const issuingCa = svc.ca;
  const issued = await issuingCa.issueHostCertificate({ publicKey, hostId: node.hostId, role: node.role, ttlMs: svc.config.hostCertTtlMs, now });
  attempt.details.new_serial = issued.serial;
  attempt.issuedByPin = issuingCa.pin;
  try {
    await svc.store.nodes.renew(node.hostId, { serial: issued.serial, issuedAt: now.toISOString(), notAfter: issued.notAfter.toISOString() }, certificate.serial, audit?.(attempt), report);
  } catch (e) {
    delete attempt.details.new_serial; // not issued after all: the refusal's audit event must not name it
    // Removed between the check above and the write: removal wins, the new certificate is dropped.
    if (e instanceof NotFoundError) throw refuse('node_removed', `host ${node.hostId} was removed; it must join again`);
    // Another renewal with the same certificate won the race.
    if (e instanceof ConflictError) throw refuse('certificate_superseded', `the client certificate was renewed by another request at the same time; host ${node.hostId} renews with its newest certificate`);
    throw e;
  }
  return { host_id: node.hostId, certificate: issued.certPem, ca_certificates: svc.trust.bundle(), expires_at: issued.notAfter.toISOString() };
}
