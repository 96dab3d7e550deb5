// moto for a test file's KMS keys: a client pointed at it, and ECC_NIST_P256 SIGN_VERIFY keys (or
// others, to be refused) made on demand.

import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { startMoto, type Moto } from './moto';

export interface MotoKms {
  moto: Moto;
  kms: KMSClient;
  createKey(keySpec?: 'ECC_NIST_P256' | 'ECC_NIST_P384' | 'RSA_2048', usage?: 'SIGN_VERIFY' | 'ENCRYPT_DECRYPT'): Promise<{ id: string; arn: string }>;
  stop(): Promise<void>;
}

export async function startMotoKms(): Promise<MotoKms> {
  const moto = await startMoto();
  const kms = new KMSClient({ region: 'us-east-1', endpoint: moto.endpoint, credentials: moto.credentials, maxAttempts: 1 });
  return {
    moto,
    kms,
    async createKey(keySpec = 'ECC_NIST_P256', usage = 'SIGN_VERIFY') {
      const out = await kms.send(new CreateKeyCommand({ KeySpec: keySpec, KeyUsage: usage }));
      return { id: out.KeyMetadata!.KeyId!, arn: out.KeyMetadata!.Arn! };
    },
    async stop() {
      kms.destroy();
      await moto.stop();
    },
  };
}
