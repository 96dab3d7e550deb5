// Egress through an HTTPS proxy: the forwarded GetCallerIdentity honours HTTPS_PROXY / NO_PROXY
// with a CONNECT tunnel, TLS is still verified against the STS host's name, and the host
// allowlist decides before anything is sent; the server's own SDK calls (an EC2 join's
// DescribeInstances) go through the same proxy unless NO_PROXY exempts their host. A CONNECT
// proxy, a TLS "STS" and a TLS "EC2" run on loopback; the server trusts the test CA through
// NODE_EXTRA_CA_CERTS, as an operator would add a private CA.

import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { AwsInstanceLookup } from '../../api/join/ec2/describe-instance';
import { JoinError } from '../../api/join/errors';
import { ApiError } from '../../client/api-client';
import { prepareIamJoin } from '../../cli/agent/iam';
import { newPublicKeyPem, TEST_CREDENTIALS } from '../join-iam/signed-request';
import { caught } from '../support/caught';
import { callerIdentityXml } from '../support/fake-sts';
import { createIidSigner, identityDocument, type IidSigner } from '../support/iid-test-ca';
import { startTestServer, type TestServer } from '../support/server';

const { startEc2StandIn } = require('../../bench/ec2-standin') as {
  startEc2StandIn: (opts?: Record<string, unknown>) => Promise<{ url: string; stats: { calls: number; answered: number }; addInstance(i: { id: string; region: string }): void; stop(): Promise<void> }>;
};

const ACCOUNT = '123456789012';
const EC2_REGION = 'us-west-2';
const EC2_HOST = `ec2.${EC2_REGION}.amazonaws.com`;
const INSTANCE = 'i-0a1b2c3d4e5f60718';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-proxy-'));

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A test CA and leaf certificates: sts.amazonaws.com, another name, and the EC2 host (also 127.0.0.1). */
function makeCertificates(): void {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=proxy test CA']);
  for (const name of ['sts.amazonaws.com', 'not-sts.example', EC2_HOST]) {
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
    fs.writeFileSync(path.join(dir, `${name}.ext`), `subjectAltName=DNS:${name}${name === EC2_HOST ? ',IP:127.0.0.1' : ''}\n`);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`]);
  }
}

interface TlsSts {
  port: number;
  hosts: string[];
  server: https.Server;
}

function startTlsSts(certName: string): Promise<TlsSts> {
  const hosts: string[] = [];
  const server = https.createServer({ key: fs.readFileSync(path.join(dir, `${certName}.key`)), cert: fs.readFileSync(path.join(dir, `${certName}.pem`)) }, (req, res) => {
    hosts.push(String(req.headers.host));
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'text/xml' });
      res.end(callerIdentityXml(ACCOUNT, `arn:aws:iam::${ACCOUNT}:user/proxied`));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ port: (server.address() as AddressInfo).port, hosts, server })));
}

/** TLS in front of the EC2 stand-in (plain HTTP on loopback), as ec2.<region>.amazonaws.com; records the SNI names. */
function startTlsEc2(standInPort: number): Promise<{ port: number; names: (string | false)[]; server: tls.Server }> {
  const names: (string | false)[] = [];
  const server = tls.createServer({ key: fs.readFileSync(path.join(dir, `${EC2_HOST}.key`)), cert: fs.readFileSync(path.join(dir, `${EC2_HOST}.pem`)) }, (socket) => {
    names.push(socket.servername ?? false);
    const upstream = net.connect(standInPort, '127.0.0.1');
    socket.pipe(upstream).pipe(socket);
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ port: (server.address() as AddressInfo).port, names, server })));
}

/** A CONNECT proxy that records what it was asked for and tunnels each request to `target(host:port)`. */
function startConnectProxy(target: (authority: string) => number): Promise<{ port: number; connects: string[]; server: http.Server; sockets: Set<net.Socket> }> {
  const connects: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((_req, res) => res.writeHead(405).end());
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    connects.push(String(req.url));
    sockets.add(client);
    const upstream = net.connect(target(String(req.url)), '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ port: (server.address() as AddressInfo).port, connects, server, sockets })));
}

let good: TlsSts;
let wrongName: TlsSts;
let proxy: Awaited<ReturnType<typeof startConnectProxy>>;
let useWrongName = false;
let server: TestServer;
let standIn: Awaited<ReturnType<typeof startEc2StandIn>>;
let tlsEc2: Awaited<ReturnType<typeof startTlsEc2>>;
let iidSigner: IidSigner;

/** What the server needs for EC2 joins: the IID certificate, and credentials that never fall through to a real instance role. */
function ec2Env(): Record<string, string> {
  return {
    JOINERY_EC2_EXTRA_CERTS: `${EC2_REGION}=${iidSigner.writeCert(dir, 'iid.pem')}`,
    AWS_ACCESS_KEY_ID: 'AKIAPROXIED',
    AWS_SECRET_ACCESS_KEY: 'proxied-secret',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

beforeAll(async () => {
  makeCertificates();
  good = await startTlsSts('sts.amazonaws.com');
  wrongName = await startTlsSts('not-sts.example');
  standIn = await startEc2StandIn({ account: ACCOUNT });
  standIn.addInstance({ id: INSTANCE, region: EC2_REGION });
  tlsEc2 = await startTlsEc2(Number(new URL(standIn.url).port));
  iidSigner = await createIidSigner('proxied');
  proxy = await startConnectProxy((authority) => (authority.startsWith('ec2.') ? tlsEc2.port : useWrongName ? wrongName.port : good.port));
  server = await startTestServer({
    env: { HTTPS_PROXY: `http://127.0.0.1:${proxy.port}`, NO_PROXY: 'localhost,127.0.0.1', NODE_EXTRA_CA_CERTS: path.join(dir, 'ca.pem'), JOINERY_IAM_STS_TIMEOUT_MS: '5000', ...ec2Env() },
  });
  await server.client().createToken({ version: 'v2', metadata: { name: 'iam-proxied' }, spec: { roles: ['Node'], join_method: 'iam', allow: [{ aws_account: ACCOUNT }] } } as never);
}, 60_000);

