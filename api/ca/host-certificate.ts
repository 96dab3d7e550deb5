// Host certificates written straight as DER and signed with node:crypto. A join spent most of its
// CPU building the certificate through asn1js object trees (and re-parsing the CA certificate for
// its subject each time); the certificate's shape is fixed, so only serial, validity, subject, SAN
// and key vary, and a few byte concatenations do the job. The result means exactly what the
// @peculiar/x509 version meant: same subject, SANs, extensions and critical flags.

import { KeyObject, X509Certificate, randomBytes, sign, type webcrypto } from 'node:crypto';
import { isSafeText } from '../../schema/text-safety';
import { bitString, explicit, octets, oid, seq, set, time, tlv, toPem, TRUE, unsignedInteger } from './der';

function utf8String(field: string, value: string): Buffer {
  // Anything a reader could render misleadingly, or that is not a Unicode scalar value, has no
  // place in a subject attribute.
  if (value.length === 0 || !isSafeText(value)) {
    throw new Error(`certificate subject ${field} ${JSON.stringify(value)} is empty or holds control, invisible or unpaired characters`);
  }
  return tlv(0x0c, Buffer.from(value, 'utf8'));
}

function ia5String(tag: number, value: string): Buffer {
  if (!/^[\x21-\x7e]+$/.test(value)) throw new Error(`SAN ${JSON.stringify(value)} is not printable ASCII`);
  return tlv(tag, Buffer.from(value, 'ascii'));
}

// ---------------------------------------------------------------------------------------------

const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  organizationalUnit: '2.5.4.11',
  organization: '2.5.4.10',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  clientAuth: '1.3.6.1.5.5.7.3.2',
};

// Encoded once: the per-certificate work is only the values.
const CN = oid(OID.commonName);
const OU = oid(OID.organizationalUnit);
const O = oid(OID.organization);
const SAN = oid(OID.subjectAltName);
const SIGNATURE_ALGORITHM = seq(oid(OID.ecdsaWithSha256));
const VERSION_3 = explicit(0, tlv(0x02, Buffer.from([2])));

// The extensions every host certificate carries unchanged, in the order the old builder wrote them.
const BASIC_CONSTRAINTS = seq(oid(OID.basicConstraints), TRUE, octets(seq())); // critical, CA:FALSE
// digitalSignature (bit 0) | keyEncipherment (bit 2): 0b1010_0000, 5 unused bits.
const KEY_USAGE = seq(oid(OID.keyUsage), TRUE, octets(tlv(0x03, Buffer.from([0x05, 0xa0]))));
const EXT_KEY_USAGE = seq(oid(OID.extKeyUsage), octets(seq(oid(OID.clientAuth))));

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

const EC_ALGORITHMS: Record<string, Buffer> = {
  'P-256': seq(oid('1.2.840.10045.2.1'), oid('1.2.840.10045.3.1.7')),
  'P-384': seq(oid('1.2.840.10045.2.1'), oid('1.3.132.0.34')),
};
const RSA_ALGORITHM = seq(oid('1.2.840.113549.1.1.1'), Buffer.from([0x05, 0x00]));
const ED25519_ALGORITHM = seq(oid('1.3.101.112'));

// A KeyObject never changes, so its encoding is kept with it: a join asks for the agent key's
// SPKI twice (the CA-key check, then the certificate), and the CA's key is asked on every join.
const spkiCache = new WeakMap<KeyObject, Buffer>();

/**
 * The key's SubjectPublicKeyInfo (shared: callers must not modify it). Exporting a JWK is an order
 * of magnitude cheaper than OpenSSL 3's SPKI encoder (about 25 µs against 450 µs here), so the
 * accepted key types are written from it, exactly as OpenSSL writes them; anything else goes
 * through the encoder.
 */
export function spkiDer(key: KeyObject): Buffer {
  let der = spkiCache.get(key);
  if (!der) {
    der = encodeSpki(key);
    spkiCache.set(key, der);
  }
  return der;
}

function encodeSpki(key: KeyObject): Buffer {
  const type = key.asymmetricKeyType;
  if (type === 'ec' || type === 'ed25519' || type === 'rsa') {
    const jwk = key.export({ format: 'jwk' });
    const b64 = (v: string | undefined) => Buffer.from(v ?? '', 'base64url');
    if (type === 'ec' && jwk.crv && EC_ALGORITHMS[jwk.crv]) {
      const point = Buffer.concat([Buffer.from([0x04]), b64(jwk.x), b64(jwk.y)]);
      return seq(EC_ALGORITHMS[jwk.crv], bitString(point));
    }
    if (type === 'ed25519' && jwk.x) return seq(ED25519_ALGORITHM, bitString(b64(jwk.x)));
    if (type === 'rsa' && jwk.n && jwk.e) return seq(RSA_ALGORITHM, bitString(seq(unsignedInteger(b64(jwk.n)), unsignedInteger(b64(jwk.e)))));
  }
  return key.export({ type: 'spki', format: 'der' });
}

