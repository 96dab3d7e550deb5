// Per-client token bucket for the public join endpoints: they are unauthenticated and some of
// them make the server call AWS or write a challenge, so one client must not be able to flood
// them. The client is the address clientAddress() believes (X-Forwarded-For only from trusted
// proxies), an IPv6 client counted by its /64. In memory, per replica; bounded in size.

import type { RequestHandler, Response } from 'express';
import { clientAddress, rateLimitKey } from './client-address';
import { HttpError } from './errors';

const MAX_CLIENTS = 100_000;

export interface RateLimitSettings {
  /** Requests one client may make per minute; 0 = unlimited. */
  joinRatePerMinute: number;
  /** JOINERY_TRUST_PROXY. */
  trustProxy?: readonly string[];
}

export function rateLimit(settings: RateLimitSettings, clock: () => number = Date.now): RequestHandler {
  const perMinute = settings.joinRatePerMinute;
  if (perMinute <= 0) return (_req, _res, next) => next();
  const refillPerMs = perMinute / 60_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  return (req, res, next) => {
    const key = rateLimitKey(clientAddress(req, settings.trustProxy));
    const now = clock();
    let b = buckets.get(key);
    if (!b) {
      if (buckets.size >= MAX_CLIENTS) {
        // Drop the least recently inserted client (Map keeps insertion order).
        buckets.delete(buckets.keys().next().value as string);
      }
      b = { tokens: perMinute, at: now };
      buckets.set(key, b);
    }
    b.tokens = Math.min(perMinute, b.tokens + (now - b.at) * refillPerMs);
    b.at = now;
    if (b.tokens < 1) {
      const retry = Math.ceil((1 - b.tokens) / refillPerMs / 1000);
      res.setHeader('Retry-After', String(retry));
      return next(new HttpError(429, 'rate_limited', `too many join requests from ${key}; retry in ${retry}s (JOINERY_JOIN_RATE_PER_MINUTE)`));
    }
    b.tokens -= 1;
    next();
  };
}

/** Sets Retry-After when a refusal says when to come back (`details.retryAfterSeconds`). */
export function retryAfterFrom(res: Response, err: unknown): void {
  const seconds = (err as { details?: { retryAfterSeconds?: unknown } } | undefined)?.details?.retryAfterSeconds;
  if (typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0) res.setHeader('Retry-After', String(Math.ceil(seconds)));
}
