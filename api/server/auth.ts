// The admin credential: a bearer token whose SHA-256 is all the server keeps. Configured through
// JOINERY_ADMIN_TOKEN, or generated on first start and written to <data-dir>/admin-token (0600).

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Request, RequestHandler, Response } from 'express';
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
 * The admin credential check with its throttle: every failure is audited with the client address,
 * and a client that keeps failing is answered 429 for a while, so guessing is slow and the audit
 * cannot be flooded from one address. One gate serves the API's bearer check and the console's
 * sign-in, so a guesser cannot double its attempts by switching between them.
 */
export class AdminGate {
  private readonly failures = new Map<string, { count: number; windowStart: number }>();

  constructor(
    private readonly cred: AdminCredential,
    private readonly store?: Store,
    readonly trustProxy: readonly string[] = [],
    readonly now: () => number = Date.now,
  ) {}

  /** The throttling key of the request's client. */
  client(req: Request): string {
    return rateLimitKey(clientAddress(req, this.trustProxy));
  }

  /**
   * A 429 when the client is over its limit. It waits out the window even with the right
   * credential: otherwise the answer would tell a guesser which attempt succeeded.
   */
  throttled(client: string, res: Response): HttpError | undefined {
    const t = this.now();
    const f = this.failures.get(client);
    if (f && t - f.windowStart >= 60_000) this.failures.delete(client);
    else if (f && f.count >= ADMIN_FAILURES_PER_MINUTE) {
      const retry = Math.max(1, Math.ceil((f.windowStart + 60_000 - t) / 1000));
      res.setHeader('Retry-After', String(retry));
      return new HttpError(429, 'too_many_auth_failures', `too many failed admin authentications from ${client}; retry in ${retry}s`);
    }
    return undefined;
  }

  /** Whether `presented` is the admin credential (constant time). */
  matches(presented: string): boolean {
    return timingSafeEqual(sha256(presented), this.cred.hash);
  }

  /** Counts and audits a failure; the 401 to answer with. */
  fail(client: string, problem: string, code = 'unauthenticated'): HttpError {
    const t = this.now();
    let f = this.failures.get(client);
    if (!f) {
      if (this.failures.size >= MAX_TRACKED_CLIENTS) this.failures.delete(this.failures.keys().next().value as string);
      f = { count: 0, windowStart: t };
      this.failures.set(client, f);
    }
    f.count++;
    void this.store?.audit.append({ time: new Date(t).toISOString(), type: 'admin.auth', success: false, code, message: problem, remoteAddr: client }).catch(() => undefined);
    return new HttpError(401, code, problem);
  }
}

/**
 * The console's signed-in browsers: a request that carries no Authorization header is admin when
 * its session cookie is valid, and, for a change, its CSRF header matches the session's token.
 */
export interface BrowserSessions {
  /** Undefined when the request carries no session cookie at all. */
  authenticate(req: Request): Promise<{ ok: true } | { ok: false; status: 401 | 403; code: string; message: string } | undefined>;
}

/**
 * Rejects requests without the admin credential (401, JSON error): the bearer token, or a console
 * session with its CSRF header for changes. A bearer header always wins, so a script is never
 * judged by a cookie a browser happened to send.
 */
export function requireAdmin(g: AdminGate, sessions?: BrowserSessions): RequestHandler {
  return async (req, res, next) => {
    const client = g.client(req);
    const wait = g.throttled(client, res);
    if (wait) return next(wait);
    const header = req.headers.authorization;
    if (header === undefined && sessions) {
      const s = await sessions.authenticate(req);
      if (s?.ok) return next();
      // A stale cookie or a missing CSRF header is no guess at the credential: not throttled.
      if (s) return next(new HttpError(s.status, s.code, s.message));
    }
    const m = /^Bearer ([^\s]+)$/i.exec(header ?? '');
    const problem = !m
      ? 'this endpoint needs the admin credential: send "Authorization: Bearer <token>" (see <data-dir>/admin-token or JOINERY_ADMIN_TOKEN)'
      : !g.matches(m[1])
        ? 'the admin credential is not valid'
        : undefined;
    if (!problem) return next();
    next(g.fail(client, problem));
  };
}
