// When the agent acts: renewal at two thirds of the certificate's lifetime, and retries with
// exponential backoff and jitter (so a fleet restarted together does not retry in lockstep),
// never sooner than the server's Retry-After.

import { ApiError } from '../../client/api-client';

export const RENEW_AT_FRACTION = 2 / 3;

export interface Lifetime {
  notBefore: number;
  notAfter: number;
  /** When the agent received the certificate, if known. */
  obtainedAt?: number;
}

/**
 * The moment renewal is due: two thirds of the way from the start of the lifetime to notAfter.
 * The start is notBefore, or when the agent got the certificate if that is later: servers back-date
 * notBefore against clock skew, and with very short lifetimes that margin would otherwise make a
 * fresh certificate due at once.
 */
export function renewalDue(c: Lifetime): number {
  const start = c.obtainedAt !== undefined && Number.isFinite(c.obtainedAt) && c.obtainedAt < c.notAfter ? Math.max(c.notBefore, c.obtainedAt) : c.notBefore;
  return start + Math.floor((c.notAfter - start) * RENEW_AT_FRACTION);
}

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
  /** A server cannot make the agent wait longer than this, whatever its Retry-After says. */
  maxRetryAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1_000, maxMs: 5 * 60_000, maxRetryAfterMs: 60 * 60_000 };

/**
 * The wait before retry number `attempt` (0 for the first retry): the exponential step capped at
 * maxMs, of which a random half is jitter, and at least Retry-After when the server gave one.
 */
export function retryDelay(attempt: number, policy: BackoffPolicy, retryAfterMs?: number, random: () => number = Math.random): number {
  const step = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt, 40));
  const jittered = Math.round(step / 2 + (step / 2) * random());
  if (retryAfterMs === undefined) return jittered;
  return Math.max(jittered, Math.min(retryAfterMs, policy.maxRetryAfterMs));
}

/** Failures worth retrying: the server unreachable, overloaded or failing; never a refusal. */
export function isRetryable(e: unknown): boolean {
  if (e instanceof ApiError) {
    if (e.status === 0) return e.code === 'unreachable';
    return e.status === 408 || e.status === 429 || e.status >= 500;
  }
  // The instance metadata service or AWS credentials briefly unavailable at boot.
  return (e as Error)?.name === 'ImdsError';
}

/** Parses "base,max" milliseconds (JOINERY_AGENT_BACKOFF_MS), for tests and impatient operators. */
export function backoffFromEnv(value: string | undefined): BackoffPolicy {
  if (!value) return DEFAULT_BACKOFF;
  const m = /^(\d+),(\d+)$/.exec(value.trim());
  if (!m || Number(m[1]) <= 0 || Number(m[2]) < Number(m[1])) throw new Error(`JOINERY_AGENT_BACKOFF_MS must be "BASE,MAX" in milliseconds with 0 < BASE <= MAX (got ${JSON.stringify(value)})`);
  return { ...DEFAULT_BACKOFF, baseMs: Number(m[1]), maxMs: Number(m[2]) };
}