afterAll(async () => {
  await server?.stop();
  for (const socket of proxy?.sockets ?? []) socket.destroy();
  for (const s of [good?.server, wrongName?.server, proxy?.server]) {
    s?.closeAllConnections();
    await new Promise((r) => (s ? s.close(r) : r(undefined)));
  }
  await new Promise((r) => (tlsEc2 ? tlsEc2.server.close(r) : r(undefined)));
  await standIn?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function body(region?: string): Promise<Record<string, unknown>> {
  const prepared = await prepareIamJoin({ client: server.client(), tokenName: 'iam-proxied', role: 'Node', publicKeyPem: newPublicKeyPem(), credentials: TEST_CREDENTIALS, env: {}, region });
  return prepared.body;
}

test('the forwarded GetCallerIdentity goes through the CONNECT proxy to the STS host, TLS verified end to end', async () => {
  const res = await server.client().post<{ host_id: string }>('/v1/join/iam', await body());
  expect(res.host_id).toBeTruthy();
  expect(proxy.connects).toEqual(['sts.amazonaws.com:443']);
  expect(good.hosts).toEqual(['sts.amazonaws.com']);
});

test('a tunnel that ends at a host with another name is refused: TLS is verified to the STS host', async () => {
  useWrongName = true;
  try {
    const e = await caught(server.client().post('/v1/join/iam', await body('eu-west-1')), ApiError);
    expect([e.status, e.code]).toEqual([403, 'iam_sts_unreachable']);
    expect(proxy.connects).toContain('sts.eu-west-1.amazonaws.com:443');
    expect(wrongName.hosts).toEqual([]); // the handshake failed before any request was sent
  } finally {
    useWrongName = false;
  }
});

test('the allowlist decides before the proxy hears of a host', async () => {
  const b = await body();
  const sts = b.sts_request as { url: string; headers: [string, string][] };
  sts.url = 'https://sts.evil.example/';
  sts.headers = sts.headers.map(([n, v]) => (n.toLowerCase() === 'host' ? [n, 'sts.evil.example'] : [n, v]));
  const before = proxy.connects.length;
  const e = await caught(server.client().post('/v1/join/iam', b), ApiError);
  expect(e.status).toBeGreaterThanOrEqual(400);
  expect(e.status).toBeLessThan(500);
  expect(proxy.connects.length).toBe(before);
});

test('NO_PROXY exempts a host: no CONNECT is sent for it', async () => {
  const direct = await startTestServer({
    env: { HTTPS_PROXY: `http://127.0.0.1:${proxy.port}`, NO_PROXY: '.amazonaws.com', NODE_EXTRA_CA_CERTS: path.join(dir, 'ca.pem'), JOINERY_IAM_STS_TIMEOUT_MS: '3000' },
  });
  try {
    await direct.client().createToken({ version: 'v2', metadata: { name: 'iam-proxied' }, spec: { roles: ['Node'], join_method: 'iam', allow: [{ aws_account: ACCOUNT }] } } as never);
    const prepared = await prepareIamJoin({ client: direct.client(), tokenName: 'iam-proxied', role: 'Node', publicKeyPem: newPublicKeyPem(), credentials: TEST_CREDENTIALS, env: {} });
    const before = proxy.connects.length;
    // Direct to the real STS: there is no route off this machine, so it cannot be reached.
    const e = await caught(direct.client().post('/v1/join/iam', prepared.body), ApiError);
    expect(e.code).toBe('iam_sts_unreachable');
    expect(proxy.connects.length).toBe(before);
  } finally {
    await direct.stop();
  }
});

test('a malformed HTTPS_PROXY stops the server at start', async () => {
  await expect(startTestServer({ env: { HTTPS_PROXY: 'ftp://proxy.example:21' } })).rejects.toThrow(/HTTPS_PROXY must be an http/);
});

describe("the server's own AWS SDK calls", () => {
  const ec2Token = { version: 'v2', metadata: { name: 'ec2-proxied' }, spec: { roles: ['Node'], join_method: 'ec2', allow: [{ aws_account: ACCOUNT, aws_regions: [EC2_REGION] }] } };

  async function ec2Join(target: TestServer): Promise<{ host_id: string }> {
    const pendingTime = new Date(Date.now() - 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const iid = await iidSigner.sign(identityDocument({ accountId: ACCOUNT, instanceId: INSTANCE, region: EC2_REGION, pendingTime }), { ber: true });
    const publicKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    return target.client().post('/v1/join/ec2', { token_name: 'ec2-proxied', role: 'Node', public_key: publicKey, iid, host_id: `${ACCOUNT}-${INSTANCE}` });
  }

  test("an EC2 join's DescribeInstances goes through the CONNECT proxy to the EC2 host, TLS verified to its name", async () => {
    await server.client().createToken(ec2Token as never);
    const before = { connects: proxy.connects.length, answered: standIn.stats.answered };
    const res = await ec2Join(server);
    expect(res.host_id).toBe(`${ACCOUNT}-${INSTANCE}`);
    expect(proxy.connects.slice(before.connects)).toEqual([`${EC2_HOST}:443`]);
    expect(tlsEc2.names).toEqual([EC2_HOST]);
    expect(standIn.stats.answered).toBe(before.answered + 1);
  });

  test('NO_PROXY decides per endpoint host: an exempted EC2 endpoint is reached directly', async () => {
    const direct = await startTestServer({
      env: {
        HTTPS_PROXY: `http://127.0.0.1:${proxy.port}`,
        NO_PROXY: '127.0.0.1',
        AWS_ENDPOINT_URL_EC2: `https://127.0.0.1:${tlsEc2.port}`,
        NODE_EXTRA_CA_CERTS: path.join(dir, 'ca.pem'),
        ...ec2Env(),
      },
    });
    try {
      await direct.client().createToken(ec2Token as never);
      const before = { connects: proxy.connects.length, answered: standIn.stats.answered, tls: tlsEc2.names.length };
      expect((await ec2Join(direct)).host_id).toBe(`${ACCOUNT}-${INSTANCE}`);
      expect(proxy.connects.length).toBe(before.connects);
      expect(tlsEc2.names.length).toBe(before.tls + 1); // straight to the TLS endpoint, no SNI for an IP
      expect(standIn.stats.answered).toBe(before.answered + 1);
    } finally {
      await direct.stop();
    }
  });

  test("the AssumeRole of an EC2 join's foreign account goes through the proxy too (STS in the instance's region)", async () => {
    const saved = { HTTPS_PROXY: process.env.HTTPS_PROXY, NO_PROXY: process.env.NO_PROXY, AWS_ENDPOINT_URL: process.env.AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_STS: process.env.AWS_ENDPOINT_URL_STS };
    process.env.HTTPS_PROXY = `http://127.0.0.1:${proxy.port}`;
    for (const k of ['NO_PROXY', 'AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_STS']) delete process.env[k];
    // The tunnel ends at the STS stand-in, whose certificate this process does not trust: the call fails after the CONNECT.
    const lookup = new AwsInstanceLookup({ baseCredentials: async () => ({ accessKeyId: 'AKIAPROXIED', secretAccessKey: 'proxied-secret' }), throttleWaitMs: 0, describePerSecond: 1 });
    const before = proxy.connects.length;
    try {
      const err = await caught(lookup.instanceState({ region: 'eu-central-1', accountId: '222222222222', instanceId: INSTANCE, roleArn: 'arn:aws:iam::222222222222:role/describe' }), JoinError);
      expect(err.code).toBe('aws_assume_role_failed');
      expect(proxy.connects.slice(before)).toContain('sts.eu-central-1.amazonaws.com:443');
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
