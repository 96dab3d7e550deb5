// Many EC2 joins, few DescribeInstances calls. Lookups for the same (region, account, role) wait a
// short window and are asked together with the `instance-id` filter (an unknown ID is simply
// absent from the answer, where InstanceIds would fail the whole call), at most 200 values per call
// as AWS allows, paginated, and the answer is fanned out to each waiting join. Calls are paced per
// (region, account) by a token bucket, so while the bucket refills the next batch grows instead of
// the call count; when AWS throttles anyway the batch is retried with backoff until the oldest
// join in it has waited the bounded time, and only then refused.

import { refuse } from '../refusals';
import { TokenBucket, systemClock, type Clock } from './describe-pacer';

export interface BatchKey {
  region: string;
  accountId: string;
  /** Role assumed for the call; lookups with different roles never share a call. */
  roleArn?: string;
}

export interface DescribePage {
  /** Instance ID to state name, for the instances of this page that belong to the key's account. */
  states: Map<string, string>;
  /** Instance ID to its tags, as the same answer carries them (absent: none reported). */
  tags?: Map<string, Record<string, string>>;
  nextToken?: string;
}

/** What one DescribeInstances answer says of an instance. */
export interface DescribedInstance {
  state: string;
  tags: Record<string, string>;
}

export interface BatcherOptions {
  /** One DescribeInstances call: the IDs as an instance-id filter, from nextToken on. */
  describePage(key: BatchKey, instanceIds: string[], nextToken?: string): Promise<DescribePage>;
  isThrottling(err: unknown): boolean;
  /** Worth another try soon (5xx, connection reset); tried at most TRANSIENT_RETRIES more times. */
  isTransient(err: unknown): boolean;
  /** How long a join may wait for its answer through pacing and throttling before it is refused. */
  throttleWaitMs(): number;
  /** Client-side DescribeInstances calls per second per (region, account). */
  callsPerSecond(): number;
  clock?: Clock;
  random?: () => number;
  windowMs?: number;
  maxBatch?: number;
}

/** AWS accepts at most 200 values for one filter. */
export const MAX_FILTER_VALUES = 200;
/** Long enough for a boot storm's joins to meet, short against a join's own cost. */
export const DEFAULT_WINDOW_MS = 25;
const TRANSIENT_RETRIES = 2;
const BACKOFF_BASE_MS = 100;
const BACKOFF_CAP_MS = 5_000;
/** Burst of the client-side bucket, in seconds of refill. */
const BURST_SECONDS = 2.5;

interface Waiter {
  resolve(instance: DescribedInstance | undefined): void;
  reject(err: unknown): void;
  since: number;
}

interface Queue {
  key: BatchKey;
  ids: Map<string, Waiter[]>;
  draining: boolean;
  wake?: () => void;
}

export class DescribeInstancesBatcher {
  private readonly queues = new Map<string, Queue>();
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly windowMs: number;
  private readonly maxBatch: number;

  constructor(private readonly opts: BatcherOptions) {
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;
    this.windowMs = opts.windowMs ?? DEFAULT_WINDOW_MS;
    this.maxBatch = Math.min(opts.maxBatch ?? MAX_FILTER_VALUES, MAX_FILTER_VALUES);
  }

  /** The instance's state, or undefined when EC2 does not report it for the key's account. */
  async lookup(key: BatchKey, instanceId: string): Promise<string | undefined> {
    return (await this.describe(key, instanceId))?.state;
  }

