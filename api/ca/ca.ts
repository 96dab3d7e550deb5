// The cluster certificate authority. Its key is wherever the CA key setting says (JOINERY_CA_KEY,
// `serve --ca-key`): the data directory's ca.key (made on first start, 0600), another key file,
// an AWS KMS key or a key on a PKCS#11 token; every signature goes through the CaSigner. Its
// certificate is recorded in the store, so replicas on KMS or an HSM share the CA through the key
// service and the database: nothing to copy. It signs the server's TLS certificate, the
// certificates of joined hosts and the CRL.

import { createHash, generateKeyPairSync, randomBytes, X509Certificate as NodeX509, type KeyObject } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Store } from '../store/types';
import { assembleCrl, crlTbs, encodeRevokedEntries, type CrlRequest, type EncodedCrlRequest } from './crl';
import { bitString, oid, seq, toPem } from './der';
import { hostTbsCertificate, randomSerialHex, subjectDer, type HostCertificateRequest } from './host-certificate';
import { serverTbsCertificate } from './server-certificate';
import { openCaSigner, parseCaKeySpec, type CaKeySpec, type CaSigner, type OpenCaSignerOptions } from './signers';
import { createCaCertificate } from './signers/certificate';
import { FileSigner } from './signers/file-signer';

const CA_VALIDITY_MS = 10 * 365 * 24 * 3600 * 1000;
const SERVER_CERT_VALIDITY_MS = 365 * 24 * 3600 * 1000;
const SETTINGS_CA_CERT = 'ca_cert_pem';
const ECDSA_WITH_SHA256 = seq(oid('1.2.840.10045.4.3.2'));

/** `sha256:<hex>` of a certificate's SubjectPublicKeyInfo, the pin clients trust. */
export function caPin(certPem: string): string {
  return keyPin(new NodeX509(certPem).publicKey);
}

/** `sha256:<hex>` of a public key's SubjectPublicKeyInfo. */
export function keyPin(key: KeyObject): string {
  return `sha256:${createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex')}`;
}

/**
 * <data-dir>/ca.crt, the CAs the CLI on this machine trusts, replaced whole (a new file renamed
 * over it): a CLI reading it while a rotation rewrites it sees the old bundle or the new one,
 * never an empty file.
 */
