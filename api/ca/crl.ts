// The CRL written straight as DER and signed with node:crypto, like the host certificates. Built
// through @peculiar/x509 it was re-parsed with asn1js's node limit, so past about 1,200 entries
// every request failed, and each one held the event loop for seconds; here an entry costs a few
// byte concatenations, whatever the count.

import { sign } from 'node:crypto';
import { bitString, explicit, octets, oid, seq, time, tlv, unsignedInteger } from './der';
import type { HostCertificateIssuer } from './host-certificate';

const ECDSA_WITH_SHA256 = seq(oid('1.2.840.10045.4.3.2'));
const VERSION_2 = tlv(0x02, Buffer.from([1]));
const AUTHORITY_KEY_IDENTIFIER = oid('2.5.29.35');
const CRL_NUMBER = oid('2.5.29.20');
const REASON_CODE = oid('2.5.29.21');
// RFC 5280 CRLReason cessationOfOperation (5): the host left the cluster.
const CESSATION_OF_OPERATION = seq(REASON_CODE, octets(tlv(0x0a, Buffer.from([5]))));

export interface CrlRequest {
  entries: { serial: string; revokedAt: Date }[];
  thisUpdate: Date;
  nextUpdate: Date;
  /** RFC 5280 cRLNumber; must grow with every CRL the cluster publishes. */
  number: bigint;
}

function bigintBytes(n: bigint): Buffer {
  const hex = n.toString(16);
  return Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
}

/** A version 2 CRL of `issuer`, with authority key identifier `keyId` (the CA's subject key identifier). */
export function buildCrl(issuer: HostCertificateIssuer, keyId: Buffer, req: CrlRequest): Buffer {
  const revoked = req.entries.map((e) => seq(unsignedInteger(Buffer.from(e.serial.length % 2 ? `0${e.serial}` : e.serial, 'hex')), time(e.revokedAt), seq(CESSATION_OF_OPERATION)));
  const extensions = explicit(0, seq(seq(AUTHORITY_KEY_IDENTIFIER, octets(seq(tlv(0x80, keyId)))), seq(CRL_NUMBER, octets(unsignedInteger(bigintBytes(req.number))))));
  const tbs = seq(VERSION_2, ECDSA_WITH_SHA256, issuer.issuerDer, time(req.thisUpdate), time(req.nextUpdate), ...(revoked.length ? [seq(...revoked)] : []), extensions);
  const signature = sign('sha256', tbs, { key: issuer.signingKey, dsaEncoding: 'der' });
  return seq(tbs, ECDSA_WITH_SHA256, bitString(signature));
}
