// The CA key as a PKCS#8 file (today's <data-dir>/ca.key): read once, refused when others can
// read it, signed with node:crypto. The key is in the process's memory; KMS or PKCS#11 keep it out.

import { createPrivateKey, createPublicKey, createSign, type KeyObject } from 'node:crypto';
import { readSecretFile } from './secret-file';
import { CA_SIGNING_ALGORITHM, CaSigningError, requireP256, type CaSigner } from './signer';

export class FileSigner implements CaSigner {
  readonly algorithm = CA_SIGNING_ALGORITHM;
  readonly publicKey: KeyObject;
  private key?: KeyObject;

  private constructor(
    private readonly file: string,
    key: KeyObject,
  ) {
    this.key = key;
    this.publicKey = createPublicKey(key);
  }

  /** Opens an existing key file; the CA creates it (0600) on first start. */
  static open(file: string): FileSigner {
    const pem = readSecretFile(file, 'the CA key');
    let key: KeyObject;
    try {
      key = createPrivateKey(pem);
    } catch (err) {
      throw new Error(`${file} is not a PEM or DER private key: ${(err as Error).message}`, { cause: err });
    }
    return new FileSigner(file, requireP256(key, file));
  }

  sign(tbs: Buffer): Promise<Buffer> {
    try {
      return Promise.resolve(this.signSync([tbs]));
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /**
   * The signature at once, over data in pieces (a CRL's pages): a join signs in microseconds
   * here, and the CA skips the promise and the copy for the key it holds itself.
   */
  signSync(chunks: readonly Buffer[]): Buffer {
    if (!this.key) throw new CaSigningError(`the CA signer for ${this.file} is closed`);
    const signer = createSign('sha256');
    for (const chunk of chunks) signer.update(chunk);
    return signer.sign({ key: this.key, dsaEncoding: 'der' });
  }

  describe(): string {
    return `file ${this.file}`;
  }

  close(): Promise<void> {
    this.key = undefined;
    return Promise.resolve();
  }
}
