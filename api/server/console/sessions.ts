// Console sessions: the admin credential, presented once at sign-in, is exchanged for a random
// session ID in an HttpOnly cookie, so the credential never stays in the browser. Each session has
// its own CSRF token, which the page holds in memory and sends as X-CSRF-Token on every change; a
// cross-site page can make the browser send the cookie (SameSite=Strict already stops that in
// current browsers) but can never read the token.
//
// Sessions live in this process's memory, keyed by the SHA-256 of the ID (a heap dump shows no
// usable cookie). With several replicas behind a load balancer, a browser must reach the replica
// that signed it in (sticky sessions), or sign in again; a restart signs everybody out.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import type { BrowserSessions } from '../auth';

export const SESSION_COOKIE = '__Host-joinery_session';
export const CSRF_HEADER = 'x-csrf-token';
/** A session unused this long ends. */
export const SESSION_IDLE_MS = 30 * 60_000;
/** However busy, a session ends this long after sign-in. */
export const SESSION_LIFETIME_MS = 12 * 3600_000;
/** Signed-in browsers kept at once; signing in beyond it ends the oldest session. */
const MAX_SESSIONS = 1000;

interface Session {
  csrf: string;
  createdAt: number;
  lastSeenAt: number;
}

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

export class SessionStore implements BrowserSessions {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly now: () => number = Date.now) {}

  /** A new session: the cookie value (never stored) and its CSRF token. */
  create(): { id: string; csrf: string; expiresAt: number } {
    this.sweep();
    if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value as string);
    const id = randomBytes(32).toString('base64url');
    const t = this.now();
    const s: Session = { csrf: randomBytes(32).toString('base64url'), createdAt: t, lastSeenAt: t };
    this.sessions.set(digest(id), s);
    return { id, csrf: s.csrf, expiresAt: t + SESSION_LIFETIME_MS };
  }

  /** The live session of this cookie value, touched (its idle timer restarts); undefined otherwise. */
  lookup(id: string | undefined): (Session & { expiresAt: number }) | undefined {
    if (!id || id.length > 128) return undefined;
    const key = digest(id);
    const s = this.sessions.get(key);
    if (!s) return undefined;
    const t = this.now();
    if (t - s.lastSeenAt >= SESSION_IDLE_MS || t - s.createdAt >= SESSION_LIFETIME_MS) {
      this.sessions.delete(key);
      return undefined;
    }
    s.lastSeenAt = t;
    return { ...s, expiresAt: Math.min(s.createdAt + SESSION_LIFETIME_MS, t + SESSION_IDLE_MS) };
  }

  /** Sign-out: the session ends here, whatever the browser does with its cookie. */
  end(id: string | undefined): boolean {
    return !!id && this.sessions.delete(digest(id));
  }

  size(): number {
    return this.sessions.size;
  }

  authenticate(req: Request): ReturnType<BrowserSessions['authenticate']> {
    const id = cookieValue(req.headers.cookie, SESSION_COOKIE);
    if (id === undefined) return undefined;
    const s = this.lookup(id);
    if (!s) return { ok: false, status: 401, code: 'session_expired', message: 'the console session has ended (signed out, idle or too old): sign in again' };
    if (SAFE_METHODS.has(req.method)) return { ok: true };
    const presented = req.headers[CSRF_HEADER];
    if (typeof presented !== 'string' || !sameText(presented, s.csrf)) {
      return { ok: false, status: 403, code: 'csrf_failed', message: `a change made with the console session needs the session's ${CSRF_HEADER} header` };
    }
    return { ok: true };
  }

  /** Drops ended sessions (sign-in calls it, so the map holds live sessions and a few stale ones). */
  private sweep(): void {
    const t = this.now();
    for (const [k, s] of this.sessions) {
      if (t - s.lastSeenAt >= SESSION_IDLE_MS || t - s.createdAt >= SESSION_LIFETIME_MS) this.sessions.delete(k);
    }
  }
}
