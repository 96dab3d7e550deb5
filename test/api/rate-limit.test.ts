import { ApiError } from '../../client/api-client';
import { startTestServer } from '../support/server';

test('public join endpoints are rate limited per client address; admin endpoints are not', async () => {
  const server = await startTestServer({ env: { JOINERY_JOIN_RATE_PER_MINUTE: '5' } });
  try {
    const c = server.client();
    for (let i = 0; i < 5; i++) await c.post('/v1/join/iam/challenge', {});
    const e = await c.post('/v1/join/iam/challenge', {}).catch((x: ApiError) => x);
    expect(e).toBeInstanceOf(ApiError);
    expect([(e as ApiError).status, (e as ApiError).code]).toEqual([429, 'rate_limited']);
    // Every join method shares the budget.
    const t = await c.post('/v1/join/token', { token_name: 'x', role: 'Node', public_key: 'x' }).catch((x: ApiError) => x);
    expect((t as ApiError).status).toBe(429);
    for (let i = 0; i < 10; i++) await c.listTokens();
  } finally {
    await server.stop();
  }
});
