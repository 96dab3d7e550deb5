// Opens the CA signer a CA key setting names (see spec.ts). `file` without a path means the
// data directory's ca.key; creating that key on first start stays with the CA (api/ca/ca.ts).

import * as path from 'node:path';
import { FileSigner } from './file-signer';
import { KmsSigner, type KmsSignerOptions } from './kms-signer';
import { Pkcs11Signer } from './pkcs11-signer';
import type { KeyServicePacing } from './retry';
import type { CaSigner } from './signer';
import { parseCaKeySpec, type CaKeySpec } from './spec';

export { CA_SIGNING_ALGORITHM, type CaSigner } from './signer';
export { CA_KEY_SETTING, parseCaKeySpec, type CaKeySpec } from './spec';
export { signCertificate } from './certificate';

export interface OpenCaSignerOptions {
  /** Where `file` finds ca.key. */
  dataDir: string;
  /** The setting's name for error messages (JOINERY_CA_KEY or --ca-key). */
  setting?: string;
  pacing?: Partial<KeyServicePacing>;
  /** For tests and stand-ins: the KMS client to use. */
  kmsClient?: KmsSignerOptions['client'];
}

export async function openCaSigner(spec: string | CaKeySpec | undefined, opts: OpenCaSignerOptions): Promise<CaSigner> {
  const parsed = typeof spec === 'object' ? spec : parseCaKeySpec(spec, opts.setting);
  switch (parsed.kind) {
    case 'file':
      return FileSigner.open(parsed.path ?? path.join(opts.dataDir, 'ca.key'));
    case 'awskms':
      return KmsSigner.open({ keyId: parsed.keyId, region: parsed.region, client: opts.kmsClient, pacing: opts.pacing });
    case 'pkcs11':
      return Pkcs11Signer.open({ uri: parsed.uri, pacing: opts.pacing });
  }
}
