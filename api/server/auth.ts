// The admin credential: a bearer token whose SHA-256 is all the server keeps. Configured through
// JOINERY_ADMIN_TOKEN, or generated on first start and written to <data-dir>/admin-token (0600).

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RequestHandler } from 'express';
import type { Store } from '../store/types';
import { clientAddress, rateLimitKey } from './client-address';
import { HttpError } from './errors';

const SETTING = 'admin_token_sha256';

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

export interface AdminCredential {
  /** SHA-256 of the accepted bearer token. */
  hash: Buffer;
  /** Set when this start generated the credential: where it was written. */
  generatedFile?: string;
  source: 'environment' | 'stored' | 'generated';
}

export async function ensureAdminCredential(store: Store, dataDir: string, configured?: string): Promise<AdminCredential> {
  if (configured !== undefined) {
    // A bearer credential travels in one header token: white space could never match a request.
    if (/\s/.test(configured)) throw new Error('JOINERY_ADMIN_TOKEN must not contain white space (no request could ever present it)');
    if (configured.length < 16) throw new Error('JOINERY_ADMIN_TOKEN must be at least 16 characters');
    return { hash: sha256(configured), source: 'environment' };
  }
  const stored = await store.settings.get(SETTING);
  if (stored) return { hash: Buffer.from(stored, 'hex'), source: 'stored' };

  const token = randomBytes(32).toString('base64url');
  const file = path.join(dataDir, 'admin-token');
  // Another replica may have won the race; then its token stands and ours is discarded.
  const winner = await store.settings.setIfAbsent(SETTING, sha256(token).toString('hex'));
  if (winner !== sha256(token).toString('hex')) return { hash: Buffer.from(winner, 'hex'), source: 'stored' };
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  fs.rmSync(file, { force: true });
  fs.writeFileSync(file, token + '\n', { mode: 0o600, flag: 'wx' });
  return { hash: sha256(token), source: 'generated', generatedFile: file };
}

/** Failed admin authentications one client address may make per minute before it is made to wait. */
export const ADMIN_FAILURES_PER_MINUTE = 30;
const MAX_TRACKED_CLIENTS = 10_000;

/**
 * Rejects requests without the admin bearer credential (401, JSON error). Every failure is
 * audited with the client address; a client that keeps failing is answered 429 for a while, so
 * guessing is slow and the audit cannot be flooded from one address.
 */
export function requireAdmin(cred: AdminCredential, store?: Store, trustProxy: readonly string[] = [], now: () => number = Date.now): RequestHandler {
  const failures = new Map<string, { count: number; windowStart: number }>();
  return (req, res, next) => {
    const client = rateLimitKey(clientAddress(req, trustProxy));
    const t = now();
    let f = failures.get(client);
    if (f && t - f.windowStart >= 60_000) {
      failures.delete(client);
      f = undefined;
    }
    // A client over its limit waits out the window even with the right credential: otherwise
    // the answer would tell a guesser which attempt succeeded.
    if (f && f.count >= ADMIN_FAILURES_PER_MINUTE) {
      const retry = Math.max(1, Math.ceil((f.windowStart + 60_000 - t) / 1000));
      res.setHeader('Retry-After', String(retry));
      return next(new HttpError(429, 'too_many_auth_failures', `too many failed admin authentications from ${client}; retry in ${retry}s`));
    }
    const m = /^Bearer ([^\s]+)$/i.exec(req.headers.authorization ?? '');
    const problem = !m
      ? 'this endpoint needs the admin credential: send "Authorization: Bearer <token>" (see <data-dir>/admin-token or JOINERY_ADMIN_TOKEN)'
      : !timingSafeEqual(sha256(m[1]), cred.hash)
        ? 'the admin credential is not valid'
        : undefined;
    if (!problem) return next();
    if (!f) {
      if (failures.size >= MAX_TRACKED_CLIENTS) failures.delete(failures.keys().next().value as string);
      f = { count: 0, windowStart: t };
      failures.set(client, f);
    }
    f.count++;
    void store?.audit.append({ time: new Date(t).toISOString(), type: 'admin.auth', success: false, code: 'unauthenticated', message: problem, remoteAddr: client }).catch(() => undefined);
    next(new HttpError(401, 'unauthenticated', problem));
  };
}
