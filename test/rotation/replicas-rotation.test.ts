// Two replica processes on one PostgreSQL database: a CA rotation onto a moto KMS key, driven
// through replica A, is followed by replica B without a restart: B's joins carry both CAs from
// init, B issues from the new CA from update_clients, B's TLS certificate comes from the new CA
// from update_servers, and B drops the old CA at standby.

import { X509Certificate } from 'node:crypto';
import * as tls from 'node:tls';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import type { TestServer } from '../support/server';
import { startMoto, type Moto } from '../support/moto';
import { startReplicas, type Replicas } from '../replicas/cluster';
import { newHostKey } from '../lifecycle/support';

jest.setTimeout(180_000);

let moto: Moto;
let cluster: Replicas;
const TOKEN = 'replica-rotation-0123456789abcdef0123';

beforeAll(async () => {
  moto = await startMoto();
  cluster = await startReplicas({ ...moto.env });
  await cluster.a.client().createToken({ version: 'v2', metadata: { name: TOKEN }, spec: { roles: ['Node'], join_method: 'token' } });
}, 180_000);
afterAll(async () => {
  await cluster?.stop();
  await moto?.stop();
});

interface CaView {
  phase: string;
  cas: { pin: string; certificate: string }[];
}

async function view(s: TestServer): Promise<CaView> {
  // A new client each time: it trusts the server's ca.crt, which the server rewrites at each change.
  return s.client().request<CaView>('GET', '/v1/ca');
}

async function waitForPhase(s: TestServer, phase: string): Promise<CaView> {
  const end = Date.now() + 20_000;
  for (;;) {
    const v = await view(s);
    if (v.phase === phase) return v;
    if (Date.now() > end) throw new Error(`replica stayed in ${v.phase}, not ${phase}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function join(s: TestServer): Promise<{ certificate: X509Certificate; bundle: string[] }> {
  const key = newHostKey();
  const r = await s.client().request<{ certificate: string; ca_certificates: string[] }>('POST', '/v1/join/token', { token_name: TOKEN, role: 'Node', public_key: key.publicPem });
  return { certificate: new X509Certificate(r.certificate), bundle: r.ca_certificates };
}

function serverCertificate(s: TestServer): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port: s.port, rejectUnauthorized: false }, () => {
      const peer = socket.getPeerX509Certificate();
      socket.end();
      if (peer) resolve(peer);
      else reject(new Error('no certificate'));
    });
    socket.once('error', reject);
  });
}

const signedBy = (cert: X509Certificate, caPem: string) => cert.verify(new X509Certificate(caPem).publicKey);

test('replica B follows a rotation driven through replica A, phase by phase, with no restart', async () => {
  const kms = new KMSClient({ region: 'us-east-1', endpoint: moto.endpoint, credentials: moto.credentials, maxAttempts: 1 });
  const keyId = (await kms.send(new CreateKeyCommand({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' }))).KeyMetadata!.KeyId!;
  kms.destroy();
  const oldCa = (await view(cluster.b)).cas[0];

  const init = await cluster.a.client().rotateCa({ manual: true, new_key: `awskms:${keyId}` });
  const newCa = init.cas[1];
  const b = await waitForPhase(cluster.b, 'init');
  expect(b.cas.map((c) => c.pin)).toEqual([oldCa.pin, newCa.pin]);
  let joined = await join(cluster.b);
  expect(joined.bundle).toEqual([oldCa.certificate, newCa.certificate]);
  expect(signedBy(joined.certificate, oldCa.certificate)).toBe(true);

  await cluster.a.client().rotateCa({ phase: 'update_clients' });
  await waitForPhase(cluster.b, 'update_clients');
  joined = await join(cluster.b);
  expect(signedBy(joined.certificate, newCa.certificate)).toBe(true);
  expect(signedBy(await serverCertificate(cluster.b), oldCa.certificate)).toBe(true);

  await cluster.a.client().rotateCa({ phase: 'update_servers' });
  await waitForPhase(cluster.b, 'update_servers');
  expect(signedBy(await serverCertificate(cluster.b), newCa.certificate)).toBe(true);
  expect(signedBy(await serverCertificate(cluster.a), newCa.certificate)).toBe(true);

  await cluster.a.client().rotateCa({ phase: 'standby' });
  const done = await waitForPhase(cluster.b, 'standby');
  expect(done.cas.map((c) => c.pin)).toEqual([newCa.pin]);
  joined = await join(cluster.b);
  expect(joined.bundle).toEqual([newCa.certificate]);
  expect(signedBy(joined.certificate, newCa.certificate)).toBe(true);
  const status = await cluster.b.client().status();
  expect(status.ca_pin).toBe(newCa.pin);
});
