// The server half of go-plugin's AutoMTLS: a throwaway self-signed certificate for "localhost"
// that Terraform trusts because the handshake line carries it, and the client certificate
// Terraform passed in PLUGIN_CLIENT_CERT as the only accepted client.

import { randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;

export interface PluginCertificate {
  certPem: string;
  keyPem: string;
  /** DER of the certificate, base64 without padding, as the handshake line carries it. */
  handshakeCert: string;
}

export async function generatePluginCertificate(): Promise<PluginCertificate> {
  const keys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
  const serial = randomBytes(16);
  serial[0] &= 0x7f; // positive
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toString('hex'),
    name: 'CN=localhost, O=Joinery',
    notBefore: new Date(now - 30_000),
    notAfter: new Date(now + 30 * 24 * 3600 * 1000),
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [
      // Go verifies the server against a pool holding just this certificate: it is its own CA.
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.keyCertSign, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'localhost' }]),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
  return {
    certPem: cert.toString('pem') + '\n',
    keyPem,
    handshakeCert: Buffer.from(cert.rawData).toString('base64').replace(/=+$/, ''),
  };
}
