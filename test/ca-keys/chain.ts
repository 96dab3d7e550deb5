// What every signer must do: issue a CA certificate and a host certificate (the server's real
// host TBSCertificate) that node:crypto and `openssl verify` both accept.

import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, verify, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createCaCertificate, signCertificate } from '../../api/ca/signers/certificate';
import type { CaSigner } from '../../api/ca/signers/signer';
import { hostTbsCertificate, randomSerialHex, subjectDer, type HostCertificateIssuer } from '../../api/ca/host-certificate';
import { toPem } from '../../api/ca/der';

export async function expectVerifiableChain(signer: CaSigner, clusterName = 'ca-keys-test'): Promise<void> {
  // Signatures over arbitrary data verify with the public key.
  for (const data of [Buffer.from([0]), Buffer.from('hello'), Buffer.alloc(3000, 7)]) {
    const sig = await signer.sign(data);
    expect(sig[0]).toBe(0x30); // DER SEQUENCE
    expect(verify('sha256', data, { key: signer.publicKey, dsaEncoding: 'der' }, sig)).toBe(true);
  }

  const now = new Date();
  const caPem = await createCaCertificate(signer, { clusterName, notBefore: new Date(now.getTime() - 60_000), notAfter: new Date(now.getTime() + 3600_000) });
  const ca = new X509Certificate(caPem);
  expect(ca.verify(signer.publicKey)).toBe(true);
  expect(ca.ca).toBe(true);
  expect(ca.subject).toBe(`CN=${clusterName}\nO=Joinery cluster CA`);

  const issuer = { clusterName, issuerDer: subjectDer(ca.raw) } as Omit<HostCertificateIssuer, 'signingKey'> as HostCertificateIssuer;
  const hostKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  const tbs = hostTbsCertificate(issuer, { publicKey: hostKey, hostId: 'host-1', role: 'Node', ttlMs: 3600_000, now }, randomSerialHex());
  const hostPem = toPem(await signCertificate(signer, tbs), 'CERTIFICATE');
  const host = new X509Certificate(hostPem);
  expect(host.verify(signer.publicKey)).toBe(true);
  expect(host.checkIssued(ca)).toBe(true);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-keys-chain-'));
  try {
    fs.writeFileSync(path.join(dir, 'ca.pem'), caPem);
    fs.writeFileSync(path.join(dir, 'host.pem'), hostPem);
    const out = execFileSync('openssl', ['verify', '-purpose', 'sslclient', '-CAfile', path.join(dir, 'ca.pem'), path.join(dir, 'host.pem')], { encoding: 'utf8' });
    expect(out.trim()).toBe(`${path.join(dir, 'host.pem')}: OK`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
