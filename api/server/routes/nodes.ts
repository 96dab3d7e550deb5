// The registry of joined hosts (admin only). Removal revokes: the row stays with status `removed`,
// renewal is refused, and the host's unexpired certificates go on the CRL.

import { Router } from 'express';
import { parseGoDuration } from '../../../schema/duration';
import { shownTokenName } from '../../../schema/token';
import { nodeStatus, type NodeFilter, type NodeRecord, type NodeStatus, type Store } from '../../store/types';
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
    last_seen: n.lastSeen ?? n.lastRenewedAt ?? n.joinedAt,
    agent_version: n.agentVersion ?? null,
    hostname: n.hostname ?? null,
    // The verified identity, from the join method's proof (never from what the agent says).
    identity: identityView(n.attributes),
    labels: n.labels ?? {},
  };
}

function identityView(a: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  if (a.account) out.aws_account = a.account;
  if (a.region) out.aws_region = a.region;
  if (a.instance_id) out.instance_id = a.instance_id;
  if (a.arn) out.arn = a.arn;
  return out;
}

const STATUSES: readonly NodeStatus[] = ['active', 'expired', 'removed'];
const FILTER_PARAMS = ['status', 'method', 'token', 'label', 'stale', 'limit', 'page_token'];

function oneValue(query: Record<string, unknown>, name: string): string | undefined {
  const v = query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > 512) throw new HttpError(400, 'invalid_query', `${name} must be given once, as a non-empty value of at most 512 characters`, name);
  return v;
}

/** The inventory's filters from the query string: status, method, token, label=k=v (repeatable), stale=1h. */
export function parseNodeFilter(query: Record<string, unknown>, now: Date): NodeFilter {
  for (const key of Object.keys(query)) {
    if (!FILTER_PARAMS.includes(key)) throw new HttpError(400, 'invalid_query', `unknown query parameter ${JSON.stringify(key.slice(0, 64))}; GET /v1/nodes takes ${FILTER_PARAMS.join(', ')}`, key.slice(0, 64));
  }
  const filter: NodeFilter = {};
  const status = oneValue(query, 'status');
  if (status !== undefined) {
    if (!STATUSES.includes(status as NodeStatus)) throw new HttpError(400, 'invalid_query', `status must be one of ${STATUSES.join(', ')}`, 'status');
    filter.status = status as NodeStatus;
  }
  filter.method = oneValue(query, 'method');
  filter.token = oneValue(query, 'token');
  const stale = oneValue(query, 'stale');
  if (stale !== undefined) {
    const ms = parseGoDuration(stale);
    if (ms === undefined || ms <= 0) throw new HttpError(400, 'invalid_query', `stale must be a positive duration such as "1h" or "30m" (got ${JSON.stringify(stale.slice(0, 32))})`, 'stale');
    filter.seenBefore = new Date(now.getTime() - ms);
  }
  const labels = query.label === undefined ? [] : Array.isArray(query.label) ? query.label : [query.label];
  if (labels.length > 16) throw new HttpError(400, 'invalid_query', 'at most 16 label filters', 'label');
  for (const l of labels) {
    const eq = typeof l === 'string' ? l.indexOf('=') : -1;
    if (typeof l !== 'string' || eq <= 0 || l.length > 512) throw new HttpError(400, 'invalid_query', 'label must be KEY=VALUE (such as aws/team=payments)', 'label');
    (filter.labels ??= {})[l.slice(0, eq)] = l.slice(eq + 1);
  }
  return filter;
}

export function nodeRoutes(store: Store, now: () => Date): Router {
  const router = Router();
  const pageTokens = new PageTokens(store.settings);
  router.get('/', async (req, res) => {
    const t = now();
    const filter = parseNodeFilter(req.query, t);
    const page = await store.nodes.list(await parsePageQuery(req.query, 'nodes', pageTokens), filter, t);
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
