// Public join endpoints. Each method's proof is checked in its own module; this file only routes,
// audits every attempt (accepted or refused, with the reason) and counts outcomes.

import { Router, type Request } from 'express';
import type { JoinMethod } from '../../../schema/token';
import type { JoinAttempt, JoinResponse, JoinServices } from '../../join/admit';
import { JoinError, badJoinRequest } from '../../join/errors';
import { joinWithToken } from '../../join/join-token';
import { joinWithEc2 } from '../../join/ec2/join-ec2';
import { issueIamChallenge, joinWithIam } from '../../join/iam/join-iam';
import { parseBody } from '../body';
import { clientAddress } from '../client-address';
import { toHttpError } from '../errors';
import type { Metrics } from '../metrics';
import { retryAfterFrom } from '../rate-limit';

type JoinHandler = (svc: JoinServices, body: Record<string, unknown>, attempt: JoinAttempt) => Promise<JoinResponse>;

/** The join methods and the module that verifies each. */
const JOIN_HANDLERS: Record<JoinMethod, JoinHandler> = {
  token: joinWithToken,
  ec2: joinWithEc2,
  iam: joinWithIam,
};

export function joinRoutes(svc: JoinServices, metrics: Metrics): Router {
  const router = Router();
  router.use(parseBody({ yaml: false }));
  // A fresh single-use challenge for the iam method (stored, so any replica can verify it).
  router.post('/iam/challenge', async (_req, res) => {
    try {
      res.status(200).json(await issueIamChallenge(svc));
    } catch (e) {
      retryAfterFrom(res, e);
      throw e;
    }
  });

  for (const method of Object.keys(JOIN_HANDLERS) as JoinMethod[]) {
    const handler = JOIN_HANDLERS[method];
    router.post(`/${method}`, async (req, res) => {
      const attempt: JoinAttempt = { method, details: {}, remoteAddr: clientAddress(req, svc.config.trustProxy) };
      try {
        if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) {
          throw badJoinRequest('invalid_request', 'the request body must be a JSON object');
        }
        const result = await handler(svc, req.body as Record<string, unknown>, attempt);
        if (!attempt.audited) await audit(svc, req, attempt, true);
        metrics.joins.inc({ method, result: 'accepted', code: 'ok' });
        res.status(200).json(result);
      } catch (err) {
        const { status, body } = toHttpError(err);
        const code = body.error.code;
        if (status >= 500) svc.log.error({ err, method }, 'join failed unexpectedly');
        await audit(svc, req, attempt, false, code, body.error.message).catch((e) => svc.log.error({ err: e }, 'audit write failed'));
        metrics.joins.inc({ method, result: 'refused', code });
        svc.log.info({ method, code, token: attempt.tokenName, hostId: attempt.hostId }, 'join refused');
        res.status(status).json(body);
      }
    });
  }
  return router;
}

async function audit(svc: JoinServices, req: Request, a: JoinAttempt, success: boolean, code?: string, message?: string): Promise<void> {
  await svc.store.audit.append({
    time: svc.now().toISOString(),
    type: `join.${a.method}`,
    success,
    code,
    message,
    tokenName: a.tokenName,
    hostId: a.hostId,
    remoteAddr: clientAddress(req, svc.config.trustProxy),
    details: a.details,
  });
}

export { JoinError };
