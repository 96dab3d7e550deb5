// The server with its CA key in AWS KMS (moto) and on a PKCS#11 token (SoftHSM2): the CA
// certificate, the server's TLS certificate, host certificates at join and renewal, and the CRL
// are all signed through the key service; openssl verifies them with -crl_check, and no private
// key is ever written to the data directory. A key file's CA rotates onto an HSM key and back.

import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { KMSClient } from '@aws-sdk/client-kms';
import { ClusterCA } from '../../api/ca/ca';
import { openStore } from '../../api/store/open';
import { loadConfig } from '../../api/config';
import { joinWithToken, renew, startLifecycleServer, type LifecycleServer } from '../lifecycle/support';
import { startMotoKms, type MotoKms } from '../support/moto-kms';
import { SOFTHSM_MODULE, createSoftHsm, type SoftHsm } from './softhsm';

let motoKms: MotoKms;
let kms: KMSClient;
let hsm: SoftHsm;

beforeAll(async () => {
  motoKms = await startMotoKms();
  kms = motoKms.kms;
  hsm = createSoftHsm();
  hsm.addKey({ label: 'ca-key', idHex: '0a01' });
  hsm.addKey({ label: 'other-key', idHex: '0a02' });
});
afterAll(async () => {
  await motoKms?.stop();
  hsm?.remove();
});

const kmsKey = async () => (await motoKms.createKey()).id;

const secret = (label: string) => `${label}-${Math.random().toString(36).slice(2)}-0123456789abcdef`;

/** openssl verify of a host certificate against the CA and the server's CRL, at the server's time. */
function opensslVerify(s: LifecycleServer, certPem: string, crlPem: string): string {
  const dir = fs.mkdtempSync(path.join(s.dataDir, 'verify-'));
  fs.writeFileSync(path.join(dir, 'ca.pem'), s.caPem);
  fs.writeFileSync(path.join(dir, 'crl.pem'), crlPem);
  fs.writeFileSync(path.join(dir, 'host.pem'), certPem);
  const r = spawnSync('openssl', ['verify', '-crl_check', '-CAfile', path.join(dir, 'ca.pem'), '-CRLfile', path.join(dir, 'crl.pem'), path.join(dir, 'host.pem')], { encoding: 'utf8' });
  return `${r.stdout}${r.stderr}`.trim();
}

/** Files in the data directory that hold a private key. */
function privateKeyFiles(dataDir: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && /PRIVATE KEY/.test(fs.readFileSync(p).toString('latin1'))) found.push(path.relative(dataDir, p));
    }
  };
  walk(dataDir);
  return found;
}

async function exerciseServer(s: LifecycleServer, keyDescription: RegExp): Promise<void> {
  expect(s.server.ca.signer.describe()).toMatch(keyDescription);
  const ca = new X509Certificate(s.caPem);
  expect(ca.ca).toBe(true);
  expect(ca.verify(s.server.ca.signer.publicKey)).toBe(true);
  // The CA certificate is the database's: replicas read it there.
  expect(await s.server.store.settings.get('ca_cert_pem')).toBe(s.caPem);

  // The request trusts only the CA: the server's TLS certificate was signed through the signer.
  const kept = await joinWithToken(s, secret('kept'));
  const gone = await joinWithToken(s, secret('gone'));
  expect(new X509Certificate(kept.certificate).verify(ca.publicKey)).toBe(true);
  const r = await renew(s, kept);
  expect(r.status).toBe(200);
  const renewed = r.json().certificate as string;
  expect(new X509Certificate(renewed).checkIssued(ca)).toBe(true);

  await s.admin('DELETE', `/v1/nodes/${gone.host_id}`);
  const crl = await s.request('GET', '/v1/crl?format=pem');
  expect(crl.status).toBe(200);
  const crlPem = crl.body.toString();
  expect(opensslVerify(s, renewed, crlPem)).toMatch(/: OK$/);
  expect(opensslVerify(s, gone.certificate, crlPem)).toMatch(/certificate revoked/);

  expect(privateKeyFiles(s.dataDir)).toEqual([]);
  expect(fs.existsSync(path.join(s.dataDir, 'ca.key'))).toBe(false);
}

test('on a moto KMS key: joins, renewals and the CRL verify; no private key in the data directory', async () => {
  const keyId = await kmsKey();
  const s = await startLifecycleServer({ JOINERY_CA_KEY: `awskms:${keyId}` }, { caSigner: { kmsClient: kms } });
  try {
    await exerciseServer(s, /^awskms /);
  } finally {
    await s.stop();
  }
});

test('on a SoftHSM2 key: joins, renewals and the CRL verify; no private key in the data directory', async () => {
  const s = await startLifecycleServer({ JOINERY_CA_KEY: hsm.uri('token=joinery;object=ca-key') });
  try {
    await exerciseServer(s, /^pkcs11 /);
  } finally {
    await s.stop();
  }
});

