// The agent's IMDSv2 client, on the AWS SDK's MetadataService (session token flow, retries with
// backoff). The endpoint is resolved here, synchronously, as the AWS SDKs resolve it: an explicit
// endpoint, else AWS_EC2_METADATA_SERVICE_ENDPOINT, else the address of
// AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE (IPv4 or IPv6). MetadataService itself reads only the
// endpoint variable, so without this the IPv6 mode would be silently ignored.

import type { MetadataService } from '@aws-sdk/ec2-metadata-service';

export const IMDS_ENDPOINTS = { IPv4: 'http://169.254.169.254', IPv6: 'http://[fd00:ec2::254]' } as const;
export const DEFAULT_IMDS_ENDPOINT = IMDS_ENDPOINTS.IPv4;

/** Short: the token is used at once, for the two reads of one join. */
const TOKEN_TTL_SECONDS = 300;
/** Per connection and per request: off EC2, 169.254.169.254 does not answer at all. */
const TIMEOUT_MS = 2_000;
const RETRIES = 3;

export class ImdsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImdsError';
  }
}

export interface ImdsOptions {
  endpoint?: string;
  /** IPv4 or IPv6 (any case); used only when no endpoint is given. */
  endpointMode?: string;
  /** Retries after a failed request (MetadataService's default policy is 3). */
  retries?: number;
  /** Seconds between retries, or a function of the failure count (MetadataService's backoff). */
  backoff?: number | ((failures: number) => number);
  timeoutMs?: number;
}

/** The endpoint the client talks to, refusing anything that is not an http(s) origin. */
export function resolveImdsEndpoint(opts: ImdsOptions = {}, env: NodeJS.ProcessEnv = {}): string {
  const explicit = opts.endpoint || env.AWS_EC2_METADATA_SERVICE_ENDPOINT;
  if (!explicit) {
    const mode = opts.endpointMode || env.AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE || 'IPv4';
    const known = (Object.keys(IMDS_ENDPOINTS) as (keyof typeof IMDS_ENDPOINTS)[]).find((m) => m.toLowerCase() === mode.toLowerCase());
    if (!known) throw new ImdsError(`AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE must be IPv4 or IPv6 (got ${JSON.stringify(mode)})`);
    return IMDS_ENDPOINTS[known];
  }
  const endpoint = explicit.replace(/\/+$/, '');
  let url: URL | undefined;
  try {
    url = new URL(endpoint);
  } catch {
    url = undefined;
  }
  if (!url || !['http:', 'https:'].includes(url.protocol) || url.pathname !== '/' || url.search || url.hash || url.username) {
    throw new ImdsError(`AWS_EC2_METADATA_SERVICE_ENDPOINT must be an http(s) URL such as http://169.254.169.254 (got ${JSON.stringify(explicit)})`);
  }
  return endpoint;
}

export class ImdsClient {
  readonly endpoint: string;
  private readonly opts: ImdsOptions;
  private service?: Promise<MetadataService>;

  constructor(opts: string | ImdsOptions = {}, env: NodeJS.ProcessEnv = {}) {
    this.opts = typeof opts === 'string' ? { endpoint: opts } : opts;
    this.endpoint = resolveImdsEndpoint(this.opts, env);
  }

  static fromEnv(env: NodeJS.ProcessEnv = process.env, opts: Omit<ImdsOptions, 'endpoint' | 'endpointMode'> = {}): ImdsClient {
    return new ImdsClient(opts, env);
  }

  private metadataService(): Promise<MetadataService> {
    // Loaded on first use: only the ec2 join method needs the SDK.
    return (this.service ??= import('@aws-sdk/ec2-metadata-service').then(
      ({ MetadataService }) =>
        new MetadataService({
          endpoint: this.endpoint,
          // IMDSv2 only: a failed token request is an error, never a fallback to unauthenticated reads.
          ec2MetadataV1Disabled: true,
          tokenTtl: TOKEN_TTL_SECONDS,
          retries: this.opts.retries ?? RETRIES,
          backoff: this.opts.backoff,
          httpOptions: { timeout: this.opts.timeoutMs ?? TIMEOUT_MS },
        }),
    ));
  }

  async get(path: string): Promise<string> {
    const service = await this.metadataService();
    try {
      // MetadataService appends the path to the endpoint's own path, which is always "/" here.
      return await service.request(path.replace(/^\/+/, ''), { method: 'GET' });
    } catch (e) {
      const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status !== undefined) throw new ImdsError(`instance metadata GET ${path} at ${this.endpoint} answered ${status}`);
      throw new ImdsError(
        `cannot reach the EC2 instance metadata service at ${this.endpoint} (${(e as Error).message}); the ec2 join method only works on an EC2 instance with IMDSv2 reachable`,
      );
    }
  }
}
