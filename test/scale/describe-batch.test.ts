// DescribeInstances batching, pacing and bounded throttling retries, through the real
// AwsInstanceLookup and AWS SDK against a loopback EC2 stand-in that counts calls and throttles
// the way AWS does (bench/ec2-standin.js, the one the bench uses).

import { DEFAULT_WINDOW_MS, DescribeInstancesBatcher } from '../../api/join/ec2/describe-batch';
import { AwsInstanceLookup } from '../../api/join/ec2/describe-instance';
import { JoinError } from '../../api/join/errors';
import { caught } from '../support/caught';

const { startEc2StandIn } = require('../../bench/ec2-standin') as { startEc2StandIn: (opts?: Record<string, unknown>) => Promise<StandIn> };

interface StandIn {
  url: string;
  stats: { calls: number; throttled: number; answered: number; idsAsked: number[]; instanceIdsParamCalls: number; errors: number };
  addInstance(i: { id: string; region: string; account?: string; state?: string }): void;
  forceErrors(list: { status: number; code: string }[]): void;
  stop(): Promise<void>;
}

const ACCOUNT = '123456789012';
const OTHER_ACCOUNT = '210987654321';
const CREDENTIALS = async () => ({ accessKeyId: 'AKIASTANDIN', secretAccessKey: 'standin-secret' });
const saved = process.env.AWS_ENDPOINT_URL_EC2;

jest.setTimeout(60_000);

/** A clock whose sleeps move time on at once: bounded waits of seconds run in milliseconds. */
function virtualClock() {
  let t = Date.now();
  return {
    now: () => t,
    sleep: (ms: number) => {
      t += ms;
      return new Promise<void>((resolve) => setImmediate(resolve));
    },
  };
}

const id = (n: number) => `i-${n.toString(16).padStart(17, '0')}`;

let standIn: StandIn;
async function useStandIn(opts: Record<string, unknown> = {}): Promise<StandIn> {
  await standIn?.stop();
  standIn = await startEc2StandIn({ account: ACCOUNT, ...opts });
  process.env.AWS_ENDPOINT_URL_EC2 = standIn.url;
  return standIn;
}

afterAll(async () => {
  if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_EC2;
  else process.env.AWS_ENDPOINT_URL_EC2 = saved;
  await standIn?.stop();
});

describe('batching', () => {
  test('50 concurrent lookups make one call; unknown IDs are not found for their own join only', async () => {
    const s = await useStandIn();
    for (let i = 0; i < 45; i++) s.addInstance({ id: id(i), region: 'us-west-2' });
    s.addInstance({ id: id(45), region: 'us-west-2', state: 'stopped' });
    s.addInstance({ id: id(46), region: 'us-west-2', account: OTHER_ACCOUNT });
    const lookup = new AwsInstanceLookup({ baseCredentials: CREDENTIALS, throttleWaitMs: 30_000, describePerSecond: 2 });
    const states = await Promise.all(Array.from({ length: 50 }, (_, i) => lookup.instanceState({ region: 'us-west-2', accountId: ACCOUNT, instanceId: id(i) })));
    expect(s.stats.calls).toBe(1);
    expect(s.stats.instanceIdsParamCalls).toBe(0); // the instance-id filter, never InstanceIds
    expect(states.slice(0, 45)).toEqual(Array(45).fill('running'));
    expect(states[45]).toBe('stopped');
    // another account's instance, and IDs EC2 does not know
    expect(states.slice(46)).toEqual([undefined, undefined, undefined, undefined]);
  });

  test('450 concurrent lookups make ceil(450/200) = 3 calls of at most 200 filter values; a repeated ID is asked once', async () => {
    const s = await useStandIn();
    for (let i = 0; i < 450; i++) s.addInstance({ id: id(i), region: 'eu-west-1' });
    const lookup = new AwsInstanceLookup({ baseCredentials: CREDENTIALS, throttleWaitMs: 30_000, describePerSecond: 2 });
    const asks = Array.from({ length: 450 }, (_, i) => lookup.instanceState({ region: 'eu-west-1', accountId: ACCOUNT, instanceId: id(i) }));
    const twice = lookup.instanceState({ region: 'eu-west-1', accountId: ACCOUNT, instanceId: id(7) });
    const states = await Promise.all([...asks, twice]);
    expect(states.every((x) => x === 'running')).toBe(true);
    expect(s.stats.calls).toBe(3);
    expect(s.stats.idsAsked.reduce((a, b) => a + b, 0)).toBe(450);
    expect(Math.max(...s.stats.idsAsked)).toBeLessThanOrEqual(200);
  });

  test('pages are followed (NextToken) and every waiter gets its answer', async () => {
    const s = await useStandIn({ pageSize: 7 });
    for (let i = 0; i < 20; i++) s.addInstance({ id: id(i), region: 'us-east-1' });
    const lookup = new AwsInstanceLookup({ baseCredentials: CREDENTIALS, throttleWaitMs: 30_000, describePerSecond: 10 });
    const states = await Promise.all(Array.from({ length: 20 }, (_, i) => lookup.instanceState({ region: 'us-east-1', accountId: ACCOUNT, instanceId: id(i) })));
    expect(states).toEqual(Array(20).fill('running'));
    expect(s.stats.calls).toBe(3); // 7 + 7 + 6
  });

  test('different regions and different roles never share a call', async () => {
    const s = await useStandIn();
    s.addInstance({ id: id(1), region: 'us-east-1' });
    s.addInstance({ id: id(2), region: 'us-east-2' });
    const lookup = new AwsInstanceLookup({ baseCredentials: CREDENTIALS, throttleWaitMs: 30_000, describePerSecond: 10 });
    const states = await Promise.all([
      lookup.instanceState({ region: 'us-east-1', accountId: ACCOUNT, instanceId: id(1) }),
      lookup.instanceState({ region: 'us-east-2', accountId: ACCOUNT, instanceId: id(2) }),
      lookup.instanceState({ region: 'us-east-1', accountId: ACCOUNT, instanceId: id(2) }),
    ]);
    expect(states).toEqual(['running', 'running', undefined]);
    expect(s.stats.calls).toBe(2);
  });
});

