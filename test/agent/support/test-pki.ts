// A throwaway CA for the agent's fake servers: it signs the fake server's TLS certificate and the
// host certificates the fake server returns, so tests control every field (validity, key, issuer).

import { createHash, createPublicKey, generateKeyPairSync, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;

export interface TestCa {
  certPem: string;
  pin: string;
  /** A certificate for the given public key, signed by this CA. */
  issue(o: { publicKeyPem: string; cn: string; notBefore: Date; notAfter: Date; server?: boolean }): Promise<string>;
  /** A TLS key and certificate for 127.0.0.1 / localhost. */
  serverIdentity(): Promise<{ keyPem: string; certPem: string }>;
}

async function importKey(pkcs8Pem: string, usage: 'sign'): Promise<CryptoKey> {
  const der = Buffer.from(pkcs8Pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  return webcrypto.subtle.importKey('pkcs8', der, EC, false, [usage]) as Promise<CryptoKey>;
}

function serial(): string {
  const b = randomBytes(16);
  b[0] &= 0x7f;
  return b.toString('hex');
}

export function newKeyPair(): { keyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string };
}

export async function createTestCa(name: string): Promise<TestCa> {
  const { keyPem, publicKeyPem } = newKeyPair();
  const signingKey = await importKey(keyPem, 'sign');
  const spkiDer = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  const publicKey = (await webcrypto.subtle.importKey('spki', spkiDer, EC, true, ['verify'])) as CryptoKey;
  const now = Date.now();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${name}, O=Joinery test CA`,
    notBefore: new Date(now - 3600_000),
    notAfter: new Date(now + 30 * 24 * 3600_000),
    keys: { privateKey: signingKey, publicKey },
    signingAlgorithm: SIGNING,
    extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.digitalSignature, true)],
  });
  const certPem = ca.toString('pem') + '\n';
  const issue: TestCa['issue'] = async (o) => {
    const spki = createPublicKey(o.publicKeyPem).export({ type: 'spki', format: 'der' });
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: `CN=${o.cn}, OU=Node, O=${name}`,
      issuer: ca.subject,
      notBefore: o.notBefore,
      notAfter: o.notAfter,
      publicKey: new Uint8Array(spki),
      signingKey,
      signingAlgorithm: SIGNING,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.ExtendedKeyUsageExtension([o.server ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth]),
        ...(o.server ? [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'localhost' }, { type: 'ip', value: '127.0.0.1' }])] : []),
      ],
    });
    return cert.toString('pem') + '\n';
  };
  return {
    certPem,
    pin: `sha256:${createHash('sha256').update(new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' })).digest('hex')}`,
    issue,
    async serverIdentity() {
      const k = newKeyPair();
      return { keyPem: k.keyPem, certPem: await issue({ publicKeyPem: k.publicKeyPem, cn: 'localhost', notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 24 * 3600_000), server: true }) };
    },
  };
}
