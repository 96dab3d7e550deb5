// The registry of joined hosts (admin only). Removal revokes: the row stays with status `removed`,
// renewal is refused, and the host's unexpired certificates go on the CRL.

import { Router } from 'express';
import { shownTokenName } from '../../../schema/token';
import { nodeStatus, type NodeRecord, type Store } from '../../store/types';
import { HttpError } from '../errors';
import { PageTokens, pageBody, parsePageQuery } from '../pagination';

export function nodeView(n: NodeRecord, now: Date) {
  return {
    host_id: n.hostId,
    join_method: n.joinMethod,
    // For the token method the name is the secret the host joined with.
    token_name: shownTokenName(n.tokenName, { spec: { join_method: n.joinMethod } }),
    role: n.role,
    joined_at: n.joinedAt,
    last_renewed_at: n.lastRenewedAt ?? null,
    cert_serial: n.certSerial,
    cert_expires_at: n.certNotAfter,
    status: nodeStatus(n, now),
    removed_at: n.removedAt ?? null,
    attributes: n.attributes,
  };
}

export function nodeRoutes(store: Store, now: () => Date): Router {
  const router = Router();
  const pageTokens = new PageTokens(store.settings);
  router.get('/', async (req, res) => {
    const t = now();
    const page = await store.nodes.list(await parsePageQuery(req.query, 'nodes', pageTokens));
    res.json(await pageBody('nodes', page, (n) => nodeView(n, t), (n) => n.hostId, pageTokens));
  });
  router.get('/:hostId', async (req, res) => {
    const n = await store.nodes.get(req.params.hostId);
    if (!n) throw new HttpError(404, 'not_found', `node ${JSON.stringify(req.params.hostId)} not found`);
    res.json(nodeView(n, now()));
  });
  // Idempotent: removing a removed node changes nothing and answers 204 again.
  router.delete('/:hostId', async (req, res) => {
    const t = now();
    const outcome = await store.nodes.remove(req.params.hostId, t);
    if (outcome === 'not_found') throw new HttpError(404, 'not_found', `node ${JSON.stringify(req.params.hostId)} not found`);
    if (outcome === 'removed') await store.audit.append({ time: t.toISOString(), type: 'node.delete', success: true, hostId: req.params.hostId });
    res.status(204).end();
  });
  return router;
}