describe('throttling', () => {
  test('a throttled batch is retried with backoff and then answered', async () => {
    const s = await useStandIn();
    for (let i = 0; i < 10; i++) s.addInstance({ id: id(i), region: 'us-west-2' });
    s.forceErrors([{ status: 503, code: 'RequestLimitExceeded' }, { status: 400, code: 'Throttling' }, { status: 503, code: 'RequestLimitExceeded' }]);
    const clock = virtualClock();
    const start = clock.now();
    const lookup = new AwsInstanceLookup({ baseCredentials: CREDENTIALS, clock, throttleWaitMs: 30_000, describePerSecond: 2 });
    const states = await Promise.all(Array.from({ length: 10 }, (_, i) => lookup.instanceState({ region: 'us-west-2', accountId: ACCOUNT, instanceId: id(i) })));
    expect(states).toEqual(Array(10).fill('running'));
    expect(s.stats.calls).toBe(4);
    expect(clock.now() - start).toBeLessThan(30_000);
  });

  test('throttled past the bounded wait: refused with aws_throttled, after retries, within the bound', async () => {
    const s = await useStandIn();
    s.addInstance({ id: id(1), region: 'us-west-2' });
    s.forceErrors(Array(500).fill({ status: 503, code: 'RequestLimitExceeded' }));
    const clock = virtualClock();
    const start = clock.now();
    const lookup = new AwsInstanceLookup({ baseCredentials: CREDENTIALS, clock, throttleWaitMs: 30_000, describePerSecond: 2 });
    const refusals = await Promise.all([id(1), id(2), id(3)].map((instanceId) => caught(lookup.instanceState({ region: 'us-west-2', accountId: ACCOUNT, instanceId }), JoinError)));
    for (const err of refusals) expect({ code: err.code, status: err.status }).toEqual({ code: 'aws_throttled', status: 429 });
    expect(s.stats.calls).toBeGreaterThan(3); // retried...
    expect(s.stats.calls).toBeLessThan(40); // ...with backoff, not in a loop
    expect(clock.now() - start).toBeLessThanOrEqual(30_000);
    expect(clock.now() - start).toBeGreaterThan(10_000); // and it did wait, most of the bound
  });

  test('the wait is configurable: 0 refuses at the first throttle', async () => {
    const s = await useStandIn();
    s.forceErrors([{ status: 503, code: 'RequestLimitExceeded' }]);
    const lookup = new AwsInstanceLookup({ baseCredentials: CREDENTIALS, clock: virtualClock(), throttleWaitMs: 0, describePerSecond: 2 });
    const err = await caught(lookup.instanceState({ region: 'us-west-2', accountId: ACCOUNT, instanceId: id(1) }), JoinError);
    expect(err.code).toBe('aws_throttled');
    expect(s.stats.calls).toBe(1);
  });

  test('a failure that is not throttling fails the batch at once, and the next batch works', async () => {
    const s = await useStandIn();
    s.addInstance({ id: id(1), region: 'us-west-2' });
    s.forceErrors([{ status: 403, code: 'UnauthorizedOperation' }]);
    const lookup = new AwsInstanceLookup({ baseCredentials: CREDENTIALS, clock: virtualClock(), throttleWaitMs: 30_000, describePerSecond: 2 });
    const err = await caught(lookup.instanceState({ region: 'us-west-2', accountId: ACCOUNT, instanceId: id(1) }), JoinError);
    expect(err.code).toBe('aws_access_denied');
    await expect(lookup.instanceState({ region: 'us-west-2', accountId: ACCOUNT, instanceId: id(1) })).resolves.toBe('running');
    expect(s.stats.calls).toBe(2);
  });
});

