// Host certificates written as DER by api/ca/host-certificate.ts mean exactly what the
// @peculiar/x509 builder produced before: compared field by field with one made the old way,
// read by openssl, and verified against the CA.

import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync, webcrypto, type KeyObject } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as x509 from '@peculiar/x509';
import { ClusterCA } from '../../api/ca/ca';
import { hostCertificateIssuer, hostTbsCertificate, issueHostCertificate, randomSerialHex, spkiDer, subjectDer } from '../../api/ca/host-certificate';
import type { Store } from '../../api/store/types';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

let dir: string;
let ca: ClusterCA;
let caKey: KeyObject;

function memoryStore(): Store {
  const settings = new Map<string, string>();
  return {
    settings: {
      get: async (k: string) => settings.get(k),
      setIfAbsent: async (k: string, v: string) => {
        if (!settings.has(k)) settings.set(k, v);
        return settings.get(k)!;
      },
    },
  } as unknown as Store;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-hostcert-'));
  ca = await ClusterCA.loadOrCreate(dir, 'prod-cluster', memoryStore());
  caKey = createPrivateKey(fs.readFileSync(path.join(dir, 'ca.key')));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The certificate as the previous builder made it (kept here as the reference). */
async function oldWay(req: { publicKey: KeyObject; hostId: string; role: string; ttlMs: number; now: Date }, serial: string, clusterName: string): Promise<x509.X509Certificate> {
  const escapeDn = (v: string) => v.replace(/([,+"\\<>;=#])/g, '\\$1');
  const signingKey = await webcrypto.subtle.importKey('pkcs8', caKey.export({ type: 'pkcs8', format: 'der' }), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
  const san: { type: 'dns' | 'url'; value: string }[] = [{ type: 'url', value: `joinery://${encodeURIComponent(clusterName)}/host/${encodeURIComponent(req.hostId)}` }];
  if (/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(req.hostId)) san.unshift({ type: 'dns', value: req.hostId });
  return x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject: `CN=${escapeDn(req.hostId)}, OU=${escapeDn(req.role)}, O=${escapeDn(clusterName)}`,
    issuer: new x509.X509Certificate(ca.certPem).subject,
    notBefore: new Date(req.now.getTime() - 60_000),
    notAfter: new Date(req.now.getTime() + req.ttlMs),
    publicKey: new Uint8Array(req.publicKey.export({ type: 'spki', format: 'der' })),
    signingKey: signingKey as CryptoKey,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(san),
    ],
  });
}

function ecKey(): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey;
}

const keyTypes: [string, () => KeyObject][] = [
  ['EC P-256', ecKey],
  ['EC P-384', () => generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey],
  ['Ed25519', () => generateKeyPairSync('ed25519').publicKey],
  ['RSA 2048', () => generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey],
];

describe.each([
  ['an EC2 host', '123456789012-i-0123456789abcdef0', 'Node'],
  ['a token host', '5b0e8d8c-4f6a-4c2e-9c1a-2f8b7d6e5a41', 'Kube'],
  ['a host ID that is no DNS label', 'host.with.dots', 'Proxy'],
])('%s', (_what, hostId, role) => {
  test.each(keyTypes)('%s key: same fields, extensions and critical flags as the old builder; verifies against the CA', async (_k, makeKey) => {
    const publicKey = makeKey();
    const now = new Date('2026-03-04T05:06:07.891Z');
    const req = { publicKey, hostId, role, ttlMs: 30 * 24 * 3600_000, now };
    const issued = await ca.issueHostCertificate(req);
    const fresh = new X509Certificate(issued.certPem);
    const old = await oldWay(req, issued.serial, ca.clusterName);
    const oldNode = new X509Certificate(old.toString('pem'));

    // node's reading
    for (const field of ['subject', 'issuer', 'subjectAltName', 'infoAccess', 'validFrom', 'validTo', 'serialNumber', 'ca', 'keyUsage'] as const) {
      expect([field, fresh[field]]).toEqual([field, oldNode[field]]);
    }
    expect(fresh.serialNumber.toLowerCase()).toBe(issued.serial);
    expect(fresh.publicKey.export({ type: 'spki', format: 'der' })).toEqual(publicKey.export({ type: 'spki', format: 'der' }));
    expect(fresh.checkIssued(new X509Certificate(ca.certPem))).toBe(true);
    expect(fresh.verify(createPublicKey(caKey))).toBe(true);

    // @peculiar/x509's reading: every extension byte for byte, with its critical flag
    const parsed = new x509.X509Certificate(issued.certPem);
    expect(parsed.subject).toBe(old.subject);
    expect(parsed.issuer).toBe(old.issuer);
    expect(parsed.notBefore).toEqual(old.notBefore);
    expect(parsed.notAfter).toEqual(old.notAfter);
    expect(parsed.signatureAlgorithm).toEqual(old.signatureAlgorithm);
    const ext = (c: x509.X509Certificate) => c.extensions.map((e) => ({ type: e.type, critical: e.critical, value: Buffer.from(e.value).toString('hex') }));
    expect(ext(parsed)).toEqual(ext(old));
    expect(await parsed.verify({ publicKey: new x509.X509Certificate(ca.certPem).publicKey, signatureOnly: true })).toBe(true);
    expect(parsed.getExtension(x509.BasicConstraintsExtension)!.ca).toBe(false);
  });
});

test('openssl reads it and verifies it as a TLS client certificate of the CA', async () => {
  const issued = await ca.issueHostCertificate({ publicKey: ecKey(), hostId: '123456789012-i-0123456789abcdef0', role: 'Node', ttlMs: 3600_000, now: new Date() });
  const file = path.join(dir, 'host.pem');
  fs.writeFileSync(file, issued.certPem);
  const text = execFileSync('openssl', ['x509', '-in', file, '-noout', '-text'], { encoding: 'utf8' });
  expect(text).toContain('Subject: CN = 123456789012-i-0123456789abcdef0, OU = Node, O = prod-cluster');
  expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
  expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment/);
  expect(text).toMatch(/X509v3 Extended Key Usage: ?\s+TLS Web Client Authentication/);
  expect(text).toContain('DNS:123456789012-i-0123456789abcdef0, URI:joinery://prod-cluster/host/123456789012-i-0123456789abcdef0');
  const verified = execFileSync('openssl', ['verify', '-CAfile', path.join(dir, 'ca.crt'), '-purpose', 'sslclient', file], { encoding: 'utf8' });
  expect(verified.trim()).toBe(`${file}: OK`);
  // Strict DER: openssl re-encodes it to the same bytes.
  const der = execFileSync('openssl', ['x509', '-in', file, '-outform', 'DER']);
  expect(der).toEqual(new X509Certificate(issued.certPem).raw);
});