  /** The instance's state and tags from the batched answer, or undefined when EC2 does not report it. */
  describe(key: BatchKey, instanceId: string): Promise<DescribedInstance | undefined> {
    const id = `${key.region}|${key.accountId}|${key.roleArn ?? ''}`;
    let queue = this.queues.get(id);
    if (!queue) this.queues.set(id, (queue = { key, ids: new Map(), draining: false }));
    const q = queue;
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject, since: this.clock.now() };
      const same = q.ids.get(instanceId);
      if (same) same.push(waiter);
      else q.ids.set(instanceId, [waiter]);
      if (q.ids.size >= this.maxBatch) q.wake?.();
      if (!q.draining) void this.drain(id, q);
    });
  }

  private bucket(key: BatchKey): TokenBucket {
    const id = `${key.region}|${key.accountId}`;
    let bucket = this.buckets.get(id);
    if (!bucket) {
      const rate = this.opts.callsPerSecond();
      this.buckets.set(id, (bucket = new TokenBucket(Math.max(1, Math.ceil(rate * BURST_SECONDS)), rate, this.clock)));
    }
    return bucket;
  }

  private async drain(id: string, q: Queue): Promise<void> {
    q.draining = true;
    try {
      if (q.ids.size < this.maxBatch) {
        await Promise.race([this.clock.sleep(this.windowMs), new Promise<void>((resolve) => (q.wake = resolve))]);
        q.wake = undefined;
      }
      while (q.ids.size > 0) {
        // IDs keep joining the queue while the token is awaited: pacing grows batches.
        const bucket = this.bucket(q.key);
        const paced = bucket.waitMs() > 0;
        await bucket.take();
        const batch = new Map<string, Waiter[]>();
        for (const [instanceId, waiters] of q.ids) {
          if (batch.size >= this.maxBatch) break;
          batch.set(instanceId, waiters);
          q.ids.delete(instanceId);
        }
        void this.send(q.key, paced ? this.refuseOverdue(q.key, batch) : batch);
      }
    } catch (err) {
      for (const waiters of q.ids.values()) for (const w of waiters) w.reject(err);
      q.ids.clear();
    } finally {
      q.draining = false;
      if (q.ids.size === 0 && this.queues.get(id) === q) this.queues.delete(id);
    }
  }

  /** Joins that already waited out the bound in the queue are refused rather than asked for. */
  private refuseOverdue(key: BatchKey, batch: Map<string, Waiter[]>): Map<string, Waiter[]> {
    // The collecting window is the batch's own cost, not waiting: the bound counts after it.
    const limit = this.clock.now() - this.opts.throttleWaitMs() - this.windowMs;
    for (const [instanceId, waiters] of batch) {
      const late = waiters.filter((w) => w.since < limit);
      if (late.length === 0) continue;
      const err = refuse('aws_throttled', `too many EC2 joins for account ${key.accountId} region ${key.region}: the server paces ec2:DescribeInstances below AWS's limit and this join waited longer than ${this.opts.throttleWaitMs()} ms; retry the join shortly`);
      for (const w of late) w.reject(err);
      const rest = waiters.filter((w) => w.since >= limit);
      if (rest.length) batch.set(instanceId, rest);
      else batch.delete(instanceId);
    }
    return batch;
  }

  private async send(key: BatchKey, batch: Map<string, Waiter[]>): Promise<void> {
    if (batch.size === 0) return;
    const ids = [...batch.keys()];
    let oldest = Infinity;
    for (const waiters of batch.values()) for (const w of waiters) oldest = Math.min(oldest, w.since);
    const deadline = oldest + this.opts.throttleWaitMs();
    const bucket = this.bucket(key);
    const states = new Map<string, DescribedInstance>();
    let nextToken: string | undefined;
    let haveToken = true; // drain took the first one
    let attempt = 0;
    let transientLeft = TRANSIENT_RETRIES;
    try {
      for (;;) {
        if (!haveToken) await bucket.take();
        haveToken = false;
        try {
          const page = await this.opts.describePage(key, ids, nextToken);
          for (const [id, state] of page.states) states.set(id, { state, tags: page.tags?.get(id) ?? {} });
          if (!page.nextToken) break;
          nextToken = page.nextToken;
          attempt = 0;
        } catch (err) {
          const throttled = this.opts.isThrottling(err);
          if (!throttled && !(this.opts.isTransient(err) && transientLeft-- > 0)) throw err;
          const backoff = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt++) * (0.5 + this.random() / 2);
          if (throttled) bucket.empty();
          if (this.clock.now() + backoff + bucket.waitMs() > deadline) throw err;
          await this.clock.sleep(backoff);
        }
      }
    } catch (err) {
      for (const waiters of batch.values()) for (const w of waiters) w.reject(err);
      return;
    }
    for (const [id, waiters] of batch) for (const w of waiters) w.resolve(states.get(id));
  }
}
