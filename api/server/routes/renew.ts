// POST /v1/renew (a joined host, authenticated by its TLS client certificate) and GET /v1/crl
// (public: relying services fetch it without credentials).

import { clientAddress } from '../client-address';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { Router, type Request } from 'express';
import type { JoinServices } from '../../join/admit';
import { JoinError } from '../../join/errors';
import { checkPresented, renewHost, type RenewAttempt } from '../../join/renew';
import { parseBody } from '../body';
import { HttpError, toHttpError } from '../errors';
import type { Metrics } from '../metrics';

/** Relying parties may cache a CRL this long; removal reaches them within it. */
const CRL_MAX_VALIDITY_MS = 3600_000;

/** The DER of the client certificate the TLS layer received, if any (not verified: renewHost does). */
function presentedCertificate(req: Request): Buffer | undefined {
  const socket = req.socket as TLSSocket;
  if (typeof socket.getPeerCertificate !== 'function') return undefined;
  const peer = socket.getPeerCertificate(false);
  return peer && peer.raw ? Buffer.from(peer.raw) : undefined;
}

export function renewRoutes(svc: JoinServices, metrics: Metrics): Router {
  const router = Router();
  router.post('/', parseBody({ yaml: false }), async (req, res) => {
    const attempt: RenewAttempt = { details: {} };
    try {
      const result = await renewHost(svc, presentedCertificate(req), req.body, attempt);
      await audit(svc, req, attempt, true);
      metrics.renewals.inc({ result: 'accepted', code: 'ok' });
      res.status(200).json(result);
    } catch (err) {
      const { status, body } = toHttpError(err);
      const code = body.error.code;
      if (status >= 500) svc.log.error({ err }, 'renewal failed unexpectedly');
      await audit(svc, req, attempt, false, code, body.error.message).catch((e) => svc.log.error({ err: e }, 'audit write failed'));
      metrics.renewals.inc({ result: 'refused', code });
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
    const body = JSON.stringify({ error: { code: refusal.code, message } });
    socket.end(['HTTP/1.1 403 Forbidden', 'Content-Type: application/json; charset=utf-8', `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close', '', body].join('\r\n'));
    setTimeout(() => socket.destroy(), 5_000).unref();
  };
}

export function crlRoutes(svc: JoinServices): Router {
  const router = Router();
  router.get('/', async (req, res) => {
    const format = req.query.format ?? 'der';
    if (format !== 'der' && format !== 'pem') throw new HttpError(400, 'invalid_query', 'format must be der or pem', 'format');
    const now = svc.now();
    const revoked = await svc.store.nodes.revokedCertificates(now);
    const crl = await svc.ca.createCrl({
      entries: revoked.map((c) => ({ serial: c.serial, revokedAt: new Date(c.revokedAt!) })),
      thisUpdate: now,
      nextUpdate: new Date(now.getTime() + Math.min(CRL_MAX_VALIDITY_MS, svc.config.hostCertTtlMs)),
      number: BigInt(now.getTime()),
    });
    res.setHeader('Cache-Control', 'no-cache');
    if (format === 'pem') res.type('application/x-pem-file').send(crl.pem);
    else res.type('application/pkix-crl').send(crl.der);
  });
  return router;
}

async function audit(svc: JoinServices, req: Request, a: RenewAttempt, success: boolean, code?: string, message?: string): Promise<void> {
  await svc.store.audit.append({
    time: svc.now().toISOString(),
    type: 'renew',
    success,
    code,
    message,
    hostId: a.hostId,
    remoteAddr: clientAddress(req, svc.config.trustProxy),
    details: a.details,
  });
}
