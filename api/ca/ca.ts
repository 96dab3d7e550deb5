// The cluster certificate authority: created on first start, its key kept in the data directory
// (0600), its certificate recorded in the store so every replica can check it shares the same CA.
// It signs the server's TLS certificate and the certificates of joined hosts.

import { webcrypto, createHash, generateKeyPairSync, createPrivateKey, createPublicKey, randomBytes, X509Certificate as NodeX509, type KeyObject } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as x509 from '@peculiar/x509';
import type { Store } from '../store/types';
import { buildEncodedCrl, encodeRevokedEntries, type CrlRequest, type EncodedCrlRequest } from './crl';
import { toPem } from './der';
import { hostCertificateIssuer, issueHostCertificate as issueHostCertificateDer, type HostCertificateIssuer } from './host-certificate';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
const CA_VALIDITY_MS = 10 * 365 * 24 * 3600 * 1000;
const SETTINGS_CA_CERT = 'ca_cert_pem';

/** `sha256:<hex>` of a certificate's SubjectPublicKeyInfo, the pin clients trust. */
export function caPin(certPem: string): string {
  const spki = new NodeX509(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

function escapeDn(value: string): string {
  return value.replace(/([,+"\\<>;=#])/g, '\\$1');
}

async function importSigningKey(key: KeyObject): Promise<CryptoKey> {
  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
  return webcrypto.subtle.importKey('pkcs8', pkcs8, EC, false, ['sign']) as Promise<CryptoKey>;
}

function writePrivate(file: string, content: string): void {
  // Create with 0600 from the start; never widen an existing file's mode.
  fs.writeFileSync(file, content, { mode: 0o600, flag: 'wx' });
}

export class ClusterCA {
  private hostIssuer?: HostCertificateIssuer;
  private keyId?: Buffer;
  private parsed?: NodeX509;
  private parsedKey?: KeyObject;
  private pinText?: string;

  private constructor(
    readonly clusterName: string,
    readonly certPem: string,
    private readonly signingKey: CryptoKey,
  ) {}

  get pin(): string {
    return (this.pinText ??= caPin(this.certPem));
  }

  /** The CA certificate, parsed once: renewals check every presented certificate against it. */
  get certificate(): NodeX509 {
    return (this.parsed ??= new NodeX509(this.certPem));
  }

  /** The CA's public key, once: every join and renewal checks the host key is not this one. */
  get publicKey(): KeyObject {
    return (this.parsedKey ??= this.certificate.publicKey);
  }

  /**
   * Loads the CA from `<dataDir>/ca.key` and `ca.crt`, creating both on first start. Refuses to
   * start when the store records a different CA (a replica pointed at another data directory).
   */
  static async loadOrCreate(dataDir: string, clusterName: string, store: Store): Promise<ClusterCA> {
    const keyFile = path.join(dataDir, 'ca.key');
    const certFile = path.join(dataDir, 'ca.crt');
    const recorded = await store.settings.get(SETTINGS_CA_CERT);

    if (fs.existsSync(keyFile) && !recorded) {
      // A CA on disk but none in the database: the database was replaced, emptied or truncated
      // (a zero-byte joinery.db opens as a new, empty one). Starting would silently create a new
      // cluster with no tokens, no nodes and a new admin credential.
      throw new Error(
        `${keyFile} exists but the database records no cluster CA: the database was replaced or lost (every token and node would be gone). ` +
          `Restore the database from a backup, or, to really start a new cluster, move ca.key and ca.crt out of ${dataDir}`,
      );
    }
    if (!fs.existsSync(keyFile)) {
      if (recorded) {
        throw new Error(`the database already has a cluster CA, but ${keyFile} is missing; copy ca.key and ca.crt from the data directory of the server that created it`);
      }
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const signingKey = await importSigningKey(privateKey);
      const publicKey = await webcrypto.subtle.importKey('spki', privateKeyToSpki(privateKey), EC, true, ['verify']);
      const now = new Date();
      const cert = await x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: randomSerial(),
        name: `CN=${escapeDn(clusterName)}, O=Joinery cluster CA`,
        notBefore: new Date(now.getTime() - 60_000),
        notAfter: new Date(now.getTime() + CA_VALIDITY_MS),
        keys: { privateKey: signingKey, publicKey: publicKey as CryptoKey },
        signingAlgorithm: SIGNING,
        extensions: [
          new x509.BasicConstraintsExtension(true, 0, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
          await x509.SubjectKeyIdentifierExtension.create(publicKey as CryptoKey),
        ],
      });
      fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      writePrivate(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
      fs.writeFileSync(certFile, cert.toString('pem') + '\n');
    }

    const keyMode = fs.statSync(keyFile).mode & 0o777;
    if (keyMode & 0o077) throw new Error(`${keyFile} is readable by others (mode ${keyMode.toString(8)}); run chmod 600 ${keyFile}`);
    const privateKey = createPrivateKey(fs.readFileSync(keyFile));
    const certPem = fs.readFileSync(certFile, 'utf8').trim() + '\n';
    const cert = new NodeX509(certPem);
    if (!cert.checkPrivateKey(privateKey)) throw new Error(`${certFile} does not belong to the key in ${keyFile}`);

    const stored = await store.settings.setIfAbsent(SETTINGS_CA_CERT, certPem);
    if (caPin(stored) !== caPin(certPem)) {
      throw new Error(`the CA in ${dataDir} (${caPin(certPem)}) differs from the cluster CA recorded in the database (${caPin(stored)})`);
    }
    const cn = /CN=([^,\n]+)/.exec(cert.subject)?.[1] ?? clusterName;
    return new ClusterCA(cn, certPem, await importSigningKey(privateKey));
  }

  /** A TLS key and certificate for the API server, for localhost, loopback and the given names. */
  async issueServerCertificate(names: string[]): Promise<{ keyPem: string; certPem: string }> {
    const keys = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
    const dns = new Set(['localhost', ...names.filter((n) => !isIp(n))]);
    const ips = new Set(['127.0.0.1', '::1', ...names.filter(isIp)]);
    const now = new Date();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: `CN=${escapeDn([...dns][0])}, O=${escapeDn(this.clusterName)}`,
      issuer: this.subject,
      notBefore: new Date(now.getTime() - 60_000),
      notAfter: new Date(now.getTime() + 365 * 24 * 3600 * 1000),
      publicKey: keys.publicKey,
      signingKey: this.signingKey,
      signingAlgorithm: SIGNING,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension([...[...dns].map((value) => ({ type: 'dns' as const, value })), ...[...ips].map((value) => ({ type: 'ip' as const, value }))]),
      ],
    });
    const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
    return { keyPem: toPem(Buffer.from(pkcs8), 'PRIVATE KEY'), certPem: cert.toString('pem') + '\n' };
  }

  /**
   * A client certificate for a joined host: the host ID is the subject CN and a DNS SAN, the
   * role is the subject OU (as Teleport records system roles in host certificates).
   */
  async issueHostCertificate(req: { publicKey: KeyObject; hostId: string; role: string; ttlMs: number; now: Date }): Promise<{ certPem: string; serial: string; notAfter: Date }> {
    // Written as DER directly: building it through asn1js was most of a join's CPU.
    this.hostIssuer ??= hostCertificateIssuer({ clusterName: this.clusterName, certPem: this.certPem, signingKey: this.signingKey });
    const issued = issueHostCertificateDer(this.hostIssuer, req);
    // X.509 validity has whole seconds: the recorded expiry is the one in the certificate.
    return { ...issued, notAfter: new Date(Math.floor((req.now.getTime() + req.ttlMs) / 1000) * 1000) };
  }

  /**
   * A CRL signed by this CA listing the given serials (hex). `number` must grow with every CRL
   * the cluster publishes (RFC 5280 cRLNumber).
   */
  async createCrl(req: CrlRequest): Promise<{ der: Buffer; pem: string }> {
    const der = this.signCrl({ ...req, revoked: [encodeRevokedEntries(req.entries)] });
    // RFC 7468's label, the one openssl reads.
    return { der, pem: toPem(der, 'X509 CRL') };
  }

  /** The DER of a CRL whose revoked list is already encoded in chunks (the CRL publisher's pages). */
  signCrl(req: EncodedCrlRequest): Buffer {
    this.hostIssuer ??= hostCertificateIssuer({ clusterName: this.clusterName, certPem: this.certPem, signingKey: this.signingKey });
    this.keyId ??= Buffer.from(new x509.X509Certificate(this.certPem).getExtension(x509.SubjectKeyIdentifierExtension)?.keyId ?? '', 'hex');
    return buildEncodedCrl(this.hostIssuer, this.keyId, req);
  }

  private get subject(): string {
    return new x509.X509Certificate(this.certPem).subject;
  }
}

function privateKeyToSpki(key: KeyObject): Buffer {
  return createPublicKey(key).export({ type: 'spki', format: 'der' }) as Buffer;
}

function randomSerial(): string {
  const b = randomBytes(16);
  b[0] &= 0x7f; // keep it positive in DER
  return b.toString('hex');
}


function isIp(s: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(s) || s.includes(':');
}