describe('pacing', () => {
  test('waves of joins stay under the account bucket: calls are paced, never throttled, and the queue grows instead', async () => {
    const clock = virtualClock();
    // AWS's bucket, scaled down: 3 burst, 1 per second, on the same virtual time.
    const s = await useStandIn({ burst: 3, refillPerSecond: 1, now: clock.now });
    for (let i = 0; i < 200; i++) s.addInstance({ id: id(i), region: 'ap-south-1' });
    const start = clock.now();
    const lookup = new AwsInstanceLookup({ baseCredentials: CREDENTIALS, clock, throttleWaitMs: 120_000, describePerSecond: 1 });
    for (let wave = 0; wave < 10; wave++) {
      const ids = Array.from({ length: 20 }, (_, i) => id(wave * 20 + i));
      const states = await Promise.all(ids.map((instanceId) => lookup.instanceState({ region: 'ap-south-1', accountId: ACCOUNT, instanceId })));
      expect(states).toEqual(Array(20).fill('running'));
    }
    expect(s.stats.throttled).toBe(0);
    expect(s.stats.calls).toBe(10);
    // 3 calls of burst, then one per second.
    expect(clock.now() - start).toBeGreaterThanOrEqual(6_000);
  });

  test('a join that waited out the bound in the pacing queue is refused, not asked for', async () => {
    const clock = manualClock();
    const asked: string[][] = [];
    // Six roles in one account and region: six queues sharing one bucket (1 per second, 3 of burst).
    const batcher = new DescribeInstancesBatcher({
      describePage: async (_key, ids) => {
        asked.push(ids);
        return { states: new Map(ids.map((i) => [i, 'running'])) };
      },
      isThrottling: () => false,
      isTransient: () => false,
      throttleWaitMs: () => 1_500,
      callsPerSecond: () => 1,
      clock,
    });
    const results = Array.from({ length: 6 }, (_, n) =>
      batcher.lookup({ region: 'ap-south-1', accountId: ACCOUNT, roleArn: `arn:aws:iam::${ACCOUNT}:role/r${n}` }, id(n)).then(
        (state) => state,
        (err: JoinError) => err.code,
      ),
    );
    await clock.advance(DEFAULT_WINDOW_MS); // three calls from the burst
    expect(asked.length).toBe(3);
    await clock.advance(1_000); // the fourth waited 1 s: within the bound
    expect(asked.length).toBe(4);
    await clock.advance(2_000); // the fifth and sixth would wait 2 s and 3 s: beyond it
    expect(await Promise.all(results)).toEqual(['running', 'running', 'running', 'running', 'aws_throttled', 'aws_throttled']);
    expect(asked.length).toBe(4);
  });
});

/** A clock that moves only when the test says so; sleepers wake in order of their due time. */
function manualClock() {
  let t = 0;
  const timers: { at: number; wake: () => void }[] = [];
  return {
    now: () => t,
    sleep: (ms: number) => new Promise<void>((wake) => timers.push({ at: t + ms, wake })),
    async advance(ms: number) {
      const end = t + ms;
      for (let guard = 0; guard < 1000; guard++) {
        timers.sort((a, b) => a.at - b.at);
        if (!timers.length || timers[0].at > end) break;
        const next = timers.shift()!;
        t = next.at;
        next.wake();
        await new Promise((r) => setImmediate(r));
      }
      t = end;
      await new Promise((r) => setImmediate(r));
    },
  };
}
