// The admin credential: a bearer token whose SHA-256 is all the server keeps. Configured through
// JOINERY_ADMIN_TOKEN, or generated on first start and written to <data-dir>/admin-token (0600).

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RequestHandler } from 'express';
import type { Store } from '../store/types';
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
  if (configured) {
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

/** Rejects requests without the admin bearer credential (401, JSON error). */
export function requireAdmin(cred: AdminCredential): RequestHandler {
  return (req, _res, next) => {
    const header = req.headers.authorization ?? '';
    const m = /^Bearer ([^\s]+)$/i.exec(header);
    if (!m) return next(new HttpError(401, 'unauthenticated', 'this endpoint needs the admin credential: send "Authorization: Bearer <token>" (see <data-dir>/admin-token or JOINERY_ADMIN_TOKEN)'));
    if (!timingSafeEqual(sha256(m[1]), cred.hash)) return next(new HttpError(401, 'unauthenticated', 'the admin credential is not valid'));
    next();
  };
}
