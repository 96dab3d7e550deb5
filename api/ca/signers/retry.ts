// Pacing and retrying the calls a key service meters. A burst of joins must not fail because KMS
// or an HSM said "slow down": calls are paced below the service's rate with a token bucket (the
// one DescribeInstances uses), and a throttled or transient failure is retried with jittered
// exponential backoff for as long as the caller's wait budget allows, then surfaces.

import { TokenBucket, systemClock, type Clock } from '../../join/ec2/describe-pacer';

export interface KeyServicePacing {
  /** Calls per second the signer allows itself (the bucket also holds this many as a burst). */
  callsPerSecond: number;
  /** How long one signature may wait through pacing and retries before its error surfaces. */
  maxWaitMs: number;
  clock?: Clock;
  random?: () => number;
}

export interface RetryPolicy {
  isThrottling(err: unknown): boolean;
  isTransient(err: unknown): boolean;
  /** Called before the retry of a transient failure (e.g. to reopen a session). */
  recover?(err: unknown): Promise<void> | void;
}

const BACKOFF_BASE_MS = 50;
const BACKOFF_CAP_MS = 2_000;
/** Transient (not throttling) failures are retried a few times only: a broken service stays broken. */
const TRANSIENT_RETRIES = 3;

export class PacedCaller {
  private readonly bucket: TokenBucket;
  private readonly clock: Clock;
  private readonly random: () => number;

  constructor(
    private readonly pacing: KeyServicePacing,
    private readonly policy: RetryPolicy,
  ) {
    if (!(pacing.callsPerSecond > 0)) throw new Error(`key service pacing needs a positive call rate, got ${pacing.callsPerSecond}`);
    this.clock = pacing.clock ?? systemClock;
    this.random = pacing.random ?? Math.random;
    this.bucket = new TokenBucket(Math.max(1, Math.ceil(pacing.callsPerSecond)), pacing.callsPerSecond, this.clock);
  }

  async call<T>(fn: () => Promise<T>): Promise<T> {
    const deadline = this.clock.now() + this.pacing.maxWaitMs;
    let attempt = 0;
    let transientLeft = TRANSIENT_RETRIES;
    for (;;) {
      await this.bucket.take();
      try {
        return await fn();
      } catch (err) {
        const throttled = this.policy.isThrottling(err);
        if (!throttled && !(this.policy.isTransient(err) && transientLeft-- > 0)) throw err;
        if (throttled) this.bucket.empty(); // another client spends the same quota: drop the saved burst
        const backoff = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt++) * (0.5 + this.random() / 2);
        if (this.clock.now() + backoff + this.bucket.waitMs() > deadline) throw err;
        await this.clock.sleep(backoff);
        if (!throttled) await this.policy.recover?.(err);
      }
    }
  }
}
