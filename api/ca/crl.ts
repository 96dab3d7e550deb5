// The CRL written straight as DER and signed by the CA signer, like the host certificates. Built
// through @peculiar/x509 it was re-parsed with asn1js's node limit, so past about 1,200 entries
// every request failed. The revoked list is encoded a page at a time into chunks and the whole is
// assembled from their lengths: no step passes one function argument per entry (spreading 62,000
// entries into seq(...) overflowed the call stack), and the signature is computed over the chunks
// as they are, without first copying them into one to-be-signed buffer.
//
// Size: an entry is 35 bytes for the 16-byte positive serials this CA issues (SEQUENCE header 2,
// INTEGER 18, UTCTime 15), so 250,000 entries make a CRL of about 8.8 MB (DER; PEM a third more).
//
// No entry carries a reasonCode extension (RFC 5280 5.3.1; it was 14 of 49 bytes an entry). Every
// entry had the same one, cessationOfOperation, whether the host was removed or locked as
// compromised, so it told a relying service nothing, and wrongly for a lock; and no verifier
// decides on it (OpenSSL, Go, Java's PKIX, rustls refuse any listed serial alike: only
// certificateHold and removeFromCRL, which delta CRLs use and this CA never issues, change
// anything). RFC 5280 prefers no reasonCode to an unspecified one; Vault's PKI CRLs carry none
// either. Why a host was revoked is in the audit (node.remove, lock.add), with who and when.

import { bitString, explicit, header, octets, oid, seq, time, tlv, unsignedInteger } from './der';

const ECDSA_WITH_SHA256 = seq(oid('1.2.840.10045.4.3.2'));
const VERSION_2 = tlv(0x02, Buffer.from([1]));
const AUTHORITY_KEY_IDENTIFIER = oid('2.5.29.35');
const CRL_NUMBER = oid('2.5.29.20');

export interface CrlEntry {
  serial: string;
  /** A Date, or the ISO 8601 string of one as the store keeps it (read without making a Date). */
  revokedAt: Date | string;
}

export interface CrlRequest {
  entries: CrlEntry[];
  thisUpdate: Date;
  nextUpdate: Date;
  /** RFC 5280 cRLNumber; must grow with every CRL the cluster publishes. */
  number: bigint;
}

/** A CRL whose revoked list is already encoded, as chunks of entries (encodeRevokedEntries). */
export interface EncodedCrlRequest extends Omit<CrlRequest, 'entries'> {
  revoked: Buffer[];
}

function bigintBytes(n: bigint): Buffer {
  const hex = n.toString(16);
  return Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
}

/** RFC 5280 4.1.2.5 times as DER (UTCTime through 2049, GeneralizedTime after), written into `out` at `at`. */
const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function writeTime(out: Buffer, at: number, when: Date | string): number {
  // YYYY-MM-DDTHH:MM:SS.sssZ as toISOString writes it; anything else goes through a Date and time(),
  // which also refuses what cannot be encoded.
  const iso = typeof when === 'string' && ISO_UTC.test(when) ? when : undefined;
  const d = iso ? undefined : typeof when === 'string' ? new Date(when) : when;
  const year = iso ? Number(iso.slice(0, 4)) : Number.NaN;
  if (!iso || year < 1950) return at + time(d ?? new Date(when)).copy(out, at);
  const utc = year < 2050;
  out[at++] = utc ? 0x17 : 0x18;
  out[at++] = utc ? 13 : 15;
  at += out.write(utc ? iso.slice(2, 4) : iso.slice(0, 4), at, 'latin1');
  for (const [from, to] of [[5, 7], [8, 10], [11, 13], [14, 16], [17, 19]]) at += out.write(iso.slice(from, to), at, 'latin1');
  out[at++] = 0x5a; // Z
  return at;
}

/** Upper bound of one entry's encoding: header 2, INTEGER of a 20-byte serial 23, time 17. */
const MAX_ENTRY = 2 + 23 + 17;

/**
 * The DER of revokedCertificates entries, concatenated: one chunk of the CRL's revoked list.
 * Written into one buffer byte by byte: through the tlv helpers an entry took about ten small
 * buffers, and encoding, not reading or signing, was most of a rebuild.
 */
export function encodeRevokedEntries(entries: readonly CrlEntry[]): Buffer {
  const out = Buffer.allocUnsafe(entries.length * MAX_ENTRY);
  let at = 0;
  for (const { serial, revokedAt } of entries) {
    const hex = serial.replace(/^0+(?=.)/, '');
    if (!/^[0-9a-fA-F]{1,40}$/.test(hex)) throw new Error(`CRL serial ${JSON.stringify(serial)} is not 1 to 20 bytes of hex`);
    const magnitude = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
    const pad = magnitude[0] & 0x80 ? 1 : 0; // a positive INTEGER whose top bit is set gets a zero byte
    const start = at;
    at += 2; // SEQUENCE header, its length filled in below (always under 128)
    out[at++] = 0x02;
    out[at++] = magnitude.length + pad;
    if (pad) out[at++] = 0;
    at += magnitude.copy(out, at);
    at = writeTime(out, at, revokedAt);
    out[start] = 0x30;
    out[start + 1] = at - start - 2;
  }
  return out.subarray(0, at);
}

const total = (chunks: readonly Buffer[]) => chunks.reduce((n, c) => n + c.length, 0);

/**
 * The TBSCertList of a version 2 CRL issued by the CA whose subject is `issuerDer`, with authority
 * key identifier `keyId` (the CA's subject key identifier), as chunks to sign without copying.
 */
export function crlTbs(issuerDer: Buffer, keyId: Buffer, req: EncodedCrlRequest): Buffer[] {
  const extensions = explicit(0, seq(seq(AUTHORITY_KEY_IDENTIFIER, octets(seq(tlv(0x80, keyId)))), seq(CRL_NUMBER, octets(unsignedInteger(bigintBytes(req.number))))));
  const revokedLength = total(req.revoked);
  // RFC 5280: revokedCertificates is absent, not empty, when nothing is revoked.
  const revokedList = revokedLength ? [header(0x30, revokedLength), ...req.revoked] : [];
  const head = Buffer.concat([VERSION_2, ECDSA_WITH_SHA256, issuerDer, time(req.thisUpdate), time(req.nextUpdate)]);
  const body = [head, ...revokedList, extensions];
  return [header(0x30, total(body)), ...body];
}

/** CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue }. */
export function assembleCrl(tbs: readonly Buffer[], signature: Buffer): Buffer {
  const outer = [...tbs, ECDSA_WITH_SHA256, bitString(signature)];
  return Buffer.concat([header(0x30, total(outer)), ...outer]);
}
