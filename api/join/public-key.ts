// The agent's public key, as a join request carries it. Node's createPublicKey is lenient in ways
// that matter here: it derives a public key from a private key, takes a certificate, reads the
// first PEM block and ignores what follows, and accepts any RSA parameters. So the text is read
// strictly first (exactly one SPKI PEM block, nothing but white space around it, canonical
// base64, no bytes after the DER), then the key type and parameters are checked.

import { createPublicKey, type KeyObject } from 'node:crypto';
import { spkiDer } from '../ca/host-certificate';
import { badJoinRequest, type JoinError } from './errors';
import { refuse } from './refusals';

export const MAX_PUBLIC_KEY_PEM = 8192;
export const MIN_RSA_BITS = 2048;
export const MAX_RSA_BITS = 8192;
export const MIN_RSA_EXPONENT = 65537n;
const ACCEPTED_CURVES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384' };
const ACCEPTED = 'EC P-256/P-384, RSA 2048-8192 bits or Ed25519';

const BEGIN_RE = /-----BEGIN ([A-Z0-9 ]+)-----/g;
const SPKI_PEM_RE = /^-----BEGIN PUBLIC KEY-----\r?\n([A-Za-z0-9+/=\r\n]+?)\r?\n?-----END PUBLIC KEY-----$/;

function invalid(message: string): JoinError {
  return badJoinRequest('invalid_public_key', message);
}

/** What a PEM label holds, for a refusal that tells the operator what they sent instead. */
function describeLabel(label: string): string | undefined {
  if (label.includes('PRIVATE KEY')) return 'a private key; send only the public key (-----BEGIN PUBLIC KEY-----) and keep the private key on the host';
  if (label.includes('CERTIFICATE')) return 'a certificate; send the public key itself (-----BEGIN PUBLIC KEY-----)';
  if (label === 'RSA PUBLIC KEY') return 'a PKCS#1 RSA key; send it as SubjectPublicKeyInfo (-----BEGIN PUBLIC KEY-----, e.g. `openssl rsa -pubin -RSAPublicKey_in -pubout`)';
  if (label !== 'PUBLIC KEY') return `a PEM block of type ${JSON.stringify(label.slice(0, 40))}; expected -----BEGIN PUBLIC KEY-----`;
  return undefined;
}

/** The DER of the one SPKI block in `pem`, or a precise refusal. */
function pemDer(pem: string): Buffer {
  const text = pem.trim();
  const labels = [...text.matchAll(BEGIN_RE)].map((m) => m[1]);
  if (labels.length === 0) throw invalid('public_key is not a PEM-encoded public key (expected -----BEGIN PUBLIC KEY-----)');
  if (labels.length > 1) throw invalid(`public_key must hold exactly one PEM block (found ${labels.length})`);
  const wrong = describeLabel(labels[0]);
  if (wrong) throw invalid(`public_key is ${wrong}`);
  if (!text.startsWith('-----BEGIN PUBLIC KEY-----')) throw invalid('public_key has text before the PEM block; send the PEM block alone');
  if (!/-----END PUBLIC KEY-----$/.test(text)) throw invalid('public_key has text after the PEM block, or no -----END PUBLIC KEY----- line; send the PEM block alone');
  const m = SPKI_PEM_RE.exec(text);
  if (!m) throw invalid('public_key is not a well-formed PEM block: only base64 lines may stand between the BEGIN and END lines');
  const b64 = m[1].replace(/[\r\n]/g, '');
  const der = Buffer.from(b64, 'base64');
  // Buffer.from skips what it cannot read; the round trip catches stray '=' and bad padding.
  if (der.length === 0 || der.toString('base64') !== b64) throw invalid('public_key is not a well-formed PEM block: its base64 is not canonical');
  return der;
}

/** Length of a DER SEQUENCE including its header, or undefined when the header is not DER. */
function derSequenceLength(der: Buffer): number | undefined {
  if (der.length < 2 || der[0] !== 0x30) return undefined;
  const first = der[1];
  if (first < 0x80) return 2 + first;
  const n = first & 0x7f;
  if (n === 0 || n > 4 || der.length < 2 + n) return undefined;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + der[2 + i];
  // Long form for a length that fits the short form, or a leading zero byte, is BER, not DER.
  if (len < 0x80 || der[2] === 0) return undefined;
  return 2 + n + len;
}

function base64UrlToBigInt(text: string): bigint {
  const hex = Buffer.from(text, 'base64url').toString('hex');
  return hex ? BigInt(`0x${hex}`) : 0n;
}

