// Verifies an EC2 instance identity document as IMDS serves it at
// /latest/dynamic/instance-identity/rsa2048: base64 of a PKCS#7 SignedData (BER, usually with
// indefinite lengths) whose signed content is the JSON document. The identity is read only from
// that signed content, after the signature has been checked against the region's certificate.

import { KNOWN_REGIONS } from './region-coverage';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { JoinError, badJoinRequest } from '../errors';
import { refuse } from '../refusals';
import type { Ec2TrustStore, TrustedCertificate } from './trust-store';

export interface InstanceIdentity {
  accountId: string;
  instanceId: string;
  region: string;
  /** RFC 3339 launch time of the instance, as signed by AWS. */
  pendingTime: string;
  /** The whole signed document, for the audit log. */
  document: Record<string, unknown>;
}

const OID_SIGNED_DATA = '1.2.840.113549.1.7.2';
const OID_DATA = '1.2.840.113549.1.7.1';
/** A real rsa2048 document is about 1.5 KB of base64; anything far larger is not one. */
export const MAX_IID_BASE64 = 16 * 1024;
const ACCOUNT_RE = /^[0-9]{12}$/;
const INSTANCE_RE = /^i-[0-9a-f]{8,32}$/;
const REGION_RE = /^[a-z]{2,8}(?:-[a-z0-9]{1,16}){2,4}$/;
const RFC3339_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/i;

function malformed(message: string): JoinError {
  return badJoinRequest('iid_malformed', `iid is not an EC2 instance identity document: ${message}`);
}

/** Decodes the base64 text (line breaks and a PEM PKCS7 armour are tolerated) to DER/BER bytes. */
export function decodeIidBase64(text: unknown): Uint8Array {
  if (typeof text !== 'string' || text.length === 0) {
    throw badJoinRequest('invalid_request', 'iid is required: the base64 PKCS#7 from http://169.254.169.254/latest/dynamic/instance-identity/rsa2048');
  }
  if (text.length > MAX_IID_BASE64) throw malformed(`it is ${text.length} characters long; a signed identity document is under ${MAX_IID_BASE64}`);
  const body = text.replace(/-----(BEGIN|END) PKCS7-----/g, '').replace(/[\r\n\t ]+/g, '');
  if (body.length === 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length % 4 === 1) throw malformed('it is not base64');
  return new Uint8Array(Buffer.from(body, 'base64'));
}

interface ParsedPkcs7 {
  signedData: pkijs.SignedData;
  content: Buffer;
}

/** Parses the PKCS#7 structure and extracts the signed content; never trusts anything in it yet. */
export function parsePkcs7(der: Uint8Array): ParsedPkcs7 {
  let signedData: pkijs.SignedData;
  try {
    const asn = asn1js.fromBER(der);
    if (asn.offset === -1) throw new Error(asn.result.error || 'bad BER encoding');
    if (asn.offset !== der.byteLength) throw new Error(`${der.byteLength - asn.offset} bytes after the end of the structure`);
    const info = new pkijs.ContentInfo({ schema: asn.result });
    if (info.contentType !== OID_SIGNED_DATA) throw new Error(`content type ${info.contentType} is not signedData`);
    signedData = new pkijs.SignedData({ schema: info.content });
  } catch (e) {
    throw malformed(`PKCS#7 SignedData does not parse (${describe(e)})`);
  }
  if (signedData.encapContentInfo.eContentType !== OID_DATA) throw malformed(`signed content type ${signedData.encapContentInfo.eContentType} is not data`);
  if (signedData.signerInfos.length !== 1) throw malformed(`it has ${signedData.signerInfos.length} signers; AWS signs with exactly one`);
  const e = signedData.encapContentInfo.eContent;
  if (!e) throw malformed('it carries no signed content (a detached signature)');
  let content: Buffer;
  try {
    // getValue() joins the pieces of a constructed (BER) OCTET STRING.
    content = Buffer.from(e.getValue());
  } catch (err) {
    throw malformed(`signed content does not parse (${describe(err)})`);
  }
  return { signedData, content };
}

/** The JSON fields the join relies on, checked for shape. */
export function parseIdentityJson(content: Buffer): InstanceIdentity {
  let doc: unknown;
  try {
    doc = JSON.parse(content.toString('utf8'));
  } catch {
    throw malformed('the signed content is not JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw malformed('the signed content is not a JSON object');
  const d = doc as Record<string, unknown>;
  const field = (name: string, re: RegExp): string => {
    const v = d[name];
    if (typeof v !== 'string' || !re.test(v)) throw malformed(`the signed document's ${name} is ${v === undefined ? 'missing' : `not valid (${JSON.stringify(v).slice(0, 80)})`}`);
    return v;
  };
  return {
    accountId: field('accountId', ACCOUNT_RE),
    instanceId: field('instanceId', INSTANCE_RE),
    region: field('region', REGION_RE),
    pendingTime: field('pendingTime', RFC3339_RE),
    document: d,
  };
}

function describe(e: unknown): string {
  const msg = e instanceof Error ? e.message : typeof e === 'string' ? e : '';
  return (msg || 'unknown error').replace(/\s+/g, ' ').slice(0, 200);
}

/** Whether the PKCS#7 signature verifies with this certificate (and only this one). */
async function verifiesWith(signedData: pkijs.SignedData, trusted: TrustedCertificate): Promise<boolean> {
  // Work on a copy whose certificate list is exactly the trusted certificate: any certificate the
  // sender embedded is ignored, so it cannot become the signer.
  const copy = new pkijs.SignedData({
    version: signedData.version,
    digestAlgorithms: signedData.digestAlgorithms,
    encapContentInfo: signedData.encapContentInfo,
    signerInfos: signedData.signerInfos,
    certificates: [trusted.cert],
  });
  try {
    const result = await copy.verify({ signer: 0, checkChain: false, extendedMode: true });
    return result.signatureVerified === true;
  } catch {
    // pkijs throws when the signer's issuer/serial names another certificate, or on bad values.
    return false;
  }
}

/**
 * Parses and verifies the document: the signature must verify with a certificate trusted for the
 * region named inside the signed content. Throws JoinError with iid_malformed (400),
 * iid_region_unsupported or iid_signature_invalid (403).
 */
export async function verifyInstanceIdentity(iidBase64: unknown, trust: Ec2TrustStore): Promise<InstanceIdentity> {
  const der = decodeIidBase64(iidBase64);
  const { signedData, content } = parsePkcs7(der);
  const identity = parseIdentityJson(content);
  const candidates = trust.certificates(identity.region);
  if (candidates.length === 0) {
    throw refuse('iid_region_unsupported',
      `no certificate is trusted for region ${identity.region}${KNOWN_REGIONS.includes(identity.region) ? ' (a region this release knows but has no embedded certificate for)' : ' (a region this release does not know)'}; add its RSA-2048 certificate from the EC2 User Guide ("AWS public certificates for instance identity document signatures") with JOINERY_EC2_EXTRA_CERTS="${identity.region}=/path/cert.pem"`,
    );
  }
  for (const trusted of candidates) {
    if (await verifiesWith(signedData, trusted)) return identity;
  }
  throw refuse('iid_signature_invalid',
    `the identity document of instance ${identity.instanceId} is not signed by AWS's RSA-2048 certificate for ${identity.region}; it was altered, or signed for another region or by someone else`,
  );
}
