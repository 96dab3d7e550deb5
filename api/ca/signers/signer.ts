// What the cluster CA needs from its key, whatever holds it: the public key (for the CA
// certificate and its pin) and a signature over a TBSCertificate or TBSCertList. A key file, AWS
// KMS and a PKCS#11 token all answer this; with the last two the private key never enters the
// process, and replicas share the CA through the key service instead of a copied file.

import { createHash, verify, type KeyObject } from 'node:crypto';
import { tlv, unsignedInteger } from '../der';

/** The one signature the cluster CA makes: ECDSA over P-256 with SHA-256 (ecdsa-with-SHA256). */
export const CA_SIGNING_ALGORITHM = 'ecdsa-p256-sha256' as const;

export interface CaSigner {
  /** The CA's public key (an EC P-256 SubjectPublicKeyInfo). */
  readonly publicKey: KeyObject;
  readonly algorithm: typeof CA_SIGNING_ALGORITHM;
  /** A DER ECDSA-Sig-Value over SHA-256 of `tbs` (the signature field of a certificate or CRL). */
  sign(tbs: Buffer): Promise<Buffer>;
  /** Where the key is, for logs and `status`: never a secret (no PIN, no key material). */
  describe(): string;
  /** Releases sessions and clients; signing afterwards fails. */
  close(): Promise<void>;
}

/**
 * The key service (AWS KMS, a PKCS#11 token) could not sign now, or answered a signature the CA's
 * public key does not verify. Not the request's fault: the API answers 503 ca_unavailable (the
 * server's log says why; a host is not told which key or permission), nothing is issued or
 * consumed, and a retry may succeed.
 */
export class CaSigningError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CaSigningError';
  }
}

/** Refuses a key that is not EC P-256: the CA signs ecdsa-with-SHA256 only. */
export function requireP256(key: KeyObject, where: string): KeyObject {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    const what = key.asymmetricKeyType === 'ec' ? `an EC key on ${key.asymmetricKeyDetails?.namedCurve ?? 'an unknown curve'}` : `a ${key.asymmetricKeyType ?? 'non-asymmetric'} key`;
    throw new Error(`${where} holds ${what}; the cluster CA needs an EC P-256 key (ECC_NIST_P256, prime256v1)`);
  }
  return key;
}

/** SHA-256 of the data a CA signs: what PKCS#11's CKM_ECDSA (and KMS's DIGEST mode) take. */
export function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

/**
 * PKCS#11 (CKM_ECDSA) answers r || s, each as wide as the curve order; X.509 carries
 * ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (RFC 3279 2.2.3).
 */
export function rawToDerSignature(raw: Buffer, fieldBytes = 32): Buffer {
  if (raw.length !== 2 * fieldBytes) throw new Error(`an ECDSA P-256 signature is ${2 * fieldBytes} bytes (r || s), got ${raw.length}`);
  return tlv(0x30, unsignedInteger(raw.subarray(0, fieldBytes)), unsignedInteger(raw.subarray(fieldBytes)));
}

/** Whether `signature` (DER) is the CA key's over `data`; a signature that is not even DER is not. */
export function verifies(data: Buffer, publicKey: KeyObject, signature: Buffer): boolean {
  try {
    return verify('sha256', data, { key: publicKey, dsaEncoding: 'der' }, signature);
  } catch {
    return false;
  }
}