test('subject strings are UTF8String, written as given (no DN escaping), the issuer is the CA subject byte for byte', () => {
  const issuer = hostCertificateIssuer({ clusterName: 'Zürich, "prod" + =#;<>\\', certPem: ca.certPem, signingKey: caKey });
  const issued = issueHostCertificate(issuer, { publicKey: ecKey(), hostId: 'h1', role: 'Node', ttlMs: 3600_000, now: new Date() });
  const cert = new X509Certificate(issued.certPem);
  const parsed = new x509.X509Certificate(issued.certPem);
  expect(parsed.subjectName.getField('O')).toEqual(['Zürich, "prod" + =#;<>\\']);
  expect(parsed.subjectName.getField('CN')).toEqual(['h1']);
  // Each attribute value is a UTF8String (tag 0x0c).
  const utf8 = Buffer.from('Zürich', 'utf8');
  const at = cert.raw.indexOf(utf8);
  expect(at).toBeGreaterThan(0);
  expect(cert.raw[at - 2]).toBe(0x0c);
  expect(cert.issuer).toBe(new X509Certificate(ca.certPem).subject);
  expect(cert.raw.includes(subjectDer(new X509Certificate(ca.certPem).raw))).toBe(true);
  expect(cert.subjectAltName).toBe(`DNS:h1, URI:joinery://${encodeURIComponent('Zürich, "prod" + =#;<>\\')}/host/h1`);
});

test.each([
  ['a newline', 'host\nOU=Admin'],
  ['a NUL', 'host\u0000'],
  ['a C1 control', 'host\u0085'],
  ['a bidirectional override', 'host\u202eevil'],
  ['a zero-width space', 'ho\u200bst'],
  ['an unpaired surrogate', 'host\ud800'],
  ['nothing', ''],
])('a subject value with %s is refused', async (_what, hostId) => {
  await expect(ca.issueHostCertificate({ publicKey: ecKey(), hostId, role: 'Node', ttlMs: 3600_000, now: new Date() })).rejects.toThrow(/certificate subject CN/);
});

test('validity: UTCTime through 2049, GeneralizedTime from 2050, whole seconds', () => {
  const issuer = hostCertificateIssuer({ clusterName: 'c', certPem: ca.certPem, signingKey: caKey });
  const req = (now: Date, ttlMs: number) => ({ publicKey: ecKey(), hostId: 'h', role: 'Node', ttlMs, now });
  const late = hostTbsCertificate(issuer, req(new Date('2049-12-31T23:00:00.999Z'), 2 * 3600_000), randomSerialHex());
  expect(late.includes(Buffer.from('\x17\x0d491231225900Z', 'latin1'))).toBe(true);
  expect(late.includes(Buffer.from('\x18\x0f20500101010000Z', 'latin1'))).toBe(true);
});

test('serials: 16 bytes, positive, no leading zero, distinct', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const s = randomSerialHex();
    expect(s).toMatch(/^[4-7][0-9a-f]{31}$/);
    seen.add(s);
  }
  expect(seen.size).toBe(2000);
});

test.each([
  ...keyTypes,
  ['RSA 3072', () => generateKeyPairSync('rsa', { modulusLength: 3072 }).publicKey],
  ['RSA 2048 with exponent 3', () => generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 }).publicKey],
  ['RSA-PSS (through the encoder)', () => generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).publicKey],
  ['X25519 (through the encoder)', () => generateKeyPairSync('x25519').publicKey],
] as [string, () => KeyObject][])('the SubjectPublicKeyInfo of a %s key is byte for byte what OpenSSL writes', (name, makeKey) => {
  // Many small keys (coordinates with leading zero bytes must keep their length); RSA keys are slow to make.
  for (let i = 0; i < (name.startsWith('RSA') ? 1 : 50); i++) {
    const key = makeKey();
    expect(spkiDer(key).toString('hex')).toBe(key.export({ type: 'spki', format: 'der' }).toString('hex'));
  }
});
