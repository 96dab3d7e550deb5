// The PKCS#7 verifier: real AWS-signed documents against AWS's embedded certificates, documents
// signed by test signers, tampering, and malformed input.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AWS_RSA2048_CERTIFICATES } from '../../api/join/ec2/aws-certificates';
import { verifyInstanceIdentity } from '../../api/join/ec2/identity-document';
import { Ec2TrustConfigError, Ec2TrustStore } from '../../api/join/ec2/trust-store';
import { JoinError } from '../../api/join/errors';
import { createIidSigner, identityDocument, type IidSigner } from '../support/iid-test-ca';
import { caught } from '../support/caught';
import { VECTORS_FILE } from '../support/aws-vectors';
import { buildJoinAws } from '../../api/join/aws';
import { loadConfig } from '../../api/config';



interface Vector {
  name: string;
  iid_rsa2048: string;
  accountId: string;
  region: string;
  instanceId: string;
  pendingTime: string;
}
const vectors: Vector[] = JSON.parse(fs.readFileSync(VECTORS_FILE, 'utf8')).vectors;

const refusal = (p: Promise<unknown>) => caught(p, JoinError);

const embedded = Ec2TrustStore.load([]);

describe('AWS certificates', () => {
  test('every commercial, GovCloud and China region in the AWS guide has exactly one RSA-2048 certificate', () => {
    const regions = AWS_RSA2048_CERTIFICATES.map((c) => c.region);
    expect(new Set(regions).size).toBe(regions.length);
    for (const r of ['us-east-1', 'us-west-2', 'eu-central-1', 'ap-southeast-4', 'me-central-1', 'il-central-1', 'ca-west-1', 'us-gov-west-1', 'us-gov-east-1', 'cn-north-1', 'cn-northwest-1']) {
      expect(regions).toContain(r);
    }
    for (const entry of embedded.all()) {
      const key = entry.cert.subjectPublicKeyInfo.parsedKey as { modulus?: { valueBlock: { valueHexView: Uint8Array } } };
      const modulus = key.modulus!.valueBlock.valueHexView;
      // 2048-bit modulus (a leading 0 byte keeps it positive)
      expect(modulus[0] === 0 ? modulus.length - 1 : modulus.length).toBe(256);
    }
  });

  test.each(vectors.map((v) => [v.name, v] as const))('%s verifies with the certificate of its region', async (_name, v) => {
    const id = await verifyInstanceIdentity(v.iid_rsa2048, embedded);
    expect(id).toMatchObject({ accountId: v.accountId, region: v.region, instanceId: v.instanceId, pendingTime: v.pendingTime });
  });

  test.each(vectors.map((v) => [v.name, v] as const))('%s fails with every other region\'s certificate', async (_name, v) => {
    const others = embedded.all().filter((c) => c.region !== v.region);
    expect(others.length).toBeGreaterThan(30);
    for (const other of others) {
      // Trust only the other region's certificate, filed under the vector's region.
      const store = Ec2TrustStore.fromCertificates([{ ...other, region: v.region }]);
      const err = await refusal(verifyInstanceIdentity(v.iid_rsa2048, store));
      expect(err.code).toBe('iid_signature_invalid');
    }
  });

  test('a real document whose region has no certificate is refused as unsupported', async () => {
    const v = vectors[0];
    const others = embedded.all().filter((c) => c.region !== v.region);
    const err = await refusal(verifyInstanceIdentity(v.iid_rsa2048, Ec2TrustStore.fromCertificates(others)));
    expect(err.code).toBe('iid_region_unsupported');
    expect(err.message).toContain(v.region);
    expect(err.message).toContain('JOINERY_EC2_EXTRA_CERTS');
  });

  test('a real document with one byte of the signed content changed fails', async () => {
    const v = vectors[0];
    const der = Buffer.from(v.iid_rsa2048, 'base64');
    const at = der.indexOf(Buffer.from(v.instanceId));
    expect(at).toBeGreaterThan(0);
    der[at + v.instanceId.length - 1] ^= 0x01; // still a valid hex digit ('e' <-> 'd')
    const err = await refusal(verifyInstanceIdentity(der.toString('base64'), embedded));
    expect(err.code).toBe('iid_signature_invalid');
  });
});

