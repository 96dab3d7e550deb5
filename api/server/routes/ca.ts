// GET /v1/ca (public): every CA the cluster trusts now, with its pin and its part in a rotation.
// POST /v1/ca/rotate (admin): starts a CA rotation, moves it to a phase, or rolls it back.

import { Router, type RequestHandler } from 'express';
import { ROTATION_PHASES, RotationError, checkGrace, parseDuration, type RotationPhase } from '../../ca/rotation';
import type { RotateRequest } from '../../ca/trust';
import type { JoinServices } from '../../join/admit';
import { parseBody } from '../body';
import { HttpError } from '../errors';

const FIELDS = new Set(['phase', 'rollback', 'manual', 'grace', 'new_key']);

function rotateRequest(body: unknown, hostCertTtlMs: number): RotateRequest {
  if (body === undefined) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'invalid_request', 'the request body must be a JSON object');
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) if (!FIELDS.has(key)) throw new HttpError(400, 'invalid_request', `unknown field ${JSON.stringify(key.slice(0, 64))}; a rotation takes ${[...FIELDS].join(', ')}`, key.slice(0, 64));
  const req: RotateRequest = {};
  if (b.phase !== undefined) {
    if (typeof b.phase !== 'string' || !ROTATION_PHASES.includes(b.phase as RotationPhase)) throw new HttpError(400, 'invalid_request', `phase must be one of ${ROTATION_PHASES.join(', ')}`, 'phase');
    req.phase = b.phase as RotationPhase;
  }
  for (const flag of ['rollback', 'manual'] as const) {
    if (b[flag] !== undefined && typeof b[flag] !== 'boolean') throw new HttpError(400, 'invalid_request', `${flag} must be true or false`, flag);
    if (b[flag]) req[flag] = true;
  }
  if (b.grace !== undefined) {
    if (typeof b.grace !== 'string') throw new HttpError(400, 'invalid_request', 'grace must be a duration such as 48h', 'grace');
    try {
      req.graceMs = parseDuration(b.grace);
      checkGrace(req.graceMs, hostCertTtlMs, b.grace);
    } catch (err) {
      throw new HttpError(400, 'invalid_request', (err as Error).message, 'grace');
    }
  }
  if (b.new_key !== undefined) {
    if (typeof b.new_key !== 'string' || b.new_key.length > 2048) throw new HttpError(400, 'invalid_request', 'new_key must be a CA key setting (file:<path>, awskms:<key>, pkcs11:<URI>)', 'new_key');
    req.newKey = b.new_key;
  }
  const starting = !req.phase && !req.rollback;
  if (req.phase && req.rollback) throw new HttpError(400, 'invalid_request', 'give phase or rollback, not both', 'rollback');
  if (!starting && (req.newKey !== undefined || req.graceMs !== undefined || req.manual)) {
    throw new HttpError(400, 'invalid_request', 'new_key, grace and manual are for starting a rotation (no phase, no rollback)', req.newKey !== undefined ? 'new_key' : req.graceMs !== undefined ? 'grace' : 'manual');
  }
  if (req.manual && req.graceMs !== undefined) throw new HttpError(400, 'invalid_request', 'grace is how long each phase of an automatic rotation lasts, and manual steps the phases by hand: give one or the other', 'grace');
  if (req.phase === 'rollback') {
    delete req.phase;
    req.rollback = true;
  }
  return req;
}

export function caRoutes(svc: JoinServices, adminOnly: RequestHandler): Router {
  const router = Router();
  router.get('/', (_req, res) => {
    res.json(svc.trust.view());
  });
  router.post('/rotate', adminOnly, parseBody({ yaml: false }), async (req, res) => {
    // `?phase=standby` with no body would otherwise start a new rotation: the fields are read from the body only.
    const query = Object.keys(req.query as Record<string, unknown>);
    if (query.length) throw new HttpError(400, 'invalid_request', `POST /v1/ca/rotate reads its fields from the JSON body, not the query (${JSON.stringify(query[0].slice(0, 64))}); send e.g. {"phase": "update_clients"}`, query[0].slice(0, 64));
    const request = rotateRequest(req.body, svc.config.hostCertTtlMs);
    try {
      const view = await svc.trust.rotate(request, svc.now());
      svc.log.info({ phase: view.phase, pins: view.cas.map((c) => c.pin) }, 'CA rotation changed');
      const message = `CA rotation: phase ${view.phase} (${view.mode}); trusted ${view.cas.map((c) => c.pin).join(', ')}`;
      await svc.store.audit.append({ time: svc.now().toISOString(), type: 'ca.rotate', success: true, message });
      // For the admin alone (GET /v1/ca is public): where each CA's key is, so replicas on key
      // files can be given a copy of a new one at the same path.
      res.json({ ...view, cas: view.cas.map((c) => ({ ...c, key: svc.trust.byPin(c.pin)?.signer.describe() })) });
    } catch (err) {
      if (err instanceof RotationError) throw new HttpError(err.code === 'rotation_in_progress' || err.code === 'invalid_phase_transition' || err.code === 'rotation_not_followed' ? 409 : 400, err.code, err.message, err.code === 'invalid_new_key' || err.code === 'new_key_required' ? 'new_key' : undefined);
      throw err;
    }
  });
  return router;
}
