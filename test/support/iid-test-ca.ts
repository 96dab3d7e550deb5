// A stand-in for AWS's per-region signing certificate: a self-signed RSA-2048 certificate that
// signs instance identity documents as PKCS#7 SignedData, the way IMDS serves them at
// /latest/dynamic/instance-identity/rsa2048 (optionally with BER indefinite lengths, as AWS does).
// Tests hand its certificate to the server through JOINERY_EC2_EXTRA_CERTS.

import { createHash, randomBytes, webcrypto } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as x509 from '@peculiar/x509';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

const OID_DATA = '1.2.840.113549.1.7.1';
const OID_SIGNED_DATA = '1.2.840.113549.1.7.2';
const OID_CONTENT_TYPE = '1.2.840.113549.1.9.3';
const OID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
const OID_SIGNING_TIME = '1.2.840.113549.1.9.5';
const RSA = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };

/** The fields of an identity document, in the order AWS writes them. */
export interface IdentityDocumentFields {
  accountId: string;
  instanceId: string;
  region: string;
  pendingTime: string;
  [extra: string]: unknown;
}

/** A document shaped like the ones IMDS serves (pretty-printed, AWS's field set). */
export function identityDocument(f: IdentityDocumentFields): string {
  const { accountId, instanceId, region, pendingTime, ...extra } = f;
  const doc = {
    accountId,
    architecture: 'x86_64',
    availabilityZone: `${region}a`,
    billingProducts: null,
    devpayProductCodes: null,
    marketplaceProductCodes: null,
    imageId: 'ami-12c6146b',
    instanceId,
    instanceType: 't3.micro',
    kernelId: null,
    pendingTime,
    privateIp: '10.0.0.10',
    ramdiskId: null,
    region,
    version: '2017-09-30',
    ...extra,
  };
  return JSON.stringify(doc, null, 2);
}

export interface IidSigner {
  certPem: string;
  /** Signs the document; returns base64 of the PKCS#7 (BER indefinite-length when ber is true, else DER). */
  sign(document: string, opts?: { ber?: boolean; signingTime?: Date }): Promise<string>;
  /** Writes the certificate to `<dir>/<file>` and returns the path. */
  writeCert(dir: string, file: string): string;
}

/** Creates a signing certificate; `name` goes in its subject so failures say which one signed. */
export async function createIidSigner(name = 'test'): Promise<IidSigner> {
  const keys = (await webcrypto.subtle.generateKey(RSA, true, ['sign', 'verify'])) as CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(8).toString('hex').replace(/^[89a-f]/, '1'),
    name: `C=US, ST=Washington State, L=Seattle, O=Joinery test IID signer ${name}`,
    notBefore: new Date(now - 24 * 3600_000),
    notAfter: new Date(now + 365 * 24 * 3600_000),
    keys,
    signingAlgorithm: RSA,
    extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
  });
  const certPem = cert.toString('pem');
  const pkiCert = pkijs.Certificate.fromBER(new Uint8Array(cert.rawData));

  return {
    certPem,
    writeCert(dir, file) {
      const p = path.join(dir, file);
      fs.writeFileSync(p, certPem + '\n');
      return p;
    },
    async sign(document, opts = {}) {
      const content = Buffer.from(document, 'utf8');
      const digest = createHash('sha256').update(content).digest();
      const signedData = new pkijs.SignedData({
        version: 1,
        encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: OID_DATA, eContent: new asn1js.OctetString({ valueHex: content }) }),
        signerInfos: [
          new pkijs.SignerInfo({
            version: 1,
            sid: new pkijs.IssuerAndSerialNumber({ issuer: pkiCert.issuer, serialNumber: pkiCert.serialNumber }),
            signedAttrs: new pkijs.SignedAndUnsignedAttributes({
              type: 0,
              attributes: [
                new pkijs.Attribute({ type: OID_CONTENT_TYPE, values: [new asn1js.ObjectIdentifier({ value: OID_DATA })] }),
                new pkijs.Attribute({ type: OID_SIGNING_TIME, values: [new asn1js.UTCTime({ valueDate: opts.signingTime ?? new Date() })] }),
                new pkijs.Attribute({ type: OID_MESSAGE_DIGEST, values: [new asn1js.OctetString({ valueHex: digest })] }),
              ],
            }),
          }),
        ],
      });
      await signedData.sign(keys.privateKey, 0, 'SHA-256');
      const info = new pkijs.ContentInfo({ contentType: OID_SIGNED_DATA, content: signedData.toSchema(true) });
      const der = Buffer.from(info.toSchema().toBER(false));
      return (opts.ber ? toIndefiniteBer(der) : der).toString('base64');
    },
  };
}

// ---------------------------------------------------------------------------------------------
// DER -> BER with indefinite lengths on the path to the content, as AWS encodes it:
// ContentInfo, its [0], SignedData, EncapsulatedContentInfo, its [0], and the content as a
// constructed OCTET STRING. The signed attributes stay DER: the signature covers their encoding.

interface Tlv {
  tag: number;
  start: number;
  contentStart: number;
  end: number;
}

function readTlv(buf: Buffer, off: number): Tlv {
  const tag = buf[off];
  if ((tag & 0x1f) === 0x1f) throw new Error('high tag numbers are not used here');
  let len = buf[off + 1];
  let p = off + 2;
  if (len === 0x80) throw new Error('already indefinite');
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p++];
  }
  return { tag, start: off, contentStart: p, end: p + len };
}

function children(buf: Buffer, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let p = parent.contentStart; p < parent.end; ) {
    const t = readTlv(buf, p);
    out.push(t);
    p = t.end;
  }
  return out;
}

function raw(buf: Buffer, t: Tlv): Buffer {
  return buf.subarray(t.start, t.end);
}

function indefinite(tag: number, parts: Buffer[]): Buffer {
  return Buffer.concat([Buffer.from([tag, 0x80]), ...parts, Buffer.from([0, 0])]);
}

export function toIndefiniteBer(der: Buffer): Buffer {
  const ci = readTlv(der, 0);
  const [ciType, ciExplicit] = children(der, ci);
  const sd = children(der, ciExplicit)[0];
  const sdKids = children(der, sd);
  const encap = sdKids[2];
  const [encapType, encapExplicit] = children(der, encap);
  const octet = children(der, encapExplicit)[0];
  // pkijs may already write the content as a constructed OCTET STRING: keep its pieces.
  const pieces = octet.tag === 0x24 ? children(der, octet).map((k) => raw(der, k)) : [raw(der, octet)];
  const content = indefinite(0x24, pieces);
  const newEncap = indefinite(0x30, [raw(der, encapType), indefinite(0xa0, [content])]);
  const newSd = indefinite(0x30, sdKids.map((k) => (k === encap ? newEncap : raw(der, k))));
  return indefinite(0x30, [raw(der, ciType), indefinite(0xa0, [newSd])]);
}
