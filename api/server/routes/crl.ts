// GET /v1/crl (public: relying services fetch it without credentials), served from the CRL
// publisher's cache. A relying service that polls sends If-None-Match and gets 304 until the
// content changes; the ETag is weak and carries the CRL number, so any replica answers it alike.
// Each trusted CA signs its own CRL (the same revoked serials): `?ca=<pin>` picks one of the CAs
// GET /v1/ca lists; without it the CRL is the one of the CA that signs host certificates now.

import { Router } from 'express';
import { CRL_MAX_AGE_SECONDS, CrlPublisher, matchesEtag } from '../../ca/crl-publisher';
import type { JoinServices } from '../../join/admit';
import { HttpError } from '../errors';
import { sendPaced } from '../paced-body';

export function crlRoutes(svc: JoinServices): Router {
  const router = Router();
  // One publisher per CA, made when first asked for; a CA no longer trusted loses its publisher.
  const publishers = new Map<string, CrlPublisher>();
  router.get('/', async (req, res) => {
    const format = req.query.format ?? 'der';
    if (format !== 'der' && format !== 'pem') throw new HttpError(400, 'invalid_query', 'format must be der or pem', 'format');
    const pin = req.query.ca;
    if (pin !== undefined && typeof pin !== 'string') throw new HttpError(400, 'invalid_query', 'ca must be one pin', 'ca');
    const ca = pin === undefined ? svc.ca : svc.trust.byPin(pin.toLowerCase());
    if (!ca) throw new HttpError(404, 'ca_not_trusted', `no CA this cluster trusts has the pin ${JSON.stringify(pin!.slice(0, 80))}; GET /v1/ca lists them`, 'ca');
    for (const known of publishers.keys()) if (!svc.trust.byPin(known)) publishers.delete(known);
    let publisher = publishers.get(ca.pin);
    if (!publisher) publishers.set(ca.pin, (publisher = new CrlPublisher(svc.store, ca, { now: svc.now, hostCertTtlMs: svc.config.hostCertTtlMs })));
    const crl = await publisher.current();
    // Weak: two replicas' CRLs of one number list the same serials but differ in their signatures.
    // The CA's pin is in it: two CAs' CRLs of one number are different documents.
    const etag = `W/"${crl.number.toString(16)}-${ca.pin.slice(7, 23)}-${format}"`;
    res.setHeader('ETag', etag);
    res.setHeader('Cache-Control', `public, max-age=${CRL_MAX_AGE_SECONDS}`);
    if (matchesEtag(req.headers['if-none-match'], etag)) {
      res.status(304).end();
      return;
    }
    // Written in slices (paced-body.ts): a CRL of a large fleet is megabytes for TLS to encrypt,
    // and one write would encrypt it all before any join or renewal got a turn.
    res.status(200).setHeader('Content-Type', format === 'pem' ? 'application/x-pem-file; charset=utf-8' : 'application/pkix-crl');
    await sendPaced(res, format === 'pem' ? crl.pem() : crl.der, { stallMs: svc.config.requestTimeoutMs });
  });
  return router;
}
