// Console sessions: the admin credential, presented once at sign-in, is exchanged for a random
// session ID in an HttpOnly cookie, so the credential never stays in the browser. Each session has
// its own CSRF token, which the page holds in memory and sends as X-CSRF-Token on every change; a
// cross-site page can make the browser send the cookie (SameSite=Strict already stops that in
// current browsers) but can never read the token.
//
// Sessions are rows of the database (console_sessions), so every replica behind a load balancer
// knows them and a restart signs nobody out. Only the SHA-256 of the session ID is stored: a copy
// of the table, a backup or a heap dump holds no usable cookie.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import type { ConsoleSessionStore } from '../../store/types';
import type { BrowserSessions } from '../auth';

export const SESSION_COOKIE = '__Host-joinery_session';
export const CSRF_HEADER = 'x-csrf-token';
/** A session unused this long ends. */
export const SESSION_IDLE_MS = 30 * 60_000;
/** However busy, a session ends this long after sign-in. */
export const SESSION_LIFETIME_MS = 12 * 3600_000;

/** The idle clock is written at most this often, so a busy page costs a write a minute, not one a request. */
const TOUCH_INTERVAL_MS = 60_000;

const digest = (id: string) => createHash('sha256').update(id, 'utf8').digest('hex');

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The value of one cookie in a Cookie header (no library: the header's grammar is this small). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Methods that change nothing (RFC 9110 safe methods) need no CSRF token. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface LiveSession {
  csrf: string;
  /** When it ends unless used again (the idle timeout), or at its absolute lifetime if sooner. */
  expiresAt: number;
}

export class ConsoleSessions implements BrowserSessions {
  constructor(
    private readonly store: ConsoleSessionStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new session: the cookie value (never stored) and its CSRF token. Ended sessions are swept first. */
  async create(): Promise<{ id: string; csrf: string; expiresAt: number }> {
    const t = this.now();
    await this.store.prune({ idleBefore: new Date(t - SESSION_IDLE_MS), createdBefore: new Date(t - SESSION_LIFETIME_MS) });
    const id = randomBytes(32).toString('base64url');
    const csrf = randomBytes(32).toString('base64url');
    const at = new Date(t).toISOString();
    await this.store.create({ idSha256: digest(id), csrf, createdAt: at, lastSeenAt: at });
    return { id, csrf, expiresAt: t + SESSION_LIFETIME_MS };
  }

  /** The live session of this cookie value, touched (its idle timer restarts); undefined otherwise. */
  async lookup(id: string | undefined): Promise<LiveSession | undefined> {
    if (!id || id.length > 128) return undefined;
    const key = digest(id);
    const s = await this.store.get(key);
    if (!s) return undefined;
    const t = this.now();
    const created = Date.parse(s.createdAt);
    const lastSeen = Date.parse(s.lastSeenAt);
    if (!(t - lastSeen < SESSION_IDLE_MS && t - created < SESSION_LIFETIME_MS)) {
      await this.store.delete(key);
      return undefined;
    }
    if (t - lastSeen >= TOUCH_INTERVAL_MS) await this.store.touch(key, new Date(t).toISOString());
    return { csrf: s.csrf, expiresAt: Math.min(created + SESSION_LIFETIME_MS, t + SESSION_IDLE_MS) };
  }

  /** Sign-out: the session ends on the server, whatever the browser does with its cookie. */
  async end(id: string | undefined): Promise<boolean> {
    return !!id && id.length <= 128 && (await this.store.delete(digest(id)));
  }

  async authenticate(req: Request): ReturnType<BrowserSessions['authenticate']> {
    const id = cookieValue(req.headers.cookie, SESSION_COOKIE);
    if (id === undefined) return undefined;
    const s = await this.lookup(id);
    if (!s) return { ok: false, status: 401, code: 'session_expired', message: 'the console session has ended (signed out, idle or too old): sign in again' };
    if (SAFE_METHODS.has(req.method)) return { ok: true };
    const presented = req.headers[CSRF_HEADER];
    if (typeof presented !== 'string' || !sameText(presented, s.csrf)) {
      return { ok: false, status: 403, code: 'csrf_failed', message: `a change made with the console session needs the session's ${CSRF_HEADER} header` };
    }
    return { ok: true };
  }
}
