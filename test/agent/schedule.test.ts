// The agent's timing rules, with time and randomness passed in.

import { ApiError, parseRetryAfter } from '../../client/api-client';
import { ImdsError } from '../../cli/agent/imds';
import { backoffFromEnv, DEFAULT_BACKOFF, isRetryable, renewalDue, retryDelay } from '../../cli/agent/schedule';

const H = 3600_000;

test('renewal is due at two thirds of the lifetime, from notBefore to notAfter', () => {
  expect(renewalDue({ notBefore: 0, notAfter: 24 * H })).toBe(16 * H);
  const nb = Date.parse('2026-01-01T00:00:00Z');
  expect(renewalDue({ notBefore: nb, notAfter: nb + 12_000 })).toBe(nb + 8_000);
  // A certificate back-dated a minute (as the server does) counts that minute in its lifetime.
  expect(renewalDue({ notBefore: nb - 60_000, notAfter: nb + 24 * H })).toBe(nb - 60_000 + Math.floor((24 * H + 60_000) * (2 / 3)));
});

test('a back-dated notBefore does not count: the lifetime starts when the agent got the certificate', () => {
  const got = Date.parse('2026-01-01T00:00:00Z');
  // 12 s certificate back-dated by a minute: due 8 s after it arrived, not 12 s before.
  expect(renewalDue({ notBefore: got - 60_000, notAfter: got + 12_000, obtainedAt: got })).toBe(got + 8_000);
  // An unknown or nonsensical arrival time falls back to notBefore.
  expect(renewalDue({ notBefore: got, notAfter: got + 12_000, obtainedAt: NaN })).toBe(got + 8_000);
  expect(renewalDue({ notBefore: got, notAfter: got + 12_000, obtainedAt: got + 60_000 })).toBe(got + 8_000);
  expect(renewalDue({ notBefore: got, notAfter: got + 12_000, obtainedAt: got - 60_000 })).toBe(got + 8_000);
});

describe('retry delay', () => {
  const policy = { baseMs: 1_000, maxMs: 60_000, maxRetryAfterMs: 600_000 };

  test('grows exponentially, half of each step being jitter', () => {
    expect(retryDelay(0, policy, undefined, () => 0)).toBe(500);
    expect(retryDelay(0, policy, undefined, () => 1)).toBe(1_000);
    expect(retryDelay(3, policy, undefined, () => 0)).toBe(4_000);
    expect(retryDelay(3, policy, undefined, () => 1)).toBe(8_000);
  });

  test('is bounded by maxMs however many attempts failed', () => {
    for (const attempt of [6, 10, 50, 1_000, 1e9]) {
      for (const r of [0, 0.5, 0.999]) {
        const d = retryDelay(attempt, policy, undefined, () => r);
        expect(d).toBeLessThanOrEqual(policy.maxMs);
        expect(d).toBeGreaterThanOrEqual(policy.maxMs / 2);
      }
    }
  });

  test('jitter spreads the delays of a fleet', () => {
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const delays = new Set(Array.from({ length: 50 }, () => retryDelay(4, policy, undefined, rand)));
    expect(delays.size).toBeGreaterThan(40);
  });

  test('honours Retry-After: never sooner than the server asked', () => {
    expect(retryDelay(0, policy, 30_000, () => 0)).toBe(30_000);
    expect(retryDelay(0, policy, 0, () => 0)).toBe(500);
    // ...but a hostile or confused server cannot park the agent forever.
    expect(retryDelay(0, policy, 10 * 24 * H, () => 0)).toBe(policy.maxRetryAfterMs);
  });

  test('the default policy waits at most five minutes between tries', () => {
    expect(retryDelay(100, DEFAULT_BACKOFF, undefined, () => 1)).toBe(5 * 60_000);
  });

  test('JOINERY_AGENT_BACKOFF_MS is BASE,MAX', () => {
    expect(backoffFromEnv(undefined)).toBe(DEFAULT_BACKOFF);
    expect(backoffFromEnv('50,200')).toMatchObject({ baseMs: 50, maxMs: 200 });
    expect(() => backoffFromEnv('200,50')).toThrow(/BASE,MAX/);
    expect(() => backoffFromEnv('0,5')).toThrow(/BASE,MAX/);
  });
});

test('Retry-After in seconds or as an HTTP date', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  expect(parseRetryAfter('7', now)).toBe(7_000);
  expect(parseRetryAfter(' 0 ', now)).toBe(0);
  expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
  expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
  expect(parseRetryAfter(undefined, now)).toBeUndefined();
  expect(parseRetryAfter('-5', now)).toBeUndefined();
  expect(parseRetryAfter('soon', now)).toBeUndefined();
});

test('what is retried: unreachable, 408, 429 and 5xx; never a refusal', () => {
  expect(isRetryable(new ApiError(0, 'unreachable', 'x'))).toBe(true);
  expect(isRetryable(new ApiError(429, 'rate_limited', 'x'))).toBe(true);
  expect(isRetryable(new ApiError(503, 'http_503', 'x'))).toBe(true);
  expect(isRetryable(new ApiError(500, 'internal', 'x'))).toBe(true);
  expect(isRetryable(new ApiError(408, 'timeout', 'x'))).toBe(true);
  expect(isRetryable(new ImdsError('boot'))).toBe(true);
  for (const [status, code] of [[400, 'invalid_request'], [401, 'client_certificate_required'], [403, 'node_removed'], [403, 'certificate_untrusted'], [403, 'certificate_expired'], [409, 'host_already_joined'], [0, 'untrusted'], [0, 'aborted']] as const) {
    expect(isRetryable(new ApiError(status, code, 'x'))).toBe(false);
  }
  expect(isRetryable(new Error('certificate for another key'))).toBe(false);
});
