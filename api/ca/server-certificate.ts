// The API server's TLS certificate as DER, so the CA signer (a key file, AWS KMS or a PKCS#11
// token) signs it like any host certificate. The shape is the one the server always had: subject
// CN=<first DNS name>, O=<cluster>; CA:FALSE (critical), digitalSignature | keyEncipherment
// (critical), serverAuth, and localhost, loopback and the configured names as SANs.

import type { KeyObject } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { explicit, octets, oid, seq, set, time, tlv, TRUE, unsignedInteger } from './der';
import { randomSerialHex, spkiDer } from './host-certificate';

const ECDSA_WITH_SHA256 = seq(oid('1.2.840.10045.4.3.2'));

export interface ServerCertificateRequest {
  /** The CA certificate's subject, byte for byte. */
  issuerDer: Buffer;
  clusterName: string;
  /** DNS names and IP addresses (localhost and loopback are always added). */
  names: string[];
  publicKey: KeyObject;
  now: Date;
  validityMs: number;
}

/** The 4 or 16 bytes of an IP address, as an iPAddress SAN carries them. */
export function ipBytes(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  if (!isIPv6(ip)) throw new Error(`${JSON.stringify(ip)} is not an IP address`);
  let text = ip.replace(/%.*$/, '');
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const b = v4[1].split('.').map(Number);
    text = text.slice(0, -v4[1].length) + `${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const groups = (s: string | undefined) => (s ? s.split(':') : []);
  const left = groups(head);
  const right = groups(tail);
  const all = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

const isIp = (name: string) => isIPv4(name) || isIPv6(name);

export function serverTbsCertificate(req: ServerCertificateRequest, serialHex = randomSerialHex()): Buffer {
  const dns = [...new Set(['localhost', ...req.names.filter((n) => !isIp(n))])];
  const ips = [...new Set(['127.0.0.1', '::1', ...req.names.filter(isIp)])];
  const utf8 = (type: string, value: string) => set(seq(oid(type), tlv(0x0c, Buffer.from(value, 'utf8'))));
  const subject = seq(utf8('2.5.4.3', dns[0]), utf8('2.5.4.10', req.clusterName));
  const san = seq(
    ...dns.filter((n) => /^[\x21-\x7e]+$/.test(n)).map((n) => tlv(0x82, Buffer.from(n, 'ascii'))),
    ...ips.map((ip) => tlv(0x87, ipBytes(ip))),
  );
  const extensions = seq(
    seq(oid('2.5.29.19'), TRUE, octets(seq())),
    // digitalSignature (bit 0) | keyEncipherment (bit 2): 0b1010_0000, 5 unused bits.
    seq(oid('2.5.29.15'), TRUE, octets(tlv(0x03, Buffer.from([0x05, 0xa0])))),
    seq(oid('2.5.29.37'), octets(seq(oid('1.3.6.1.5.5.7.3.1')))),
    seq(oid('2.5.29.17'), octets(san)),
  );
  return seq(
    explicit(0, tlv(0x02, Buffer.from([2]))),
    unsignedInteger(Buffer.from(serialHex, 'hex')),
    ECDSA_WITH_SHA256,
    req.issuerDer,
    seq(time(new Date(req.now.getTime() - 60_000)), time(new Date(req.now.getTime() + req.validityMs))),
    subject,
    spkiDer(req.publicKey),
    explicit(3, extensions),
  );
}
