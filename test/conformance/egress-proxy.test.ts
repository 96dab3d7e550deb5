// Egress through an HTTPS proxy: the forwarded GetCallerIdentity honours HTTPS_PROXY / NO_PROXY
// with a CONNECT tunnel, TLS is still verified against the STS host's name, and the host
// allowlist decides before anything is sent. A CONNECT proxy and a TLS "STS" run on loopback; the
// server trusts the test CA through NODE_EXTRA_CA_CERTS, as an operator would add a private CA.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApiError } from '../../client/api-client';
import { prepareIamJoin } from '../../cli/agent/iam';
import { newPublicKeyPem, TEST_CREDENTIALS } from '../join-iam/signed-request';
import { caught } from '../support/caught';
import { callerIdentityXml } from '../support/fake-sts';
import { startTestServer, type TestServer } from '../support/server';

const ACCOUNT = '123456789012';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-proxy-'));

function openssl(args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A test CA and two leaf certificates: one for sts.amazonaws.com, one for another name. */
function makeCertificates(): void {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=proxy test CA']);
  for (const name of ['sts.amazonaws.com', 'not-sts.example']) {
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
    fs.writeFileSync(path.join(dir, `${name}.ext`), `subjectAltName=DNS:${name}\n`);
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

/** A CONNECT proxy that records what it was asked for and tunnels every request to `target`. */
function startConnectProxy(target: () => number): Promise<{ port: number; connects: string[]; server: http.Server; sockets: Set<net.Socket> }> {
  const connects: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((_req, res) => res.writeHead(405).end());
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    connects.push(String(req.url));
    sockets.add(client);
    const upstream = net.connect(target(), '127.0.0.1', () => {
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

beforeAll(async () => {
  makeCertificates();
  good = await startTlsSts('sts.amazonaws.com');
  wrongName = await startTlsSts('not-sts.example');
  proxy = await startConnectProxy(() => (useWrongName ? wrongName.port : good.port));
  server = await startTestServer({
    env: { HTTPS_PROXY: `http://127.0.0.1:${proxy.port}`, NO_PROXY: 'localhost,127.0.0.1', NODE_EXTRA_CA_CERTS: path.join(dir, 'ca.pem'), JOINERY_IAM_STS_TIMEOUT_MS: '5000' },
  });
  await server.client().createToken({ version: 'v2', metadata: { name: 'iam-proxied' }, spec: { roles: ['Node'], join_method: 'iam', allow: [{ aws_account: ACCOUNT }] } } as never);
});

afterAll(async () => {
  await server?.stop();
  for (const socket of proxy?.sockets ?? []) socket.destroy();
  for (const s of [good?.server, wrongName?.server, proxy?.server]) {
    s?.closeAllConnections();
    await new Promise((r) => (s ? s.close(r) : r(undefined)));
  }
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
