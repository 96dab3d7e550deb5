// Locks (admin only): GET lists the active ones, POST creates one (and revokes what it matches),
// DELETE removes one. Every change is audited in the transaction that makes it.

import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import { LockRequestError, MAX_ACTIVE_LOCKS, describeLock, lockView, readLockChanges, readLockRequest } from '../../join/locks';
import { isSafeText } from '../../../schema/text-safety';
import type { AuditEvent, LockRecord, Store } from '../../store/types';
import { parseBody } from '../body';
import { HttpError } from '../errors';
import { PageTokens, pageBody, parsePageQuery } from '../pagination';

/** The token a `token` lock names, when it exists: its name is shown unless it is a secret. */
async function lockedToken(store: Store, lock: LockRecord) {
  return lock.kind === 'token' ? (await store.tokens.get(lock.target))?.token : undefined;
}

/** The message quotes the ID only when a terminal can show it safely (it comes from the URL). */
function notFound(id: string): HttpError {
  const shown = isSafeText(id) ? JSON.stringify(id.slice(0, 64)) : '(the ID given)';
  return new HttpError(404, 'not_found', `lock ${shown} not found (removed, or expired)`);
}

/** A lock body that does not hold is the client's mistake: 400 invalid_lock, naming the field. */
function asInvalidLock<T>(read: () => T): T {
  try {
    return read();
  } catch (e) {
    if (e instanceof LockRequestError) throw new HttpError(400, 'invalid_lock', e.message, e.field);
    throw e;
  }
}

export function lockRoutes(store: Store, now: () => Date): Router {
  const router = Router();
  const pageTokens = new PageTokens(store.settings);
  router.get('/', async (req, res) => {
    const page = await store.locks.list(await parsePageQuery(req.query, 'locks', pageTokens), now());
    const tokens = await Promise.all(page.items.map((l) => lockedToken(store, l)));
    const views = new Map(page.items.map((l, i) => [l.id, lockView(l, tokens[i])]));
    res.json(await pageBody('locks', page, (l) => views.get(l.id)!, (l) => l.id, pageTokens));
  });
  router.post('/', parseBody({ yaml: false }), async (req, res) => {
    const t = now();
    const lock = asInvalidLock(() => readLockRequest(req.body, randomUUID(), t));
    // Joins read every active lock; past the bound some would go unread, so creation stops there.
    if ((await store.locks.active(t, MAX_ACTIVE_LOCKS)).length >= MAX_ACTIVE_LOCKS) {
      throw new HttpError(409, 'too_many_locks', `${MAX_ACTIVE_LOCKS} locks are active; remove some (joinery locks rm) or lock by account or token instead of host by host`);
    }
    const token = await lockedToken(store, lock);
    const view = lockView(lock, token);
    const audit: AuditEvent = { time: t.toISOString(), type: 'lock.create', success: true, message: describeLock(lock, token), details: { lock: view } };
    const revoked = await store.locks.create(lock, t, audit);
    res.status(201).json({ ...view, revoked_certificates: revoked });
  });
  router.get('/:id', async (req, res) => {
    const lock = await store.locks.get(req.params.id, now());
    if (!lock) throw notFound(req.params.id);
    res.json(lockView(lock, await lockedToken(store, lock)));
  });
  router.patch('/:id', parseBody({ yaml: false }), async (req, res) => {
    const t = now();
    const id = String(req.params.id);
    const changes = asInvalidLock(() => readLockChanges(req.body, t));
    const current = await store.locks.get(id, t);
    if (!current) throw notFound(id);
    const token = await lockedToken(store, current);
    const updated = await store.locks.update(id, changes, t, (lock) => ({ time: t.toISOString(), type: 'lock.update', success: true, message: `${describeLock(lock, token)} changed`, details: { lock: lockView(lock, token) } }));
    if (!updated) throw notFound(id); // removed or lapsed since the read above
    res.json(lockView(updated, token));
  });
  router.delete('/:id', async (req, res) => {
    const t = now();
    const id = req.params.id;
    const audit: AuditEvent = { time: t.toISOString(), type: 'lock.delete', success: true, message: `lock ${id.slice(0, 64)} removed`, details: { lock_id: id.slice(0, 64) } };
    if (!(await store.locks.delete(id, audit))) throw notFound(id);
    res.status(204).end();
  });
  return router;
}
