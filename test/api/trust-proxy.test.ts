// JOINERY_TRUST_PROXY against the real server: X-Forwarded-For decides the client for the rate
// limit, the audit and the access log only when the socket peer is a trusted proxy.

import * as fs from 'node:fs';
import * as https from 'node:https';
import { startTestServer, type TestServer } from '../support/server';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: { error?: { code: string } } & Record<string, unknown>;
}

function post(server: TestServer, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port: server.port, path, method: 'POST', ca: fs.readFileSync(server.caFile), servername: 'localhost', headers: { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(payload)), ...headers } },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const JOIN = { token_name: 'no-such-token-0123456789', role: 'Node', public_key: 'not a key' };

async function remoteAddrs(server: TestServer): Promise<string[]> {
  const { events } = await server.client().request<{ events: { remoteAddr?: string }[] }>('GET', '/v1/audit?type=join.token&limit=1000');
  return events.map((e) => e.remoteAddr ?? '');
}

describe('with JOINERY_TRUST_PROXY=127.0.0.1 (the test client is the proxy)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { JOINERY_TRUST_PROXY: '127.0.0.1,::1', JOINERY_JOIN_RATE_PER_MINUTE: '2', JOINERY_LOG_LEVEL: 'info' } });
  });
  afterAll(() => server?.stop());

  test('the forwarded client is audited and logged, and rate limited on its own', async () => {
    const a1 = await post(server, '/v1/join/token', JOIN, { 'X-Forwarded-For': '198.51.100.1, 203.0.113.7' });
    expect(a1.status).toBeLessThan(429);
    expect(await remoteAddrs(server)).toEqual(['203.0.113.7']);
    expect(server.output()).toMatch(/"route":"\/v1\/join\/token".*"remote":"203\.0\.113\.7"/);

    expect((await post(server, '/v1/join/token', JOIN, { 'X-Forwarded-For': '203.0.113.7' })).status).toBeLessThan(429);
    const limited = await post(server, '/v1/join/token', JOIN, { 'X-Forwarded-For': '203.0.113.7' });
    expect([limited.status, limited.body.error?.code]).toEqual([429, 'rate_limited']);
    expect(limited.headers['retry-after']).toMatch(/^\d+$/);
    // Another client behind the same proxy has its own budget; so does another IPv6 /64.
    expect((await post(server, '/v1/join/token', JOIN, { 'X-Forwarded-For': '203.0.113.8' })).status).toBeLessThan(429);
    expect((await post(server, '/v1/join/token', JOIN, { 'X-Forwarded-For': '2001:db8:1:1::1' })).status).toBeLessThan(429);
    expect((await post(server, '/v1/join/token', JOIN, { 'X-Forwarded-For': '2001:db8:1:1::2' })).status).toBeLessThan(429);
    expect((await post(server, '/v1/join/token', JOIN, { 'X-Forwarded-For': '2001:db8:1:1:ffff::3' })).status).toBe(429);
    expect((await post(server, '/v1/join/token', JOIN, { 'X-Forwarded-For': '2001:db8:1:2::1' })).status).toBeLessThan(429);
  });
});

describe('without JOINERY_TRUST_PROXY', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { JOINERY_JOIN_RATE_PER_MINUTE: '2', JOINERY_LOG_LEVEL: 'info' } });
  });
  afterAll(() => server?.stop());

  test('X-Forwarded-For is ignored: the socket peer is audited, logged and rate limited', async () => {
    expect((await post(server, '/v1/join/token', JOIN, { 'X-Forwarded-For': '203.0.113.7' })).status).toBeLessThan(429);
    expect(await remoteAddrs(server)).toEqual(['127.0.0.1']);
    expect(server.output()).not.toContain('203.0.113.7');
    expect((await post(server, '/v1/join/token', JOIN, { 'X-Forwarded-For': '203.0.113.8' })).status).toBeLessThan(429);
    const limited = await post(server, '/v1/join/token', JOIN, { 'X-Forwarded-For': '203.0.113.9' });
    expect([limited.status, limited.body.error?.code]).toEqual([429, 'rate_limited']);
  });
});

test('an invalid JOINERY_TRUST_PROXY entry stops the start with a message naming it', async () => {
  await expect(startTestServer({ env: { JOINERY_TRUST_PROXY: '10.0.0.0/8,10.0.0.0/40' } })).rejects.toThrow(/JOINERY_TRUST_PROXY: "10\.0\.0\.0\/40" is not an IP address or CIDR/);
});

test('outstanding IAM challenges are capped cluster-wide: 429 iam_challenges_exhausted with Retry-After', async () => {
  const server = await startTestServer({ env: { JOINERY_IAM_MAX_OUTSTANDING_CHALLENGES: '3' } });
  try {
    for (let i = 0; i < 3; i++) expect((await post(server, '/v1/join/iam/challenge', {})).status).toBe(200);
    const refused = await post(server, '/v1/join/iam/challenge', {});
    expect(refused.status).toBe(429);
    expect(refused.body.error?.code).toBe('iam_challenges_exhausted');
    expect(refused.headers['retry-after']).toMatch(/^[1-9]\d*$/);
  } finally {
    await server.stop();
  }
});
