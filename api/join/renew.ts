// Renewal: a joined host trades its current certificate, presented as the TLS client certificate,
// for a new one with the same host ID and role. The TLS handshake proved possession of the old key,
// so the certificate itself is the credential; the join token is not consulted again (deleting a
// token stops new joins, not the identities it already granted: remove the node for that).

import { X509Certificate, type KeyObject } from 'node:crypto';
import { normalizeSerial } from '../store/migrations';
import { ConflictError, NotFoundError, type AuditEvent } from '../store/types';
import { parseAgentPublicKey, type JoinResponse, type JoinServices } from './admit';
import { JoinError, badJoinRequest } from './errors';

/**
 * How many unexpired certificates one host may hold. An agent renews at two thirds of the
 * lifetime, so it holds two or three; the bound keeps a renewal flood from growing the
 * certificate table and, once the host is removed, the CRL without limit.
 */
export const MAX_LIVE_CERTIFICATES_PER_HOST = 32;

/** Every code a renewal can be refused with, and what it means. For the OpenAPI document and docs. */
export const RENEW_REFUSAL_CODES: Record<string, string> = {
  client_certificate_required: '401: no TLS client certificate was presented; present the host certificate and its key.',
  certificate_untrusted: '403: the client certificate is not one this cluster issued to a host (other CA, bad signature, unknown serial, or from before the host last joined).',
  certificate_expired: '403: the client certificate has expired (or is not yet valid); the host must join again.',
  node_removed: '403: the host was removed (`joinery nodes rm`); its certificates are revoked and listed on /v1/crl.',
  certificate_superseded: '403: the client certificate was already renewed; only the host\'s newest certificate renews, so a copied identity cannot live on beside the host (remove the node if it was copied).',
  renewal_too_frequent: `429: the host already holds ${MAX_LIVE_CERTIFICATES_PER_HOST} unexpired certificates; renew again when older ones expire.`,
  invalid_request: '400: the body is not a JSON object.',
  invalid_public_key: '400: public_key is not a PEM SubjectPublicKeyInfo of an accepted type (EC P-256/P-384, RSA 2048+, Ed25519).',
};

/** Facts about a renewal, audited whether it succeeds or not. */
export interface RenewAttempt {
  hostId?: string;
  details: Record<string, unknown>;
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
  return new JoinError('certificate_untrusted', message);
}

/** The presented certificate, checked against this cluster's CA (unless the handshake did) and clock. */
function checkPresented(svc: JoinServices, presented: Buffer | PresentedCertificate, now: Date): X509Certificate {
  let cert: X509Certificate;
  try {
    cert = Buffer.isBuffer(presented) ? new X509Certificate(presented) : presented.certificate;
  } catch {
    throw untrusted('the client certificate cannot be parsed');
  }
  const ca = svc.ca.certificate;
  const verified = !Buffer.isBuffer(presented) && presented.chainVerified;
  if (!verified && (!cert.checkIssued(ca) || !cert.verify(ca.publicKey))) throw untrusted(`the client certificate (issuer ${cert.issuer.replace(/\n/g, ', ')}) is not signed by this cluster's CA`);
  const notAfter = Date.parse(cert.validTo);
  const notBefore = Date.parse(cert.validFrom);
  // Unreadable validity fails closed.
  if (Number.isNaN(notAfter) || notAfter <= now.getTime()) throw new JoinError('certificate_expired', `the client certificate expired at ${Number.isNaN(notAfter) ? cert.validTo : new Date(notAfter).toISOString()}; the host must join again`);
  if (Number.isNaN(notBefore) || notBefore > now.getTime()) throw new JoinError('certificate_expired', `the client certificate is not valid before ${cert.validFrom}; check the server clock`);
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
    throw new JoinError('client_certificate_required', 'renewal needs the host certificate as the TLS client certificate (with its key)', 401);
  }
  const now = svc.now();
  const presented = checkPresented(svc, der, now);
  attempt.details.serial = presented.serialNumber.toLowerCase();

  // The serial must be one this cluster issued to a host: a valid signature alone would also
  // admit the server's own TLS certificate.
  const found = await svc.store.nodes.certificate(presented.serialNumber);
  if (!found) throw untrusted(`the client certificate (serial ${presented.serialNumber.toLowerCase()}) was not issued to a host by this cluster`);
  const { certificate, node } = found;
  attempt.hostId = certificate.hostId;
  if (!node || node.removedAt || certificate.revokedAt) {
    throw new JoinError('node_removed', `host ${certificate.hostId} was removed${node?.removedAt ? ` at ${node.removedAt}` : ''}; its certificates are revoked, and it must join again to get a new identity`);
  }
  // A host that lapsed and joined again starts a new identity; certificates from before do not carry over.
  if (certificate.issuedAt < node.joinedAt) throw untrusted(`the client certificate was issued before host ${node.hostId} last joined (${node.joinedAt})`);
  // Only the newest certificate renews: an older one still verifies until it expires, but if it
  // could renew, a copy of the identity (a backup, an image) would live on beside the host.
  if (normalizeSerial(certificate.serial) !== normalizeSerial(node.certSerial)) {
    throw new JoinError('certificate_superseded', `the client certificate (serial ${normalizeSerial(certificate.serial)}) was already renewed; host ${node.hostId} renews with its newest certificate (serial ${normalizeSerial(node.certSerial)}). If this identity was copied, remove the node`);
  }
  if ((await svc.store.nodes.countLiveCertificates(node.hostId, now)) >= MAX_LIVE_CERTIFICATES_PER_HOST) {
    throw new JoinError('renewal_too_frequent', `host ${node.hostId} already holds ${MAX_LIVE_CERTIFICATES_PER_HOST} unexpired certificates; renew again when older ones expire`, 429);
  }

  if (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body))) throw badJoinRequest('invalid_request', 'the request body must be a JSON object (or empty)');
  for (const key of Object.keys((body as Record<string, unknown> | undefined) ?? {})) {
    if (key !== 'public_key') throw badJoinRequest('invalid_request', `unknown field ${JSON.stringify(key.slice(0, 64))}; a renewal body may only carry public_key`);
  }
  const requested = (body as Record<string, unknown> | undefined)?.public_key;
  let publicKey: KeyObject = presented.publicKey;
  if (requested !== undefined) {
    publicKey = parseAgentPublicKey(requested);
    attempt.details.key_rotated = true;
  }

  const issued = await svc.ca.issueHostCertificate({ publicKey, hostId: node.hostId, role: node.role, ttlMs: svc.config.hostCertTtlMs, now });
  attempt.details.new_serial = issued.serial;
  try {
    await svc.store.nodes.renew(node.hostId, { serial: issued.serial, issuedAt: now.toISOString(), notAfter: issued.notAfter.toISOString() }, certificate.serial, audit?.(attempt));
  } catch (e) {
    delete attempt.details.new_serial; // not issued after all: the refusal's audit event must not name it
    // Removed between the check above and the write: removal wins, the new certificate is dropped.
    if (e instanceof NotFoundError) throw new JoinError('node_removed', `host ${node.hostId} was removed; it must join again`);
    // Another renewal with the same certificate won the race.
    if (e instanceof ConflictError) throw new JoinError('certificate_superseded', `the client certificate was renewed by another request at the same time; host ${node.hostId} renews with its newest certificate`);
    throw e;
  }
  return { host_id: node.hostId, certificate: issued.certPem, ca_certificates: [svc.ca.certPem], expires_at: issued.notAfter.toISOString() };
}
