// POST /v1/renew (a joined host, authenticated by its TLS client certificate) and GET /v1/crl
// (public: relying services fetch it without credentials).

import { clientAddress } from '../client-address';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { Router, type Request } from 'express';
import type { JoinServices } from '../../join/admit';
import { JoinError } from '../../join/errors';
import { checkPresented, renewHost, type PresentedCertificate, type RenewAttempt } from '../../join/renew';
import type { AuditEvent } from '../../store/types';
import { parseBody } from '../body';
import { rawErrorResponse } from '../client-error';
import { toHttpError } from '../errors';
import type { Metrics } from '../metrics';

// GET /v1/crl lives in ./crl; app.ts mounts it from here.
export { crlRoutes } from './crl';

/** The client certificate the TLS layer received and parsed, if any, and whether its chain verified. */
function presentedCertificate(req: Request): PresentedCertificate | undefined {
  const socket = req.socket as TLSSocket;
  const certificate = typeof socket.getPeerX509Certificate === 'function' ? socket.getPeerX509Certificate() : undefined;
  return certificate ? { certificate, chainVerified: socket.authorized === true } : undefined;
}

export function renewRoutes(svc: JoinServices, metrics: Metrics): Router {
  const router = Router();
  router.post('/', parseBody({ yaml: false }), async (req, res) => {
    const attempt: RenewAttempt = { details: {} };
    try {
      // The success event commits with the renewal.
      const result = await renewHost(svc, presentedCertificate(req), req.body, attempt, (a) => auditEvent(svc, req, a, true));
      metrics.renewals.inc({ result: 'accepted', code: 'ok', ca: attempt.issuedByPin ?? 'none' });
      res.status(200).json(result);
    } catch (err) {
      const { status, body } = toHttpError(err);
      const code = body.error.code;
      if (status >= 500) svc.log.error({ err }, 'renewal failed unexpectedly');
      await audit(svc, req, attempt, false, code, body.error.message).catch((e) => svc.log.error({ err: e }, 'audit write failed'));
      metrics.renewals.inc({ result: 'refused', code, ca: 'none' });
      svc.log.info({ code, hostId: attempt.hostId }, 'renewal refused');
      res.status(status).json(body);
    }
  });
  return router;
}

/**
 * OpenSSL checks a client certificate itself before any route sees it. Under TLS 1.2, a chain
 * whose issuer carries this CA's name but another key (a genuine host certificate of another
 * cluster of the same name, sent with its CA, or a client that appended ours) leaves an error that
 * breaks the connection at its first read, which the HTTP layer would answer with a bare 400.
 * This answers such a connection as the renew route would, certificate_untrusted, and audits it;
 * every other parser error goes to `fallback`.
 */
export function untrustedCertificateAnswer(svc: JoinServices, fallback: (err: Error & { code?: string }, socket: Duplex) => void): (err: Error & { code?: string }, socket: Duplex) => void {
  return (err, socket) => {
    const tlsSocket = socket as TLSSocket;
    const peer = /^ERR_SSL_/.test(err.code ?? '') && typeof tlsSocket.getPeerCertificate === 'function' && socket.writable ? tlsSocket.getPeerCertificate(false) : undefined;
    if (!peer?.raw) return fallback(err, socket);
    const attempt: RenewAttempt = { details: {} };
    let refusal: unknown;
    try {
      checkPresented(svc, Buffer.from(peer.raw), svc.now(), attempt);
    } catch (e) {
      refusal = e;
    }
    if (!(refusal instanceof JoinError) || refusal.code !== 'certificate_untrusted') return fallback(err, socket);
    const message = `${refusal.message} (refused in the TLS layer: the request on this connection was not read)`;
    svc.store.audit
      .append({ time: svc.now().toISOString(), type: 'renew', success: false, code: refusal.code, message, remoteAddr: tlsSocket.remoteAddress, details: attempt.details })
      .catch((e) => svc.log.error({ err: e }, 'audit write failed'));
    socket.end(rawErrorResponse(403, refusal.code, message));
    setTimeout(() => socket.destroy(), 5_000).unref();
  };
}

async function audit(svc: JoinServices, req: Request, a: RenewAttempt, success: boolean, code?: string, message?: string): Promise<void> {
  await svc.store.audit.append(auditEvent(svc, req, a, success, code, message));
}

function auditEvent(svc: JoinServices, req: Request, a: RenewAttempt, success: boolean, code?: string, message?: string): AuditEvent {
  return {
    time: svc.now().toISOString(),
    type: 'renew',
    success,
    code,
    message,
    hostId: a.hostId,
    remoteAddr: clientAddress(req, svc.config.trustProxy),
    details: { ...a.details },
  };
}
