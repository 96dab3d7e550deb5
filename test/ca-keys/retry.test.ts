// PacedCaller on a fake clock: calls are paced at the configured rate, throttling is retried with
// backoff until the wait budget would be exceeded, transient failures a bounded number of times
// (after `recover`), and anything else surfaces at once.

import { PacedCaller } from '../../api/ca/signers/retry';

function fakeClock() {
  let t = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => t,
    sleep: (ms: number) => {
      sleeps.push(ms);
      t += ms;
      return Promise.resolve();
    },
  };
}

const THROTTLED = Object.assign(new Error('slow down'), { name: 'Busy' });
const FLAKY = Object.assign(new Error('hiccup'), { name: 'Flaky' });
const policy = { isThrottling: (e: unknown) => e === THROTTLED, isTransient: (e: unknown) => e === FLAKY };

test('a burst beyond the bucket waits its turn at the configured rate', async () => {
  const clock = fakeClock();
  const caller = new PacedCaller({ callsPerSecond: 10, maxWaitMs: 60_000, clock, random: () => 1 }, policy);
  for (let i = 0; i < 15; i++) await caller.call(() => Promise.resolve(i));
  // 10 from the burst, then one every 100 ms.
  expect(clock.now()).toBeGreaterThanOrEqual(500);
  expect(clock.now()).toBeLessThan(700);
});

test('throttling is retried until it passes; a non-retryable error surfaces on the first try', async () => {
  const clock = fakeClock();
  const caller = new PacedCaller({ callsPerSecond: 1000, maxWaitMs: 60_000, clock, random: () => 1 }, policy);
  let calls = 0;
  await expect(caller.call(() => (++calls <= 5 ? Promise.reject(THROTTLED) : Promise.resolve('signed')))).resolves.toBe('signed');
  expect(calls).toBe(6);
  // Exponential backoff from 50 ms (random() = 1: no jitter taken off); the 1 ms waits are pacing.
  expect(clock.sleeps.filter((ms) => ms >= 50)).toEqual([50, 100, 200, 400, 800]);

  let other = 0;
  await expect(caller.call(() => (other++, Promise.reject(new Error('denied'))))).rejects.toThrow('denied');
  expect(other).toBe(1);
});

test('throttling that outlasts the wait budget surfaces as the service error', async () => {
  const clock = fakeClock();
  const caller = new PacedCaller({ callsPerSecond: 1000, maxWaitMs: 2_000, clock }, policy);
  let calls = 0;
  await expect(caller.call(() => (calls++, Promise.reject(THROTTLED)))).rejects.toBe(THROTTLED);
  expect(clock.now()).toBeLessThanOrEqual(2_000);
  expect(calls).toBeGreaterThan(1);
});

test('transient failures: recover, then at most three retries', async () => {
  const clock = fakeClock();
  let recovered = 0;
  const caller = new PacedCaller({ callsPerSecond: 1000, maxWaitMs: 60_000, clock }, { ...policy, recover: () => void recovered++ });
  let calls = 0;
  await expect(caller.call(() => (calls++, Promise.reject(FLAKY)))).rejects.toBe(FLAKY);
  expect(calls).toBe(4);
  expect(recovered).toBe(3);
});

test('a rate that is not positive is refused', () => {
  expect(() => new PacedCaller({ callsPerSecond: 0, maxWaitMs: 1 }, policy)).toThrow(/positive call rate/);
  expect(() => new PacedCaller({ callsPerSecond: Number.NaN, maxWaitMs: 1 }, policy)).toThrow(/positive call rate/);
});
