// The CA key in AWS KMS (an ECC_NIST_P256 SIGN_VERIFY key): kms:GetPublicKey once at start,
// kms:Sign for every certificate and CRL. The private key never leaves KMS, and every replica with
// kms:Sign on the key signs as the same CA.
//
// Message type: KMS signs up to 4,096 bytes as MessageType=RAW (it hashes them itself), which
// every TBSCertificate and small CRLs fit; larger CRLs go as MessageType=DIGEST with their SHA-256.
// RAW is the mode moto also implements correctly (moto 5.2.1 hashes a DIGEST message a second
// time), so the tests cover the common path against moto and the DIGEST path against a stand-in.
// Every signature is verified against the public key read at start: a signature by any other key
// (an alias moved, a stand-in that got DIGEST wrong) fails here, not in a host's TLS handshake.

import { createPublicKey, type KeyObject } from 'node:crypto';
import { GetPublicKeyCommand, KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { awsRequestHandler } from '../../aws/request-handler';
import { PacedCaller, type KeyServicePacing } from './retry';
import { CA_SIGNING_ALGORITHM, CaSigningError, requireP256, sha256, verifies, type CaSigner } from './signer';

/** kms:Sign takes at most this many bytes as a RAW message. */
export const KMS_RAW_MESSAGE_LIMIT = 4096;

const THROTTLING = new Set(['ThrottlingException', 'Throttling', 'TooManyRequestsException', 'RequestLimitExceeded', 'LimitExceededException']);
const TRANSIENT = new Set(['KMSInternalException', 'DependencyTimeoutException', 'InternalFailure', 'ServiceUnavailable', 'RequestTimeout', 'RequestTimeoutException', 'TimeoutError', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ECONNREFUSED']);

/**
 * Defaults: KMS's shared quota for ECC signing is 300 requests per second per account and region;
 * the CA takes a third of it, so other tools keep theirs and a join burst is paced, not refused.
 */
export const DEFAULT_KMS_PACING: KeyServicePacing = { callsPerSecond: 100, maxWaitMs: 30_000 };

function errorName(err: unknown): string {
  const e = err as { name?: string; Code?: string; code?: string };
  return e?.Code ?? e?.name ?? e?.code ?? 'Error';
}

function isTransient(err: unknown): boolean {
  const status = (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  return TRANSIENT.has(errorName(err)) || (status !== undefined && status >= 500);
}

/** An operator's reading of a KMS refusal: which key, which permission, what to do. */
function explain(err: unknown, action: string, key: string): Error {
  const name = errorName(err);
  const detail = String((err as Error)?.message ?? err).replace(/\s+/g, ' ').slice(0, 300);
  if (detail === 'Region is missing') {
    return new Error(`${action} failed: no AWS region for KMS key ${key}; name the key by its ARN (awskms:arn:aws:kms:<region>:…) or set AWS_REGION`, { cause: err });
  }
  const why: Record<string, string> = {
    NotFoundException: `KMS key ${key} does not exist in this region (or the alias points nowhere)`,
    AccessDeniedException: `the server's AWS identity may not call ${action} on KMS key ${key}; allow kms:GetPublicKey and kms:Sign on it (key policy or IAM policy)`,
    DisabledException: `KMS key ${key} is disabled; enable it`,
    KMSInvalidStateException: `KMS key ${key} cannot be used in its current state (pending deletion or import?)`,
    InvalidKeyUsageException: `KMS key ${key} is not a SIGN_VERIFY key`,
    CredentialsProviderError: 'the server has no AWS credentials for KMS; give it some through the standard AWS SDK chain (environment, shared config or an instance role)',
  };
  return new Error(`${action} failed: ${why[name] ?? `${name}: ${detail}`}`, { cause: err });
}

export interface KmsSignerOptions {
  /** A key ID, alias/<name>, or key or alias ARN. */
  keyId: string;
  /** Defaults to the ARN's region, else the SDK's (AWS_REGION, shared config). */
  region?: string;
  /** A client to use (tests, stand-ins); the signer destroys only clients it made. */
  client?: KMSClient;
  pacing?: Partial<KeyServicePacing>;
}

export class KmsSigner implements CaSigner {
  readonly algorithm = CA_SIGNING_ALGORITHM;
  private closed = false;

  private constructor(
    private readonly client: KMSClient,
    private readonly ownsClient: boolean,
    private readonly caller: PacedCaller,
    /** The key's ARN as KMS answered it: an alias moved later does not move a running CA. */
    private readonly keyArn: string,
    private readonly asGiven: string,
    readonly publicKey: KeyObject,
  ) {}

  static async open(opts: KmsSignerOptions): Promise<KmsSigner> {
    const client =
      opts.client ??
      new KMSClient({
        region: opts.region,
        // The paced caller retries throttling and transient failures itself, inside its budget.
        maxAttempts: 1,
        requestHandler: awsRequestHandler({ connectionTimeout: 5_000, requestTimeout: 10_000 }),
      });
    const caller = new PacedCaller({ ...DEFAULT_KMS_PACING, ...opts.pacing }, { isThrottling: (e) => THROTTLING.has(errorName(e)), isTransient });
    try {
      const out = await caller.call(() => client.send(new GetPublicKeyCommand({ KeyId: opts.keyId }))).catch((err: unknown) => {
        throw explain(err, 'kms:GetPublicKey', opts.keyId);
      });
      if (out.KeyUsage && out.KeyUsage !== 'SIGN_VERIFY') throw new Error(`KMS key ${opts.keyId} has KeyUsage ${out.KeyUsage}; the CA needs a SIGN_VERIFY key`);
      if (out.SigningAlgorithms && !out.SigningAlgorithms.includes('ECDSA_SHA_256')) {
        throw new Error(`KMS key ${opts.keyId} does not sign with ECDSA_SHA_256 (it offers ${out.SigningAlgorithms.join(', ') || 'nothing'}); the CA needs an ECC_NIST_P256 key`);
      }
      if (!out.PublicKey || !out.KeyId) throw new Error(`kms:GetPublicKey answered without a public key for ${opts.keyId}`);
      const publicKey = requireP256(createPublicKey({ key: Buffer.from(out.PublicKey), format: 'der', type: 'spki' }), `KMS key ${opts.keyId}`);
      return new KmsSigner(client, !opts.client, caller, out.KeyId, opts.keyId, publicKey);
    } catch (err) {
      if (!opts.client) client.destroy();
      throw err;
    }
  }

  async sign(tbs: Buffer): Promise<Buffer> {
    if (this.closed) throw new CaSigningError(`the CA signer for ${this.describe()} is closed`);
    const raw = tbs.length <= KMS_RAW_MESSAGE_LIMIT;
    const command = new SignCommand({
      KeyId: this.keyArn,
      SigningAlgorithm: 'ECDSA_SHA_256',
      MessageType: raw ? 'RAW' : 'DIGEST',
      Message: raw ? tbs : sha256(tbs),
    });
    const out = await this.caller.call(() => this.client.send(command)).catch((err: unknown) => {
      const explained = explain(err, 'kms:Sign', this.asGiven);
      throw new CaSigningError(explained.message, { cause: err });
    });
    if (!out.Signature) throw new CaSigningError(`kms:Sign answered without a signature for ${this.asGiven}`);
    const signature = Buffer.from(out.Signature);
    if (!verifies(tbs, this.publicKey, signature)) {
      throw new CaSigningError(`kms:Sign with ${this.keyArn} (${raw ? 'RAW' : 'DIGEST'}) returned a signature the CA's public key does not verify; nothing was issued`);
    }
    return signature;
  }

  describe(): string {
    return `awskms ${this.keyArn}${this.asGiven !== this.keyArn ? ` (${this.asGiven})` : ''}`;
  }

  close(): Promise<void> {
    this.closed = true;
    if (this.ownsClient) this.client.destroy();
    return Promise.resolve();
  }
}