describe('documents signed by test signers', () => {
  let signer: IidSigner;
  let otherRegionSigner: IidSigner;
  let untrusted: IidSigner;
  let store: Ec2TrustStore;
  let dir: string;
  const fields = { accountId: '111111111111', instanceId: 'i-0123456789abcdef0', region: 'us-west-2', pendingTime: '2026-01-02T03:04:05Z' };

  beforeAll(async () => {
    [signer, otherRegionSigner, untrusted] = await Promise.all([createIidSigner('us-west-2'), createIidSigner('eu-west-1'), createIidSigner('untrusted')]);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-iid-'));
    store = Ec2TrustStore.load([
      { region: 'us-west-2', file: signer.writeCert(dir, 'usw2.pem') },
      { region: 'eu-west-1', file: otherRegionSigner.writeCert(dir, 'euw1.pem') },
    ]);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('DER and BER indefinite-length encodings both verify, and the identity comes from the signed content', async () => {
    for (const ber of [false, true]) {
      const iid = await signer.sign(identityDocument(fields), { ber });
      if (ber) expect(Buffer.from(iid, 'base64').subarray(0, 2)).toEqual(Buffer.from([0x30, 0x80]));
      await expect(verifyInstanceIdentity(iid, store)).resolves.toMatchObject(fields);
    }
  });

  test('operator certificates add to AWS\'s: the real us-west-2 vector still verifies', async () => {
    const v = vectors.find((x) => x.region === 'us-west-2')!;
    await expect(verifyInstanceIdentity(v.iid_rsa2048, store)).resolves.toMatchObject({ accountId: v.accountId });
  });

  test('base64 in 64-character lines, or PEM armoured, is accepted', async () => {
    const iid = await signer.sign(identityDocument(fields), { ber: true });
    await expect(verifyInstanceIdentity(iid.replace(/(.{64})/g, '$1\n'), store)).resolves.toMatchObject(fields);
    await expect(verifyInstanceIdentity(`-----BEGIN PKCS7-----\n${iid}\n-----END PKCS7-----\n`, store)).resolves.toMatchObject(fields);
  });

  test('a certificate trusted for another region does not vouch for this one', async () => {
    const iid = await otherRegionSigner.sign(identityDocument(fields));
    expect((await refusal(verifyInstanceIdentity(iid, store))).code).toBe('iid_signature_invalid');
  });

  test('a document signed by an untrusted CA is refused', async () => {
    const iid = await untrusted.sign(identityDocument(fields), { ber: true });
    const err = await refusal(verifyInstanceIdentity(iid, store));
    expect(err.code).toBe('iid_signature_invalid');
    expect(err.status).toBe(403);
  });

  test('a region no certificate covers is refused before any signature check', async () => {
    const iid = await signer.sign(identityDocument({ ...fields, region: 'ap-south-9' }));
    expect((await refusal(verifyInstanceIdentity(iid, store))).code).toBe('iid_region_unsupported');
  });

  test('one changed byte anywhere in the signed document is refused', async () => {
    const der = Buffer.from(await signer.sign(identityDocument(fields)), 'base64');
    const at = der.indexOf(Buffer.from('"accountId"'));
    der[at + 16] = der[at + 16] === 0x31 ? 0x32 : 0x31; // a digit of the account ID
    const err = await refusal(verifyInstanceIdentity(der.toString('base64'), store));
    expect(err.code).toBe('iid_signature_invalid');
  });

  test('signed content that is not an identity document is refused as malformed', async () => {
    for (const doc of ['not json', '[]', JSON.stringify({ ...fields, accountId: 42 }), JSON.stringify({ ...fields, instanceId: undefined }), JSON.stringify({ ...fields, pendingTime: 'yesterday' })]) {
      const err = await refusal(verifyInstanceIdentity(await signer.sign(doc), store));
      expect(err.code).toBe('iid_malformed');
      expect(err.status).toBe(400);
    }
  });

  test('an embedded certificate cannot make itself trusted', async () => {
    // Re-sign with the untrusted signer but put its certificate into the PKCS#7: still refused.
    const pkijs = await import('pkijs');
    const asn1js = await import('asn1js');
    const der = Buffer.from(await untrusted.sign(identityDocument(fields)), 'base64');
    const info = new pkijs.ContentInfo({ schema: asn1js.fromBER(new Uint8Array(der)).result });
    const sd = new pkijs.SignedData({ schema: info.content });
    const certDer = Buffer.from(untrusted.certPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    sd.certificates = [pkijs.Certificate.fromBER(new Uint8Array(certDer))];
    const withCert = Buffer.from(new pkijs.ContentInfo({ contentType: info.contentType, content: sd.toSchema(true) }).toSchema().toBER(false));
    expect((await refusal(verifyInstanceIdentity(withCert.toString('base64'), store))).code).toBe('iid_signature_invalid');
  });
});

describe('malformed input', () => {
  test.each([
    ['empty', 'invalid_request', ''],
    ['not a string', 'invalid_request', 42],
    ['not base64', 'iid_malformed', '%%%not base64%%%'],
    ['base64 of text', 'iid_malformed', Buffer.from('hello world').toString('base64')],
    ['too long', 'iid_malformed', 'A'.repeat(20_000)],
    ['truncated', 'iid_malformed', vectors[0].iid_rsa2048.slice(0, 400)],
  ])('%s is refused as %s', async (_n, code, input) => {
    const err = await refusal(verifyInstanceIdentity(input, embedded));
    expect(err.code).toBe(code);
    expect(err.status).toBe(400);
  });
});

describe('operator configuration', () => {
  test('JOINERY_EC2_EXTRA_CERTS entries that are missing, empty or not certificates fail with the file named', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-trust-'));
    try {
      fs.writeFileSync(path.join(dir, 'empty.pem'), 'nothing here\n');
      fs.writeFileSync(path.join(dir, 'bad.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
      for (const [entry, text] of [
        [{ region: 'us-west-2', file: path.join(dir, 'missing.pem') }, 'missing.pem'],
        [{ region: 'us-west-2', file: path.join(dir, 'empty.pem') }, 'empty.pem'],
        [{ region: 'us-west-2', file: path.join(dir, 'bad.pem') }, 'bad.pem'],
        [{ region: 'not a region', file: path.join(dir, 'bad.pem') }, 'not a region'],
      ] as const) {
        expect(() => Ec2TrustStore.load([entry])).toThrow(Ec2TrustConfigError);
        expect(() => Ec2TrustStore.load([entry])).toThrow(text);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the server builds its store once, from its configuration', () => {
    const aws = buildJoinAws(loadConfig({}, {}));
    expect(aws.ec2Trust()).toBe(aws.ec2Trust());
    expect(aws.ec2Trust().regions()).toEqual(embedded.regions());
  });
});
