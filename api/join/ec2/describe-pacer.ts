// Client-side pacing of DescribeInstances. AWS meters it per account and region with a token
// bucket (100 requests burst, 20 per second refill for DescribeInstances) that every tool in the
// account shares; the join server takes only a small part of it, so that a boot storm neither
// starves other tools nor gets itself throttled.

/** Time, injectable so tests can move it without sleeping. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * A token bucket where callers reserve a token and wait until it is theirs: the bucket may go
 * negative, and the deficit is what the next caller waits out. Reservation order is call order.
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly capacity: number,
    private readonly perSecond: number,
    private readonly clock: Clock = systemClock,
  ) {
    this.tokens = capacity;
    this.at = clock.now();
  }

  private refill(): void {
    const t = this.clock.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((t - this.at) / 1000) * this.perSecond);
    this.at = t;
  }

  /** How long a reservation made now would wait, in ms. */
  waitMs(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.perSecond) * 1000);
  }

  /** Reserves one token and resolves when it may be spent. */
  async take(): Promise<void> {
    this.refill();
    this.tokens -= 1;
    if (this.tokens < 0) await this.clock.sleep(Math.ceil((-this.tokens / this.perSecond) * 1000));
  }

  /** AWS throttled us anyway (another tool spends the same budget): give up the saved burst. */
  empty(): void {
    this.refill();
    this.tokens = Math.min(this.tokens, 0);
  }
}