function checkRsa(key: KeyObject): void {
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) {
    throw invalid(`public_key is a ${bits}-bit RSA key; RSA keys must have ${MIN_RSA_BITS} to ${MAX_RSA_BITS} bits`);
  }
  const jwk = key.export({ format: 'jwk' });
  const n = base64UrlToBigInt(String(jwk.n ?? ''));
  const e = base64UrlToBigInt(String(jwk.e ?? ''));
  if (n % 2n === 0n) throw invalid('public_key is an RSA key with an even modulus, which cannot be a product of two large primes');
  if (e % 2n === 0n || e < MIN_RSA_EXPONENT) {
    throw invalid(`public_key is an RSA key with public exponent ${e > 1_000_000_000_000n ? 'too large to show' : String(e)}; the exponent must be odd and at least ${MIN_RSA_EXPONENT} (65537 is usual)`);
  }
}

// The SPKI of an uncompressed P-256 point and of an Ed25519 key: a fixed header, then the key.
const P256_SPKI_HEADER = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d03010703420004', 'hex');
const ED25519_SPKI_HEADER = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * The agent key types nearly every host sends, imported from a JWK built from their DER: OpenSSL
 * 3's SPKI decoder costs several times the JWK import (about 300 µs against 100 µs for P-256,
 * 150 µs against 20 µs for Ed25519), and the JWK import checks as much (the point lies on the
 * curve, each coordinate below the field prime). Undefined for any other DER, which takes the
 * decoder. P-384 stays there: its JWK import is slower than the decoder.
 */
function importCommonKey(der: Buffer): KeyObject | undefined {
  if (der.length === P256_SPKI_HEADER.length + 64 && der.subarray(0, P256_SPKI_HEADER.length).equals(P256_SPKI_HEADER)) {
    const x = der.subarray(P256_SPKI_HEADER.length, P256_SPKI_HEADER.length + 32).toString('base64url');
    const y = der.subarray(P256_SPKI_HEADER.length + 32).toString('base64url');
    return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x, y }, format: 'jwk' });
  }
  if (der.length === ED25519_SPKI_HEADER.length + 32 && der.subarray(0, ED25519_SPKI_HEADER.length).equals(ED25519_SPKI_HEADER)) {
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: der.subarray(ED25519_SPKI_HEADER.length).toString('base64url') }, format: 'jwk' });
  }
  return undefined;
}

/**
 * Reads and checks the agent's public key: exactly one PEM SubjectPublicKeyInfo of an accepted
 * type (EC P-256/P-384, RSA 2048-8192 bits with an odd modulus and an odd exponent >= 65537,
 * Ed25519). Every refusal is `invalid_public_key` with a message saying what is wrong.
 */
export function parseAgentPublicKey(pem: unknown): KeyObject {
  if (pem !== undefined && pem !== null && typeof pem !== 'string') {
    throw invalid(`public_key must be a string holding a PEM-encoded SubjectPublicKeyInfo (got a ${Array.isArray(pem) ? 'list' : typeof pem})`);
  }
  if (typeof pem !== 'string' || pem.trim().length === 0) {
    throw invalid('public_key is required: a PEM-encoded SubjectPublicKeyInfo (-----BEGIN PUBLIC KEY-----)');
  }
  if (pem.length > MAX_PUBLIC_KEY_PEM) throw invalid(`public_key is longer than ${MAX_PUBLIC_KEY_PEM} characters; no accepted key is that large`);
  if (!pem.includes('-----BEGIN ')) throw invalid('public_key is not a PEM-encoded public key (expected -----BEGIN PUBLIC KEY-----)');
  const der = pemDer(pem);
  if (derSequenceLength(der) !== der.length) throw invalid('public_key is not a single DER SubjectPublicKeyInfo (bad length, or bytes after it)');

  let key: KeyObject;
  try {
    const common = importCommonKey(der);
    if (common) return common;
    key = createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch {
    throw invalid('public_key is not a valid SubjectPublicKeyInfo (the key inside could not be read)');
  }
  const type = key.asymmetricKeyType;
  if (type === 'rsa') {
    checkRsa(key);
    return key;
  }
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve ?? '';
    if (ACCEPTED_CURVES[curve]) return key;
    throw invalid(`public_key is an EC key on curve ${curve || '(unnamed)'}, which is not accepted; use ${ACCEPTED}`);
  }
  if (type === 'ed25519') return key;
  throw invalid(`public_key type ${type} is not accepted; use ${ACCEPTED}`);
}

/**
 * The CA never certifies its own public key for a host: such a certificate would bind a host
 * identity to the CA key, and whoever presents it would pass for the CA's own key holder.
 */
export function refuseCaKey(ca: { publicKey: KeyObject }, key: KeyObject): void {
  // Two keys are the same key exactly when their SubjectPublicKeyInfo is the same. Comparing the
  // encodings the certificate is built from anyway costs a byte compare; KeyObject.equals costs
  // 20-90 µs on a freshly imported key (OpenSSL converts it before comparing).
  if (key.asymmetricKeyType === ca.publicKey.asymmetricKeyType && spkiDer(key).equals(spkiDer(ca.publicKey))) {
    throw refuse('public_key_is_ca_key', "public_key is the cluster CA's own public key; a host sends a key of its own");
  }
}