/** What the CA contributes to every host certificate, prepared once. */
export interface HostCertificateIssuer {
  clusterName: string;
  /** The CA certificate's subject, byte for byte, as the host certificates' issuer. */
  issuerDer: Buffer;
  signingKey: KeyObject;
}

const issuers = new WeakMap<object, HostCertificateIssuer>();

/** The issuer for a CA, cached per signing key so the CA certificate is parsed only once. */
export function hostCertificateIssuer(ca: { clusterName: string; certPem: string; signingKey: CryptoKey | KeyObject }): HostCertificateIssuer {
  let issuer = issuers.get(ca.signingKey);
  if (!issuer) {
    const cert = new X509Certificate(ca.certPem);
    issuer = {
      clusterName: ca.clusterName,
      issuerDer: subjectDer(cert.raw),
      signingKey: ca.signingKey instanceof KeyObject ? ca.signingKey : KeyObject.from(ca.signingKey as unknown as webcrypto.CryptoKey),
    };
    issuers.set(ca.signingKey, issuer);
  }
  return issuer;
}

/** The subject Name of a DER certificate (the sixth field of its TBSCertificate). */
export function subjectDer(certDer: Buffer): Buffer {
  const read = (buf: Buffer, off: number) => {
    let len = buf[off + 1];
    let p = off + 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + buf[p++];
    }
    return { start: off, content: p, end: p + len };
  };
  const cert = read(certDer, 0);
  const tbs = read(certDer, cert.content);
  let p = tbs.content;
  // version [0] (optional), serial, signature, issuer, validity, subject
  if (certDer[p] === 0xa0) p = read(certDer, p).end;
  for (let i = 0; i < 4; i++) p = read(certDer, p).end;
  const subject = read(certDer, p);
  return certDer.subarray(subject.start, subject.end);
}

/** 16 random bytes, positive and without a leading zero, so its hex is exactly what DER carries. */
export function randomSerialHex(): string {
  const b = randomBytes(16);
  b[0] = (b[0] & 0x3f) | 0x40;
  return b.toString('hex');
}

export interface HostCertificateRequest {
  publicKey: KeyObject;
  hostId: string;
  role: string;
  ttlMs: number;
  now: Date;
}

/** Issuer-independent parts of a host certificate's TBSCertificate, exported for tests. */
export function hostTbsCertificate(issuer: Pick<HostCertificateIssuer, 'clusterName' | 'issuerDer'>, req: HostCertificateRequest, serialHex: string): Buffer {
  const subject = seq(
    set(seq(CN, utf8String('CN', req.hostId))),
    set(seq(OU, utf8String('OU', req.role))),
    set(seq(O, utf8String('O', issuer.clusterName))),
  );
  const names: Buffer[] = [];
  if (DNS_LABEL.test(req.hostId)) names.push(ia5String(0x82, req.hostId));
  names.push(ia5String(0x86, `joinery://${encodeURIComponent(issuer.clusterName)}/host/${encodeURIComponent(req.hostId)}`));
  const san = seq(SAN, octets(seq(...names)));
  const spki = spkiDer(req.publicKey);
  return seq(
    VERSION_3,
    unsignedInteger(Buffer.from(serialHex, 'hex')),
    SIGNATURE_ALGORITHM,
    issuer.issuerDer,
    seq(time(new Date(req.now.getTime() - 60_000)), time(new Date(req.now.getTime() + req.ttlMs))),
    subject,
    spki,
    explicit(3, seq(BASIC_CONSTRAINTS, KEY_USAGE, EXT_KEY_USAGE, san)),
  );
}


/**
 * A client certificate for a joined host: the host ID is the subject CN and (when it is a DNS
 * label) a DNS SAN, the role is the subject OU, the cluster the O; a joinery:// URI SAN names both.
 */
export function issueHostCertificate(issuer: HostCertificateIssuer, req: HostCertificateRequest): { certPem: string; serial: string } {
  const serial = randomSerialHex();
  const tbs = hostTbsCertificate(issuer, req, serial);
  const signature = sign('sha256', tbs, { key: issuer.signingKey, dsaEncoding: 'der' });
  return { certPem: toPem(seq(tbs, SIGNATURE_ALGORITHM, bitString(signature)), 'CERTIFICATE'), serial };
}
