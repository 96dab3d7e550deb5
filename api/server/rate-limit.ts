// Per-client-address token bucket for the public join endpoints: they are unauthenticated and
// some of them make the server call AWS or write a challenge, so one client must not be able to
// flood them. In memory, per replica; bounded in size.

import type { RequestHandler } from 'express';
import { HttpError } from './errors';

const MAX_CLIENTS = 100_000;

export function rateLimit(perMinute: number): RequestHandler {
  if (perMinute <= 0) return (_req, _res, next) => next();
  const refillPerMs = perMinute / 60_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  return (req, res, next) => {
    const key = req.socket.remoteAddress ?? 'unknown';
    const now = Date.now();
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
