// Certificates signed through a CaSigner: the signature is all that depends on where the key is.
// createCaCertificate writes the same CA certificate the CA makes on first start (subject
// "CN=<cluster>, O=Joinery cluster CA", CA:TRUE pathlen 0, keyCertSign | cRLSign |
// digitalSignature, a subject key identifier), for a key that is not in a file.

import { createHash, randomBytes } from 'node:crypto';
import { bitString, explicit, octets, oid, seq, set, time, tlv, toPem, TRUE, unsignedInteger } from '../der';
import { spkiDer } from '../host-certificate';
import type { CaSigner } from './signer';

const ECDSA_WITH_SHA256 = seq(oid('1.2.840.10045.4.3.2'));

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue } over the signer. */
export async function signCertificate(signer: CaSigner, tbs: Buffer): Promise<Buffer> {
  const signature = await signer.sign(tbs);
  return seq(tbs, ECDSA_WITH_SHA256, bitString(signature));
}

export interface CaCertificateRequest {
  clusterName: string;
  notBefore: Date;
  notAfter: Date;
  /** Hex; random (positive, 16 bytes) when absent. */
  serialHex?: string;
  /**
   * An OU telling this CA from the cluster's earlier ones (a rotation's new CA). Certificates name
   * their issuer by subject only, so two trusted CAs of one name would leave TLS stacks to try the
   * first they find (OpenSSL does, and fails the signature): each CA gets a subject of its own.
   */
  generation?: string;
}

function name(clusterName: string, generation?: string): Buffer {
  if (clusterName === '' || /[\u0000-\u001f\u007f-\u009f]/.test(clusterName)) throw new Error(`cluster name ${JSON.stringify(clusterName)} is empty or holds control characters`);
  const attr = (type: string, value: string) => set(seq(oid(type), tlv(0x0c, Buffer.from(value, 'utf8'))));
  return seq(attr('2.5.4.3', clusterName), attr('2.5.4.10', 'Joinery cluster CA'), ...(generation ? [attr('2.5.4.11', generation)] : []));
}

/** A self-signed CA certificate for the signer's key, as PEM. */
export async function createCaCertificate(signer: CaSigner, req: CaCertificateRequest): Promise<string> {
  if (!(req.notAfter.getTime() > req.notBefore.getTime())) throw new Error('the CA certificate must end after it begins');
  const spki = spkiDer(signer.publicKey);
  const subject = name(req.clusterName, req.generation);
  const serial = req.serialHex ? Buffer.from(req.serialHex, 'hex') : randomBytes(16);
  if (!req.serialHex) serial[0] = (serial[0] & 0x3f) | 0x40;
  // RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits.
  const publicKeyBits = spki.subarray(spki.length - 65);
  const keyId = createHash('sha1').update(publicKeyBits).digest();
  const extensions = seq(
    seq(oid('2.5.29.19'), TRUE, octets(seq(TRUE, tlv(0x02, Buffer.from([0]))))),
    // digitalSignature (bit 0) | keyCertSign (5) | cRLSign (6): 0b1000_0110, 1 unused bit.
    seq(oid('2.5.29.15'), TRUE, octets(tlv(0x03, Buffer.from([0x01, 0x86])))),
    seq(oid('2.5.29.14'), octets(octets(keyId))),
  );
  const tbs = seq(
    explicit(0, tlv(0x02, Buffer.from([2]))),
    unsignedInteger(serial),
    ECDSA_WITH_SHA256,
    subject,
    seq(time(req.notBefore), time(req.notAfter)),
    subject,
    spki,
    explicit(3, extensions),
  );
  return toPem(await signCertificate(signer, tbs), 'CERTIFICATE');
}
