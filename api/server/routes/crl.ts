// GET /v1/crl (public: relying services fetch it without credentials), served from the CRL
// publisher's cache. A relying service that polls sends If-None-Match and gets 304 until the
// content changes; the ETag is weak and carries the CRL number, so any replica answers it alike.

import { Router } from 'express';
import { CRL_MAX_AGE_SECONDS, CrlPublisher, matchesEtag } from '../../ca/crl-publisher';
import type { JoinServices } from '../../join/admit';
import { HttpError } from '../errors';

export function crlRoutes(svc: JoinServices): Router {
  const router = Router();
  const publisher = new CrlPublisher(svc.store, svc.ca, { now: svc.now, hostCertTtlMs: svc.config.hostCertTtlMs });
  router.get('/', async (req, res) => {
    const format = req.query.format ?? 'der';
    if (format !== 'der' && format !== 'pem') throw new HttpError(400, 'invalid_query', 'format must be der or pem', 'format');
    const crl = await publisher.current();
    // Weak: two replicas' CRLs of one number list the same serials but differ in their signatures.
    const etag = `W/"${crl.number.toString(16)}-${format}"`;
    res.setHeader('ETag', etag);
    res.setHeader('Cache-Control', `public, max-age=${CRL_MAX_AGE_SECONDS}`);
    if (matchesEtag(req.headers['if-none-match'], etag)) {
      res.status(304).end();
      return;
    }
    if (format === 'pem') res.type('application/x-pem-file').send(crl.pem());
    else res.type('application/pkix-crl').send(crl.der);
  });
  return router;
}
