// The request handler of the server's own AWS SDK clients: the proxy is chosen per request host
// from HTTPS_PROXY / NO_PROXY, and destroying one client never cuts another client's proxied
// requests (the proxy agent is shared). Loopback only: the "proxy" is a closed port.

import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { proxyAgentFor } from '../../api/aws/egress-proxy';
import { awsRequestHandler } from '../../api/aws/request-handler';

const VARS = ['HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy', 'npm_config_https_proxy', 'npm_config_proxy', 'npm_config_no_proxy'];
const saved = Object.fromEntries(VARS.map((k) => [k, process.env[k]]));
let closedPort: number;

beforeAll(async () => {
  closedPort = await new Promise<number>((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
  for (const k of VARS) delete process.env[k];
  process.env.HTTPS_PROXY = `http://127.0.0.1:${closedPort}`;
  process.env.NO_PROXY = 'localhost,.vpce.example,ec2.eu-west-1.amazonaws.com';
});

afterAll(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

test('the proxy is chosen per host: AWS hosts through it, NO_PROXY hosts and plain http directly', () => {
  const handler = awsRequestHandler({ connectionTimeout: 1000, requestTimeout: 1000 });
  const proxied = proxyAgentFor('https://sts.us-east-1.amazonaws.com/');
  expect(proxied).toBeDefined();
  for (const url of ['https://ec2.us-west-2.amazonaws.com/', 'https://sts.cn-north-1.amazonaws.com.cn/', 'https://organizations.us-iso-east-1.c2s.ic.gov/']) {
    expect(handler.proxyAgentFor(url)).toBe(proxied);
  }
  for (const url of ['https://ec2.eu-west-1.amazonaws.com/', 'https://sts.us-east-1.vpce.example/', 'https://localhost:4566/', 'http://ec2.us-west-2.amazonaws.com/']) {
    expect(handler.proxyAgentFor(url)).toBeUndefined();
  }
});

function request(hostname: string, port?: number) {
  return { protocol: 'https:', hostname, port, method: 'POST', path: '/', query: {}, headers: { host: hostname } } as never;
}

test("destroying one client's handler leaves the shared proxy agent to the others", async () => {
  const agent = proxyAgentFor('https://ec2.us-west-2.amazonaws.com/')!;
  const destroyed = jest.spyOn(agent, 'destroy');
  const one = awsRequestHandler({ connectionTimeout: 1000, requestTimeout: 1000 });
  const other = awsRequestHandler({ connectionTimeout: 1000, requestTimeout: 1000 });
  try {
    // The proxy is a closed port: both requests fail at the CONNECT, having used the shared agent.
    await expect(one.handle(request('ec2.us-west-2.amazonaws.com'))).rejects.toThrow();
    one.destroy();
    expect(destroyed).not.toHaveBeenCalled();
    await expect(other.handle(request('ec2.us-west-2.amazonaws.com'))).rejects.toThrow(/ECONNREFUSED/);
  } finally {
    destroyed.mockRestore();
    other.destroy();
  }
});

test('a direct request uses the handler\'s own agent, which destroy closes', async () => {
  const handler = awsRequestHandler({ connectionTimeout: 1000, requestTimeout: 1000 });
  await expect(handler.handle(request('localhost', closedPort))).rejects.toThrow(/ECONNREFUSED/);
  const direct = (handler as unknown as { direct?: { destroy(): void } }).direct!;
  const destroyed = jest.spyOn(direct, 'destroy');
  handler.destroy();
  expect(destroyed).toHaveBeenCalledTimes(1);
});
