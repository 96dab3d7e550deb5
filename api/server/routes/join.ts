// Public join endpoints: POST /v1/join/<method> for each module of api/join/methods.ts, and
// POST /v1/join/<method>/challenge for the methods with a challenge (iam). The pipeline (api/join/pipeline.ts) checks, admits and audits; this file only
// turns its outcome into an HTTP answer and counts it.

import { Router } from 'express';
import type { JoinServices } from '../../join/admit';
import { JoinError } from '../../join/errors';
import { joinMethodModules } from '../../join/methods';
import { runJoin } from '../../join/pipeline';
import { parseBody } from '../body';
import { clientAddress } from '../client-address';
import { toHttpError } from '../errors';
import type { Metrics } from '../metrics';
import { retryAfterFrom } from '../rate-limit';

export function joinRoutes(svc: JoinServices, metrics: Metrics): Router {
  const router = Router();
  router.use(parseBody({ yaml: false }));
  for (const mod of joinMethodModules()) {
    const method = mod.method;
    // A fresh single-use challenge, for the methods that bind one into their proof (iam; stored, so any replica can verify it).
    const challenge = mod.challenge;
    if (challenge) {
      router.post(`/${method}/challenge`, async (_req, res) => {
        try {
          res.status(200).json(await challenge.issue(svc));
        } catch (e) {
          retryAfterFrom(res, e);
          throw e;
        }
      });
    }
    router.post(`/${method}`, async (req, res) => {
      try {
        const result = await runJoin(svc, mod, req.body, { remoteAddr: clientAddress(req, svc.config.trustProxy) });
        if (result.kind === 'joined') metrics.joins.inc({ method, result: 'accepted', code: 'ok' });
        res.status(200).json(result.response);
      } catch (err) {
        const { status, body } = toHttpError(err);
        const code = body.error.code;
        if (status >= 500) svc.log.error({ err, method }, 'join failed unexpectedly');
        metrics.joins.inc({ method, result: 'refused', code });
        svc.log.info({ method, code }, 'join refused');
        retryAfterFrom(res, err);
        res.status(status).json(body);
      }
    });
  }
  return router;
}

export { JoinError };
