// Token CRUD (admin only). Bodies are validated by the shared schema; responses carry the stored
// resource with server defaults and the revision, plus a read-only status.

import { randomBytes } from 'node:crypto';
import { Router } from 'express';
import { inferJoinMethod, isExpired, parseToken, shownTokenName, type ProvisionToken } from '../../../schema/token';
import { fromKubernetesManifest } from '../../../schema/manifest';
import { CLIENT_HEADER, MANAGED_BY_LABEL, MAX_LABELS, RECORDED_CLIENTS } from '../../../schema/token-fields';
import type { JoinServices } from '../../join/admit';
import { testTokens } from '../../join/dry-run';
import { NotFoundError, type Store, type StoredToken } from '../../store/types';
import { parseBody } from '../body';
import { HttpError } from '../errors';
import { PageTokens, pageBody, parsePageQuery } from '../pagination';

export function tokenView(stored: StoredToken, now = new Date()): ProvisionToken & { status: { expired: boolean } } {
  return { ...stored.token, status: { expired: isExpired(stored.token, now) } };
}

function requireObjectBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'invalid_token', 'the request body must be a token resource (an object with kind, version, metadata and spec)');
  }
  // A TeleportProvisionToken manifest (the Kubernetes form of the seed's token) is the same token.
  return fromKubernetesManifest(body) as Record<string, unknown>;
}

/** For the token method an empty name means "generate the secret for me", as `tctl tokens add` does. */
function withGeneratedName(body: Record<string, unknown>): Record<string, unknown> {
  const md = body.metadata as Record<string, unknown> | undefined;
  const spec = body.spec as Record<string, unknown> | undefined;
  const nameUnset = md === undefined || md === null || (typeof md === 'object' && (md.name === undefined || md.name === null || md.name === ''));
  const allow = spec && typeof spec === 'object' ? spec.allow : undefined;
  const method = spec && typeof spec === 'object' ? spec.join_method || inferJoinMethod(allow) : undefined;
  if (!nameUnset || method !== 'token') return body;
  return { ...body, metadata: { ...(md ?? {}), name: randomBytes(16).toString('hex') } };
}


/**
 * Records which tool manages the token: the MANAGED_BY_LABEL the body declares is kept (the CDKTF
 * constructs declare "cdktf"; a read-edit-write keeps the owner, so the edit shows as drift), and
 * when it has none, the client that wrote it, named in its CLIENT_HEADER. teleport.dev/origin is
 * left as Teleport defines it. Malformed labels are left for parseToken to refuse.
 */
function withManager(body: Record<string, unknown>, client: string | undefined): Record<string, unknown> {
  if (!client || !(RECORDED_CLIENTS as readonly string[]).includes(client)) return body;
  const md = body.metadata;
  if (md !== undefined && md !== null && (typeof md !== 'object' || Array.isArray(md))) return body;
  const labels = (md as Record<string, unknown> | undefined)?.labels;
  if (labels !== undefined && labels !== null && (typeof labels !== 'object' || Array.isArray(labels))) return body;
  if (labels && Object.prototype.hasOwnProperty.call(labels, MANAGED_BY_LABEL)) return body;
  // A token at the label bound is stored unrecorded rather than refused for a label it never asked for.
  if (labels && Object.keys(labels).length >= MAX_LABELS) return body;
  return { ...body, metadata: { ...(md as object | undefined), labels: { ...(labels as object | undefined), [MANAGED_BY_LABEL]: client } } };
}

export function tokenRoutes(store: Store, svc?: JoinServices): Router {
  const router = Router();
  const body = parseBody({ yaml: true });

  // The dry run: a captured proof against one token or every token of its method; changes nothing.
  if (svc) {
    const json = parseBody({ yaml: false });
    router.post('/test', json, async (req, res) => {
      res.json(await testTokens(svc, undefined, req.body));
    });
    router.post('/:name/test', json, async (req, res) => {
      res.json(await testTokens(svc, String(req.params.name), req.body));
    });
  }
  const audit = (type: string, token: ProvisionToken) =>
    store.audit.append({ time: new Date().toISOString(), type, success: true, tokenName: shownTokenName(token.metadata.name, token) });

  const pageTokens = new PageTokens(store.settings);
  router.get('/', async (req, res) => {
    const now = new Date();
    const page = await store.tokens.list(await parsePageQuery(req.query, 'tokens', pageTokens));
    res.json(await pageBody('tokens', page, (t) => tokenView(t, now), (t) => t.token.metadata.name, pageTokens));
  });

  router.post('/', body, async (req, res) => {
    const token = parseToken(withManager(withGeneratedName(requireObjectBody(req.body)), req.get(CLIENT_HEADER)));
    const stored = await store.tokens.create(token);
    await audit('token.create', stored.token);
    res.status(201).location(`/v1/tokens/${encodeURIComponent(token.metadata.name)}`).json(tokenView(stored));
  });

  router.get('/:name', async (req, res) => {
    const stored = await store.tokens.get(req.params.name);
    if (!stored) throw new HttpError(404, 'not_found', `token ${JSON.stringify(req.params.name)} not found`);
    res.json(tokenView(stored));
  });

  router.put('/:name', body, async (req, res) => {
    const raw = requireObjectBody(req.body);
    const md = (raw.metadata ?? {}) as Record<string, unknown>;
    if (md.name !== undefined && md.name !== req.params.name) {
      throw new HttpError(400, 'name_mismatch', `metadata.name ${JSON.stringify(md.name)} differs from the name in the URL ${JSON.stringify(req.params.name)}; renaming is delete + create`, 'metadata.name');
    }
    const token = parseToken(withManager({ ...raw, metadata: { ...md, name: req.params.name } }, req.get(CLIENT_HEADER)));
    const { stored, created } = await store.tokens.put(token, token.metadata.revision);
    await audit(created ? 'token.create' : 'token.update', stored.token);
    res.status(created ? 201 : 200).json(tokenView(stored));
  });

  router.delete('/:name', async (req, res) => {
    const stored = await store.tokens.get(req.params.name);
    if (!stored || !(await store.tokens.delete(req.params.name))) throw new NotFoundError(`token ${JSON.stringify(req.params.name)}`);
    await audit('token.delete', stored.token);
    res.status(204).end();
  });
  return router;
}