test('a rotation from a key file onto a SoftHSM2 key, and a rollback: a host renews onto the HSM-signed CA and back', async () => {
  // Refused, and not loaded, until the operator allows the library.
  const closed = await startLifecycleServer();
  try {
    await expect(closed.server.trust.rotate({ manual: true, newKey: hsm.uri('token=joinery;object=other-key') }, closed.now())).rejects.toMatchObject({
      code: 'invalid_new_key',
      message: expect.stringContaining('is not a PKCS#11 library this server may load'),
    });
    expect(closed.server.trust.phase).toBe('standby');
  } finally {
    await closed.stop();
  }
  const s = await startLifecycleServer({ JOINERY_PKCS11_MODULES: `/nonexistent/lib.so:${SOFTHSM_MODULE}` });
  try {
    const oldCa = new X509Certificate(s.caPem);
    const host = await joinWithToken(s, secret('hsm-move'));
    const init = await s.server.trust.rotate({ manual: true, newKey: hsm.uri('token=joinery;object=other-key') }, s.now());
    const next = init.cas.find((c) => c.state === 'next');
    if (!next) throw new Error(`no next CA in ${JSON.stringify(init)}`);
    const newCa = new X509Certificate(next.certificate);
    const both = `${s.caPem}${next.certificate}`;
    expect(s.server.trust.trusted.map((c) => c.signer.describe())).toEqual([expect.stringMatching(/^file /), expect.stringMatching(/^pkcs11 /)]);

    await s.server.trust.rotate({ phase: 'update_clients' }, s.now());
    const onHsm = await s.request('POST', '/v1/renew', { cert: host.certificate, key: host.key.privatePem, ca: both });
    expect(onHsm.status).toBe(200);
    const hsmCert = onHsm.json().certificate as string;
    expect(new X509Certificate(hsmCert).checkIssued(newCa)).toBe(true);
    expect(new X509Certificate(hsmCert).verify(newCa.publicKey)).toBe(true);

    // Rolled back before standby: the HSM-signed certificate renews back onto the key file's CA.
    await s.server.trust.rotate({ rollback: true }, s.now());
    const back = await s.request('POST', '/v1/renew', { cert: hsmCert, key: host.key.privatePem, ca: both });
    expect(back.status).toBe(200);
    expect(new X509Certificate(back.json().certificate).checkIssued(oldCa)).toBe(true);
    // Standby after the rollback drops the HSM key's CA: the bundle is the key file's CA alone.
    await s.server.trust.rotate({ phase: 'standby' }, s.now());
    expect(s.server.trust.trusted.map((c) => c.signer.describe())).toEqual([expect.stringMatching(/^file /)]);
    const after = await renew(s, { certificate: back.json().certificate, key: host.key });
    expect(after.status).toBe(200);
    expect(after.json().ca_certificates).toEqual([s.caPem]);
    expect(new X509Certificate(after.json().certificate).checkIssued(oldCa)).toBe(true);
  } finally {
    await s.stop();
  }
});

test('a replica on the same database and key shares the CA with nothing copied; another key is refused', async () => {
  const dirs = [0, 1, 2].map(() => fs.mkdtempSync(path.join(os.tmpdir(), 'ca-replica-')));
  const db = path.join(dirs[0], 'shared');
  fs.mkdirSync(db);
  const keyId = await kmsKey();
  const config = (dataDir: string, key: string) => loadConfig({ dataDir, caKey: key }, { JOINERY_CLUSTER_NAME: 'shared', JOINERY_DATA_DIR: dataDir });
  // One SQLite database stands for the shared one: each replica has its own data directory.
  const store = await openStore(config(db, 'file'), { warn: () => undefined });
  try {
    const first = await ClusterCA.open({ dataDir: dirs[1], clusterName: 'shared', store, key: config(dirs[1], `awskms:${keyId}`).caKey, signer: { kmsClient: kms } });
    const second = await ClusterCA.open({ dataDir: dirs[2], clusterName: 'shared', store, key: config(dirs[2], `awskms:${keyId}`).caKey, signer: { kmsClient: kms } });
    expect(second.certPem).toBe(first.certPem);
    expect(fs.readdirSync(dirs[2])).toEqual(['ca.crt']);
    await Promise.all([first.close(), second.close()]);

    const other = hsm.uri('token=joinery;object=other-key');
    await expect(ClusterCA.open({ dataDir: dirs[2], clusterName: 'shared', store, key: config(dirs[2], other).caKey })).rejects.toThrow(
      /the cluster CA recorded in the database \(sha256:[0-9a-f]{64}\) is not the CA key pkcs11 .* a replica must use the key the cluster was created with; moving a cluster to a new key is a CA rotation/,
    );
    // The default key file is refused too, and none is made.
    await expect(ClusterCA.open({ dataDir: dirs[2], clusterName: 'shared', store })).rejects.toThrow(/ca\.key is missing/);
    expect(fs.existsSync(path.join(dirs[2], 'ca.key'))).toBe(false);
  } finally {
    await store.close();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  }
});

test('a bad JOINERY_CA_KEY stops the configuration with the setting named', () => {
  expect(() => loadConfig({}, { JOINERY_CA_KEY: 'vault:x' })).toThrow(/^JOINERY_CA_KEY="vault:x": unknown CA key kind "vault"/);
  expect(() => loadConfig({ caKey: 'awskms:' }, {})).toThrow(/^--ca-key="awskms:": awskms: needs a KMS key ID/);
});

test('JOINERY_PKCS11_MODULES takes absolute paths only, naming the one that is not', () => {
  expect(loadConfig({}, { JOINERY_PKCS11_MODULES: '/usr/lib/a.so: /usr/lib/../lib/b.so' }).pkcs11Modules).toEqual(['/usr/lib/a.so', '/usr/lib/b.so']);
  expect(loadConfig({}, {}).pkcs11Modules).toEqual([]);
  expect(() => loadConfig({}, { JOINERY_PKCS11_MODULES: '/usr/lib/a.so:libsofthsm2.so' })).toThrow('JOINERY_PKCS11_MODULES: "libsofthsm2.so" is not an absolute path');
});
