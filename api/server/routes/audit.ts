// GET /v1/audit (admin): the audit, newest first, filtered server-side and paged like the other
// lists. GET /v1/audit/schema (public: schemas hold no secrets): the JSON Schemas of its events.

import { Router, type RequestHandler } from 'express';
import { maskTokenName } from '../../../schema/token';
import { auditEventView, eventTypeInfo } from '../../audit/catalog';
import { bundleSchema, eventSchema } from '../../audit/schemas';
import { SINCE_HELP, sinceInstant } from '../../audit/since';
import { AUDIT_LIMITS } from '../../store/audit-bounds';
import type { AuditQuery, Store } from '../../store/types';
import { HttpError } from '../errors';
import { PageTokens, pageBody, parsePageQuery } from '../pagination';

/** The filters of GET /v1/audit, besides limit and page_token. */
export const AUDIT_FILTERS = {
  type: 'only this event type (join.token, join.ec2, join.iam, renew, token.create, ...)',
  refused: 'true: only refused attempts (success false)',
  token: 'only this token; a token-method name is matched against its masked form, as events hold it',
  host: 'only this host ID',
  code: 'only this refusal code',
  since: `only events at or after this time: ${SINCE_HELP}`,
} as const;

function invalid(field: string, message: string): HttpError {
  return new HttpError(400, 'invalid_query', message, field);
}

function one(query: Record<string, unknown>, field: string): string | undefined {
  const v = query[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalid(field, `${field} must be given once, as a plain value`);
  if (v.length === 0 || v.length > AUDIT_LIMITS.field) throw invalid(field, `${field} must be 1 to ${AUDIT_LIMITS.field} characters`);
  return v;
}

function parseSince(text: string, now: Date): string {
  const at = sinceInstant(text, now);
  if (at === undefined) throw invalid('since', `since must be ${SINCE_HELP} (got ${JSON.stringify(text.slice(0, 64))})`);
  return at;
}

/** The store query a request's filters name. */
export function auditQuery(query: Record<string, unknown>, now: Date): Omit<AuditQuery, 'limit' | 'beforeId'> {
  for (const key of Object.keys(query)) {
    if (key !== 'limit' && key !== 'page_token' && !(key in AUDIT_FILTERS)) {
      throw invalid(key, `unknown query parameter ${JSON.stringify(key.slice(0, 64))}; the filters are ${Object.keys(AUDIT_FILTERS).join(', ')}`);
    }
  }
  const refused = one(query, 'refused');
  if (refused !== undefined && refused !== 'true' && refused !== 'false') throw invalid('refused', 'refused must be true or false');
  const token = one(query, 'token');
  const since = one(query, 'since');
  return {
    type: one(query, 'type'),
    refused: refused === 'true',
    // Events of the token method hold the name masked (it is the secret); a name that short is no token-method secret.
    tokenNames: token === undefined ? undefined : token.length >= 16 ? [...new Set([token, maskTokenName(token)])] : [token],
    hostId: one(query, 'host'),
    code: one(query, 'code'),
    since: since === undefined ? undefined : parseSince(since, now),
  };
}

export function auditRoutes(store: Store, adminOnly: RequestHandler, now: () => Date): Router {
  const router = Router();
  const bundle = JSON.stringify(bundleSchema());
  router.get('/schema', (req, res) => {
    const type = req.query.type;
    if (type === undefined) return void res.type('application/schema+json').send(bundle);
    const info = typeof type === 'string' ? eventTypeInfo(type) : undefined;
    if (!info) throw new HttpError(404, 'not_found', `no audit event type ${JSON.stringify(String(type).slice(0, 64))}`, 'type');
    res.type('application/schema+json').send(JSON.stringify(eventSchema(info)));
  });

  const pageTokens = new PageTokens(store.settings);
  router.get('/', adminOnly, async (req, res) => {
    const filters = auditQuery(req.query as Record<string, unknown>, now());
    const page = await parsePageQuery(req.query, 'events', pageTokens);
    const beforeId = page.after === undefined ? undefined : Number(page.after);
    if (beforeId !== undefined && !(Number.isSafeInteger(beforeId) && beforeId > 0)) throw new HttpError(400, 'invalid_page_token', 'page_token is not a page token of the audit', 'page_token');
    const found = await store.audit.page({ ...filters, limit: page.limit, beforeId });
    res.json(await pageBody('events', found, auditEventView, (e) => String(e.id), pageTokens));
  });
  return router;
}
