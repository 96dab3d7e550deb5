// With the join rate limit off (0), the middleware does no work at all: it reads neither the
// clock nor the request, and keeps no per-client state.
import type { Request, Response } from 'express';
import { rateLimit } from '../../api/server/rate-limit';

test('a limit of 0 passes every request through without reading the clock or the request', () => {
  const clock = jest.fn(() => 0);
  const handler = rateLimit({ joinRatePerMinute: 0 }, clock);
  const req = new Proxy({} as Request, {
    get(_t, prop) {
      throw new Error(`the request was read (${String(prop)})`);
    },
  });
  const next = jest.fn();
  for (let i = 0; i < 1000; i++) handler(req, {} as Response, next);
  expect(next).toHaveBeenCalledTimes(1000);
  expect(next.mock.calls.every((c) => c.length === 0)).toBe(true);
  expect(clock).not.toHaveBeenCalled();
});

test('a positive limit still refuses the request beyond it', () => {
  const handler = rateLimit({ joinRatePerMinute: 2 }, () => 0);
  const req = { socket: { remoteAddress: '192.0.2.1' }, headers: {} } as unknown as Request;
  const res = { setHeader: jest.fn() } as unknown as Response;
  const next = jest.fn();
  for (let i = 0; i < 3; i++) handler(req, res, next);
  expect(next.mock.calls.map((c) => (c[0] as { code?: string } | undefined)?.code)).toEqual([undefined, undefined, 'rate_limited']);
});