export function writeCaFile(dataDir: string, pem: string): void {
  const file = path.join(dataDir, 'ca.crt');
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    fs.writeFileSync(tmp, pem, { mode: 0o644, flag: 'wx' });
    fs.renameSync(tmp, file);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

function writePrivate(file: string, content: string): void {
  // Create with 0600 from the start; never widen an existing file's mode.
  fs.writeFileSync(file, content, { mode: 0o600, flag: 'wx' });
}

export interface OpenClusterCaOptions {
  dataDir: string;
  clusterName: string;
  store: Store;
  /** Where the key is (default: the data directory's ca.key). */
  key?: CaKeySpec;
  /** The setting's name in errors: JOINERY_CA_KEY or --ca-key. */
  setting?: string;
  /** Tests and stand-ins: the KMS client and pacing the signer uses. */
  signer?: Pick<OpenCaSignerOptions, 'kmsClient' | 'pacing'>;
}

export class ClusterCA {
  private issuerDer?: Buffer;
  private keyId?: Buffer;
  private parsed?: NodeX509;
  private pinText?: string;
  /** The key file's signer signs at once: a join does not wait on a promise for it. */
  private readonly signNow?: (chunks: readonly Buffer[]) => Buffer;

  private constructor(
    readonly clusterName: string,
    readonly certPem: string,
    readonly signer: CaSigner,
  ) {
    if (signer instanceof FileSigner) this.signNow = (chunks) => signer.signSync(chunks);
  }

  get pin(): string {
    return (this.pinText ??= caPin(this.certPem));
  }

  /** The CA certificate, parsed once: renewals check every presented certificate against it. */
  get certificate(): NodeX509 {
    return (this.parsed ??= new NodeX509(this.certPem));
  }

  /** The CA's public key: every join and renewal checks the host key is not this one. */
  get publicKey(): KeyObject {
    return this.signer.publicKey;
  }

  /** The data directory's ca.key and ca.crt, created on first start (the default CA key). */
  static async loadOrCreate(dataDir: string, clusterName: string, store: Store): Promise<ClusterCA> {
    return ClusterCA.open({ dataDir, clusterName, store });
  }

  /**
   * Opens the CA key and the CA certificate the store records, creating both on the cluster's
   * first start. Refuses to start when the store records a CA of another key (a replica pointed at
   * another data directory or key): changing a cluster's key is a CA rotation.
   */
  static async open(opts: OpenClusterCaOptions): Promise<ClusterCA> {
    const { dataDir, store } = opts;
    const key = opts.key ?? { kind: 'file' };
    const recorded = await store.settings.get(SETTINGS_CA_CERT);
    const certFile = path.join(dataDir, 'ca.crt');
    let signer: CaSigner;
    if (key.kind === 'file' && !key.path) {
      signer = openDataDirKey(dataDir, recorded);
    } else {
      signer = await openCaSigner(key, { dataDir, setting: opts.setting, ...opts.signer });
    }
    try {
      let certPem = recorded;
      if (!certPem) {
        const now = Date.now();
        const made = await createCaCertificate(signer, { clusterName: opts.clusterName, notBefore: new Date(now - 60_000), notAfter: new Date(now + CA_VALIDITY_MS) });
        // Two replicas starting at once on one KMS key: the first certificate recorded is the CA.
        certPem = await store.settings.setIfAbsent(SETTINGS_CA_CERT, made);
      }
      const cert = new NodeX509(certPem);
      if (keyPin(cert.publicKey) !== keyPin(signer.publicKey)) {
        throw new Error(
          `the cluster CA recorded in the database (${caPin(certPem)}) is not the CA key ${signer.describe()} (${keyPin(signer.publicKey)}): ` +
            'a replica must use the key the cluster was created with; moving a cluster to a new key is a CA rotation',
        );
      }
      // The public certificate, for clients on this machine (the CLI trusts <data-dir>/ca.crt).
      if (!fs.existsSync(certFile) || fs.readFileSync(certFile, 'utf8').trim() !== certPem.trim()) {
        fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
        writeCaFile(dataDir, certPem);
      }
      const cn = /CN=([^,\n]+)/.exec(cert.subject)?.[1] ?? opts.clusterName;
      return new ClusterCA(cn, certPem, signer);
    } catch (err) {
      await signer.close();
      throw err;
    }
  }

  /** A CA a rotation recorded: its certificate, and its key opened from the record. */
  static async fromRecord(record: { cert_pem: string; key: string }, opts: Pick<OpenClusterCaOptions, 'dataDir' | 'signer'>): Promise<ClusterCA> {
    const signer = await openCaSigner(parseCaKeySpec(record.key, 'the CA key the rotation records'), { dataDir: opts.dataDir, ...opts.signer });
    const cert = new NodeX509(record.cert_pem);
    if (keyPin(cert.publicKey) !== keyPin(signer.publicKey)) {
      await signer.close();
      throw new Error(`the CA ${caPin(record.cert_pem)} the rotation records is not the key ${signer.describe()} (${keyPin(signer.publicKey)})`);
    }
    return new ClusterCA(/CN=([^,\n]+)/.exec(cert.subject)?.[1] ?? '', record.cert_pem, signer);
  }

  /** A new CA (a rotation's next one) for the key `opts.key` names, with a new certificate. */
  static async create(opts: OpenClusterCaOptions): Promise<ClusterCA> {
    const signer = await openCaSigner(opts.key ?? { kind: 'file' }, { dataDir: opts.dataDir, setting: opts.setting, ...opts.signer });
    try {
      const now = Date.now();
      // To the millisecond: two rotations within a second must not make two CAs of one name.
      const generation = `rotated ${new Date(now).toISOString()}`;
      const certPem = await createCaCertificate(signer, { clusterName: opts.clusterName, notBefore: new Date(now - 60_000), notAfter: new Date(now + CA_VALIDITY_MS), generation });
      return new ClusterCA(opts.clusterName, certPem, signer);
    } catch (err) {
      await signer.close();
      throw err;
    }
  }

  /** Releases the signer (a KMS client, a PKCS#11 session). */
  close(): Promise<void> {
    return this.signer.close();
  }

  /** A TLS key and certificate for the API server, for localhost, loopback and the given names. */
  async issueServerCertificate(names: string[]): Promise<{ keyPem: string; certPem: string }> {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const tbs = serverTbsCertificate({ issuerDer: this.subjectDer(), clusterName: this.clusterName, names, publicKey, now: new Date(), validityMs: SERVER_CERT_VALIDITY_MS });
    const der = await this.signCertificate(tbs);
    return { keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, certPem: toPem(der, 'CERTIFICATE') };
  }

  /**
   * A client certificate for a joined host: the host ID is the subject CN and a DNS SAN, the
   * role is the subject OU (as Teleport records system roles in host certificates).
   */
  async issueHostCertificate(req: HostCertificateRequest): Promise<{ certPem: string; serial: string; notAfter: Date }> {
    // Written as DER directly: building it through asn1js was most of a join's CPU.
    const serial = randomSerialHex();
    const tbs = hostTbsCertificate({ clusterName: this.clusterName, issuerDer: this.subjectDer() }, req, serial);
    const der = await this.signCertificate(tbs);
    // X.509 validity has whole seconds: the recorded expiry is the one in the certificate.
    return { certPem: toPem(der, 'CERTIFICATE'), serial, notAfter: new Date(Math.floor((req.now.getTime() + req.ttlMs) / 1000) * 1000) };
  }

  /**
   * A CRL signed by this CA listing the given serials (hex). `number` must grow with every CRL
   * the cluster publishes (RFC 5280 cRLNumber).
   */
  async createCrl(req: CrlRequest): Promise<{ der: Buffer; pem: string }> {
    const der = await this.signCrl({ ...req, revoked: [encodeRevokedEntries(req.entries)] });
    // RFC 7468's label, the one openssl reads.
    return { der, pem: toPem(der, 'X509 CRL') };
  }

  /** The DER of a CRL whose revoked list is already encoded in chunks (the CRL publisher's pages). */
  async signCrl(req: EncodedCrlRequest): Promise<Buffer> {
    this.keyId ??= this.subjectKeyId();
    const tbs = crlTbs(this.subjectDer(), this.keyId, req);
    return assembleCrl(tbs, this.signNow ? this.signNow(tbs) : await this.signer.sign(Buffer.concat(tbs)));
  }

  private async signCertificate(tbs: Buffer): Promise<Buffer> {
    const signature = this.signNow ? this.signNow([tbs]) : await this.signer.sign(tbs);
    return seq(tbs, ECDSA_WITH_SHA256, bitString(signature));
  }

  private subjectDer(): Buffer {
    return (this.issuerDer ??= subjectDer(this.certificate.raw));
  }

  private subjectKeyId(): Buffer {
    // X509Certificate has no accessor for extensions; the SKI's value follows its OID in the DER.
    const raw = this.certificate.raw;
    const at = raw.indexOf(Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x0e]));
    if (at < 0 || raw[at + 5] !== 0x04 || raw[at + 7] !== 0x04) return createHash('sha1').update(this.signer.publicKey.export({ type: 'spki', format: 'der' }).subarray(-65)).digest();
    // OID, OCTET STRING { OCTET STRING keyId }
    const inner = at + 5;
    return raw.subarray(inner + 4, inner + 4 + raw[inner + 3]);
  }
}

/**
 * The data directory's ca.key: created (0600) with the cluster, refused when the database and the
 * directory disagree about whether a cluster exists.
 */
function openDataDirKey(dataDir: string, recorded: string | undefined): CaSigner {
  const keyFile = path.join(dataDir, 'ca.key');
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
      throw new Error(`the database already has a cluster CA, but ${keyFile} is missing; copy ca.key and ca.crt from the data directory of the server that created it, or start with the CA key the cluster uses (JOINERY_CA_KEY)`);
    }
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    // A ca.crt left from an earlier cluster belongs to no key now.
    fs.rmSync(path.join(dataDir, 'ca.crt'), { force: true });
    writePrivate(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  }
  return FileSigner.open(keyFile);
}
