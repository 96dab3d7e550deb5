// The CA key service failing in the middle of a rotation: a CA moved onto a KMS key (the loopback
// stand-in) refuses, errs or answers a signature that is not its key's. Joins and renewals answer
// 503 ca_unavailable (not a bare 500, and not the key's name to an unauthenticated host), nothing
// is issued, and nothing is used up: a single-use token still admits its host once KMS signs again,
// and a host renews with the certificate it has.

import { X509Certificate, randomBytes } from 'node:crypto';
import * as tls from 'node:tls';
import { KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { newHostKey, startLifecycleServer, type LifecycleServer } from '../lifecycle/support';

jest.mock('../../api/version', () => ({ VERSION: '0.0.0-test' }));
jest.setTimeout(60_000);

interface StandIn {
  endpoint: string;
  keyId: string;
  failNext(...answers: Array<{ status: number; type: string; message: string }>): void;
  close(): Promise<void>;
}
const { startKmsStandIn } = require('../../bench/kms-standin') as { startKmsStandIn: (opts?: Record<string, unknown>) => Promise<StandIn> };

let standIn: StandIn;
let client: KMSClient;
let garbage = 0;
let s: LifecycleServer;
beforeAll(async () => {
  standIn = await startKmsStandIn();
  client = new KMSClient({ region: 'us-east-1', endpoint: standIn.endpoint, credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 });
  // A KMS that answers a signature of nothing: bytes that are not even DER.
  const send = client.send.bind(client) as (c: unknown) => Promise<{ Signature?: Uint8Array }>;
  (client as unknown as { send: typeof send }).send = async (command) => {
    const out = await send(command);
    if (command instanceof SignCommand && garbage > 0) {
      garbage--;
      return { ...out, Signature: randomBytes(72) };
    }
    return out;
  };
  s = await startLifecycleServer({ JOINERY_HOST_CERT_TTL_SECONDS: '60' }, { caSigner: { kmsClient: client } });
});
afterAll(async () => {
  await s?.stop();
  client?.destroy();
  await standIn?.close();
});

const denied = { status: 400, type: 'AccessDeniedException', message: 'User is not authorized to perform kms:Sign' };

test('mid-rotation, with the new CA on KMS: a failing Sign is a 503 that uses up nothing', async () => {
  const node = 'kms-fail-node-token-0123456789';
  const bot = 'kms-fail-bot-token-0123456789ab';
  await s.admin('POST', '/v1/tokens', { version: 'v2', metadata: { name: node }, spec: { roles: ['Node'], join_method: 'token' } });
  await s.admin('POST', '/v1/tokens', { version: 'v2', metadata: { name: bot }, spec: { roles: ['Bot'], join_method: 'token', bot_name: 'kms-bot' } });
  const key = newHostKey();
  const host = (await s.request('POST', '/v1/join/token', { body: { token_name: node, role: 'Node', public_key: key.publicPem } })).json();

  await s.server.trust.rotate({ manual: true, newKey: `awskms:${standIn.keyId}` }, new Date());
  await s.server.trust.rotate({ phase: 'update_clients' }, new Date());
  const both = s.caPem + s.server.trust.bundle()[1];

  for (const fail of [() => standIn.failNext(denied), () => (garbage = 1)]) {
    fail();
    const r = await s.request('POST', '/v1/join/token', { body: { token_name: bot, role: 'Bot', public_key: newHostKey().publicPem }, ca: both });
    expect([r.status, r.json().error.code]).toEqual([503, 'ca_unavailable']);
    // The host is not told which key or permission: that is in the server's log and the audit.
    expect(r.json().error.message).not.toMatch(/kms|arn|AccessDenied/i);
    fail();
    const rr = await s.request('POST', '/v1/renew', { cert: host.certificate, key: key.privatePem, ca: both });
    expect([rr.status, rr.json().error.code]).toEqual([503, 'ca_unavailable']);
  }
  // The single-use token survived both failures and admits its host once; the host renews with
  // the certificate it had.
  expect((await s.request('POST', '/v1/join/token', { body: { token_name: bot, role: 'Bot', public_key: newHostKey().publicPem }, ca: both })).status).toBe(200);
  expect((await s.request('POST', '/v1/join/token', { body: { token_name: bot, role: 'Bot', public_key: newHostKey().publicPem }, ca: both })).json().error.code).toBe('token_not_found');
  const renewed = await s.request('POST', '/v1/renew', { cert: host.certificate, key: key.privatePem, ca: both });
  expect(renewed.status).toBe(200);
  // The audit says why, for the operator.
  const audit = (await s.request('GET', '/v1/audit?type=renew', { headers: { authorization: `Bearer ${s.adminToken}` }, ca: both })).json();
  expect(audit.events.filter((e: { code?: string }) => e.code === 'ca_unavailable')).toHaveLength(2);
});

/** The CA certificate (of `pems`) that signed the TLS certificate a new connection gets now. */
function serverIssuer(pems: string[]): Promise<number> {
  const url = new URL(s.url);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: url.hostname, port: Number(url.port), rejectUnauthorized: false }, () => {
      const leaf = socket.getPeerX509Certificate()!;
      socket.end();
      resolve(pems.findIndex((pem) => leaf.verify(new X509Certificate(pem).publicKey)));
    });
    socket.on('error', reject);
  });
}

test('update_servers while KMS refuses: the phase moves (200), and the server swaps its TLS certificate once KMS signs again', async () => {
  expect(s.server.trust.phase).toBe('update_clients');
  const [oldCa, newCa] = s.server.trust.bundle();
  expect(await serverIssuer([oldCa, newCa])).toBe(0);
  standIn.failNext(denied);
  const r = await s.request('POST', '/v1/ca/rotate', { body: { phase: 'update_servers' }, headers: { authorization: `Bearer ${s.adminToken}` }, ca: oldCa + newCa });
  expect([r.status, r.json().phase]).toEqual([200, 'update_servers']);
  // The next refresh (every 2 s) tries again, and KMS signs now.
  const end = Date.now() + 20_000;
  while ((await serverIssuer([oldCa, newCa])) !== 1 && Date.now() < end) await new Promise((done) => setTimeout(done, 200));
  expect(await serverIssuer([oldCa, newCa])).toBe(1);
});
