// The registry of joined hosts (admin only). Removing a node lets that host join again.

import { Router } from 'express';
import type { NodeRecord, Store } from '../../store/types';
import { HttpError } from '../errors';

export function nodeView(n: NodeRecord) {
  return { host_id: n.hostId, join_method: n.joinMethod, token_name: n.tokenName, role: n.role, joined_at: n.joinedAt, cert_serial: n.certSerial, attributes: n.attributes };
}

export function nodeRoutes(store: Store): Router {
  const router = Router();
  router.get('/', async (_req, res) => {
    res.json({ nodes: (await store.nodes.list()).map(nodeView) });
  });
  router.get('/:hostId', async (req, res) => {
    const n = await store.nodes.get(req.params.hostId);
    if (!n) throw new HttpError(404, 'not_found', `node ${JSON.stringify(req.params.hostId)} not found`);
    res.json(nodeView(n));
  });
  router.delete('/:hostId', async (req, res) => {
    if (!(await store.nodes.delete(req.params.hostId))) throw new HttpError(404, 'not_found', `node ${JSON.stringify(req.params.hostId)} not found`);
    await store.audit.append({ time: new Date().toISOString(), type: 'node.delete', success: true, hostId: req.params.hostId });
    res.status(204).end();
  });
  return router;
}

export function auditRoutes(store: Store): Router {
  const router = Router();
  router.get('/', async (req, res) => {
    const limit = req.query.limit === undefined ? 100 : Number(req.query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new HttpError(400, 'invalid_query', 'limit must be an integer from 1 to 1000', 'limit');
    const type = typeof req.query.type === 'string' ? req.query.type : undefined;
    res.json({ events: await store.audit.list({ limit, type }) });
  });
  return router;
}
