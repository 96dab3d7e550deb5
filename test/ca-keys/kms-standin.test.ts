// The KMS signer against the loopback KMS stand-in (bench/kms-standin.js): throttling is paced
// and retried within the signer's wait budget, then surfaces; DIGEST messages (TBS over 4 KiB,
// e.g. a long CRL) are signed the way AWS signs them and verify.

import { KMSClient } from '@aws-sdk/client-kms';
import { verify, type KeyObject } from 'node:crypto';
import { KmsSigner } from '../../api/ca/signers/kms-signer';
import { expectVerifiableChain } from './chain';

interface StandIn {
  endpoint: string;
  keyId: string;
  keyArn: string;
  publicKey: KeyObject;
  stats: { getPublicKey: number; sign: number; throttled: number; raw: number; digest: number };
  throttleNext(n: number): void;
  failNext(...answers: Array<{ status: number; type: string; message: string }>): void;
  close(): Promise<void>;
}
const { startKmsStandIn } = require('../../bench/kms-standin') as { startKmsStandIn: (opts?: Record<string, unknown>) => Promise<StandIn> };

let standIn: StandIn;
let client: KMSClient;
beforeEach(async () => {
  standIn = await startKmsStandIn();
  client = new KMSClient({ region: 'us-east-1', endpoint: standIn.endpoint, credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 });
});
afterEach(async () => {
  client.destroy();
  await standIn.close();
});

test('certificates over the stand-in verify with openssl', async () => {
  const signer = await KmsSigner.open({ keyId: 'alias/joinery-ca', client });
  await expectVerifiableChain(signer);
  expect(standIn.stats.getPublicKey).toBe(1);
});

test('ThrottlingException answers are retried until KMS signs', async () => {
  const signer = await KmsSigner.open({ keyId: standIn.keyId, client, pacing: { maxWaitMs: 30_000 } });
  standIn.throttleNext(4);
  const data = Buffer.from('a burst of joins');
  const sig = await signer.sign(data);
  expect(verify('sha256', data, { key: standIn.publicKey, dsaEncoding: 'der' }, sig)).toBe(true);
  expect(standIn.stats.throttled).toBe(4);
  expect(standIn.stats.sign).toBe(5);
});

test('a burst against a KMS-like rate limit all signs, paced by the signer', async () => {
  await standIn.close();
  standIn = await startKmsStandIn({ burst: 5, refillPerSecond: 50 });
  client.destroy();
  client = new KMSClient({ region: 'us-east-1', endpoint: standIn.endpoint, credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 });
  const signer = await KmsSigner.open({ keyId: standIn.keyId, client, pacing: { callsPerSecond: 200 } });
  const data = Array.from({ length: 40 }, (_, i) => Buffer.from(`join ${i}`));
  const sigs = await Promise.all(data.map((d) => signer.sign(d)));
  sigs.forEach((sig, i) => expect(verify('sha256', data[i], { key: standIn.publicKey, dsaEncoding: 'der' }, sig)).toBe(true));
  expect(standIn.stats.throttled).toBeGreaterThan(0); // the stand-in did push back, and nothing failed
});

test('throttling beyond the wait budget surfaces as the KMS error', async () => {
  const signer = await KmsSigner.open({ keyId: standIn.keyId, client, pacing: { maxWaitMs: 300 } });
  standIn.throttleNext(1000);
  await expect(signer.sign(Buffer.from('x'))).rejects.toThrow(/kms:Sign failed: ThrottlingException: Rate exceeded/);
  expect(standIn.stats.sign).toBeLessThan(20);
});

test('a TBS over 4,096 bytes is signed as a SHA-256 DIGEST and verifies', async () => {
  const signer = await KmsSigner.open({ keyId: standIn.keyId, client });
  const big = Buffer.alloc(10_000, 0x5a);
  const sig = await signer.sign(big);
  expect(verify('sha256', big, { key: standIn.publicKey, dsaEncoding: 'der' }, sig)).toBe(true);
  expect(standIn.stats.digest).toBe(1);
  await signer.sign(Buffer.alloc(4096, 1));
  expect(standIn.stats.raw).toBe(1);
});

test('transient KMS failures are retried a few times; a refusal is not retried and says what to do', async () => {
  const signer = await KmsSigner.open({ keyId: standIn.keyId, client });
  standIn.failNext({ status: 500, type: 'KMSInternalException', message: 'internal' }, { status: 500, type: 'DependencyTimeoutException', message: 'timeout' });
  const data = Buffer.from('after two hiccups');
  expect(verify('sha256', data, { key: standIn.publicKey, dsaEncoding: 'der' }, await signer.sign(data))).toBe(true);
  expect(standIn.stats.sign).toBe(3);

  standIn.failNext(...Array.from({ length: 4 }, () => ({ status: 500, type: 'KMSInternalException', message: 'down' })));
  await expect(signer.sign(data)).rejects.toThrow(/kms:Sign failed: KMSInternalException: down/);
  expect(standIn.stats.sign).toBe(3 + 4); // the first try and three retries

  standIn.failNext({ status: 400, type: 'AccessDeniedException', message: 'not authorized' });
  const before = standIn.stats.sign;
  await expect(signer.sign(data)).rejects.toThrow(`kms:Sign failed: the server's AWS identity may not call kms:Sign on KMS key ${standIn.keyId}; allow kms:GetPublicKey and kms:Sign on it (key policy or IAM policy)`);
  expect(standIn.stats.sign).toBe(before + 1);

  standIn.failNext({ status: 400, type: 'DisabledException', message: 'disabled' });
  await expect(signer.sign(data)).rejects.toThrow(`kms:Sign failed: KMS key ${standIn.keyId} is disabled; enable it`);
});

test('a key named without a region, where the SDK finds none, says how to name one', async () => {
  const saved = { ...process.env };
  for (const k of ['AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_PROFILE']) delete process.env[k];
  process.env.AWS_CONFIG_FILE = '/nonexistent/config';
  process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/credentials';
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  try {
    await expect(KmsSigner.open({ keyId: 'alias/joinery-ca', pacing: { maxWaitMs: 100 } })).rejects.toThrow(
      'kms:GetPublicKey failed: no AWS region for KMS key alias/joinery-ca; name the key by its ARN (awskms:arn:aws:kms:<region>:…) or set AWS_REGION',
    );
  } finally {
    process.env = saved;
  }
});
