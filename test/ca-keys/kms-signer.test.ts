// The AWS KMS signer against moto 5.2.1: an ECC_NIST_P256 SIGN_VERIFY key, found by ID, alias
// and ARN, signs certificates openssl verifies. moto signs MessageType=RAW correctly and hashes a
// DIGEST message a second time (shown below), so DIGEST is exercised against the stand-in in
// kms-standin.test.ts, which signs digests as AWS does.

import { createHash, verify } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CreateAliasCommand, type KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { KmsSigner } from '../../api/ca/signers/kms-signer';
import { openCaSigner } from '../../api/ca/signers';
import { startMotoKms, type MotoKms } from '../support/moto-kms';
import { expectVerifiableChain } from './chain';

let motoKms: MotoKms;
let kms: KMSClient;

beforeAll(async () => {
  motoKms = await startMotoKms();
  kms = motoKms.kms;
});
afterAll(() => motoKms?.stop());

const createKey = (...args: Parameters<MotoKms['createKey']>) => motoKms.createKey(...args);

test('a moto KMS key signs a CA and a host certificate that openssl verifies; nothing is written to the data directory', async () => {
  const key = await createKey();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kms-data-'));
  const signer = await openCaSigner(`awskms:${key.id}`, { dataDir, kmsClient: kms });
  // AWS answers GetPublicKey with the key's ARN, moto with its ID: either is what the signer names.
  expect([`awskms ${key.arn} (${key.id})`, `awskms ${key.id}`]).toContain(signer.describe());
  await expectVerifiableChain(signer);
  expect(fs.readdirSync(dataDir)).toEqual([]);
  fs.rmSync(dataDir, { recursive: true });
  await signer.close();
  await expect(signer.sign(Buffer.from('x'))).rejects.toThrow(/closed/);
});

test('by alias and by ARN; the running signer keeps the key the alias named at start', async () => {
  const key = await createKey();
  await kms.send(new CreateAliasCommand({ AliasName: 'alias/joinery-ca-test', TargetKeyId: key.id }));
  const byAlias = await KmsSigner.open({ keyId: 'alias/joinery-ca-test', client: kms });
  expect([key.arn, key.id].map((k) => `awskms ${k} (alias/joinery-ca-test)`)).toContain(byAlias.describe());
  const byArn = await KmsSigner.open({ keyId: key.arn, client: kms });
  expect(byArn.publicKey.export({ format: 'jwk' })).toEqual(byAlias.publicKey.export({ format: 'jwk' }));
  const data = Buffer.from('same key');
  expect(verify('sha256', data, { key: byArn.publicKey, dsaEncoding: 'der' }, await byAlias.sign(data))).toBe(true);
});

test('what moto 5.2.1 signs for MessageType=DIGEST: the digest hashed again (AWS signs the digest as given)', async () => {
  const key = await createKey();
  const signer = await KmsSigner.open({ keyId: key.id, client: kms });
  const message = Buffer.from('a TBSCertificate');
  const digest = createHash('sha256').update(message).digest();
  const out = await kms.send(new SignCommand({ KeyId: key.id, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' }));
  const signature = Buffer.from(out.Signature!);
  // If moto is fixed, this fails: then DIGEST can be tested against moto too.
  expect(verify('sha256', message, { key: signer.publicKey, dsaEncoding: 'der' }, signature)).toBe(false);
  expect(verify('sha256', digest, { key: signer.publicKey, dsaEncoding: 'der' }, signature)).toBe(true);
});

test('a TBS larger than KMS takes as RAW goes as DIGEST, and a wrong signature is caught, not issued', async () => {
  const key = await createKey();
  const signer = await KmsSigner.open({ keyId: key.id, client: kms });
  // moto double-hashes DIGEST messages: the signer's own verification refuses the result.
  await expect(signer.sign(Buffer.alloc(5000, 1))).rejects.toThrow(/\(DIGEST\) returned a signature the CA's public key does not verify; nothing was issued/);
});

test('refuses keys the CA cannot sign with, and says why', async () => {
  const p384 = await createKey('ECC_NIST_P384');
  await expect(KmsSigner.open({ keyId: p384.id, client: kms })).rejects.toThrow(/EC key on secp384r1; the cluster CA needs an EC P-256 key|does not sign with ECDSA_SHA_256/);
  const rsa = await createKey('RSA_2048');
  await expect(KmsSigner.open({ keyId: rsa.id, client: kms })).rejects.toThrow(/does not sign with ECDSA_SHA_256|needs an EC P-256 key/);
  await expect(KmsSigner.open({ keyId: 'alias/nothing-here', client: kms })).rejects.toThrow(/kms:GetPublicKey failed: KMS key alias\/nothing-here does not exist/);
});
