// The two AWS Organizations calls the IAM join needs (DescribeAccount, ListParents), made with the
// server's own credentials from the standard SDK chain. @aws-sdk/client-organizations is not a
// dependency, so this speaks the service's JSON 1.1 protocol directly: the request is signed by
// the SDK's own SigV4 signer and sent by the SDK's Node handler, whose HTTPS agent is the egress
// proxy when HTTPS_PROXY / NO_PROXY say so. Swapping in the SDK client later only changes this
// file: callers see OrganizationsApi.

import { Sha256 } from '@aws-crypto/sha256-js';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { HttpRequest } from '@smithy/core/protocols';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { proxyAgentFor } from './egress-proxy';

export interface DescribedAccount {
  id: string;
  /** arn:<partition>:organizations::<management account>:account/<o-id>/<account id> */
  arn: string;
  /** o-id/r-id/ou-id/.../account-id/ paths, when AWS returns them (newer API versions). */
  paths?: string[];
}

export interface OrganizationParent {
  id: string;
  /** ROOT or ORGANIZATIONAL_UNIT. */
  type: string;
}

export interface OrganizationsApi {
  describeAccount(partition: string, accountId: string): Promise<DescribedAccount>;
  listParents(partition: string, childId: string): Promise<OrganizationParent[]>;
}

/** An AWS failure, named as AWS names it (AccountNotFoundException, TooManyRequestsException, ...). */
export class OrganizationsApiError extends Error {
  constructor(
    public readonly code: string,
    message: string,
    public readonly status?: number,
  ) {
    super(message);
    this.name = code;
  }
}

const TARGET_PREFIX = 'AWSOrganizationsV20161128';
const MAX_ANSWER_BYTES = 1 << 20;

/** Organizations is a global service with one endpoint per partition. */
const PARTITION_ENDPOINTS: Record<string, { url: string; region: string }> = {
  aws: { url: 'https://organizations.us-east-1.amazonaws.com', region: 'us-east-1' },
  'aws-us-gov': { url: 'https://organizations.us-gov-west-1.amazonaws.com', region: 'us-gov-west-1' },
  'aws-cn': { url: 'https://organizations.cn-northwest-1.amazonaws.com.cn', region: 'cn-northwest-1' },
  'aws-iso': { url: 'https://organizations.us-iso-east-1.c2s.ic.gov', region: 'us-iso-east-1' },
  'aws-iso-b': { url: 'https://organizations.us-isob-east-1.sc2s.sgov.gov', region: 'us-isob-east-1' },
};

export interface OrganizationsClientOptions {
  credentials?: AwsCredentialIdentityProvider | AwsCredentialIdentity;
  /** Overrides the partition's endpoint; default AWS_ENDPOINT_URL_ORGANIZATIONS or AWS_ENDPOINT_URL, as the SDK reads them. */
  endpoint?: string;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export class AwsOrganizationsClient implements OrganizationsApi {
  private readonly credentials: AwsCredentialIdentityProvider | AwsCredentialIdentity;
  private readonly handlers = new Map<string, NodeHttpHandler>();

  constructor(private readonly opts: OrganizationsClientOptions = {}) {
    this.credentials = opts.credentials ?? fromNodeProviderChain();
  }

  private endpointFor(partition: string): { url: URL; region: string } {
    const env = this.opts.env ?? process.env;
    const known = PARTITION_ENDPOINTS[partition];
    if (!known) throw new OrganizationsApiError('UnknownPartition', `no AWS Organizations endpoint is known for partition ${partition}`);
    const override = this.opts.endpoint ?? env.AWS_ENDPOINT_URL_ORGANIZATIONS ?? env.AWS_ENDPOINT_URL;
    return { url: new URL(override || known.url), region: known.region };
  }

  private handlerFor(url: URL): NodeHttpHandler {
    let handler = this.handlers.get(url.origin);
    if (!handler) {
      const agent = url.protocol === 'https:' ? proxyAgentFor(url.href) : undefined;
      handler = new NodeHttpHandler({
        connectionTimeout: this.opts.connectionTimeoutMs ?? 5_000,
        requestTimeout: this.opts.requestTimeoutMs ?? 10_000,
        ...(agent ? { httpsAgent: agent as never } : {}),
      });
      this.handlers.set(url.origin, handler);
    }
    return handler;
  }

  /** One signed call of any Organizations operation (the join uses two; tests set moto up with others). */
  async send(partition: string, operation: string, input: Record<string, unknown>): Promise<Record<string, unknown>> {
    const { url, region } = this.endpointFor(partition);
    const body = JSON.stringify(input);
    const request = new HttpRequest({
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      method: 'POST',
      path: url.pathname || '/',
      headers: {
        host: url.host,
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': `${TARGET_PREFIX}.${operation}`,
        'content-length': String(Buffer.byteLength(body)),
      },
      body,
    });
    let signed: HttpRequest;
    try {
      const signer = new SignatureV4({ service: 'organizations', region, credentials: this.credentials, sha256: Sha256 });
      signed = (await signer.sign(request)) as HttpRequest;
    } catch (err) {
      // The credential chain found nothing (or a provider failed): no request was sent.
      throw new OrganizationsApiError('CredentialsProviderError', String((err as Error)?.message ?? err));
    }
    let status: number;
    let text: string;
    try {
      const { response } = await this.handlerFor(url).handle(signed);
      status = response.statusCode;
      text = await readBounded(response.body as NodeJS.ReadableStream | undefined);
    } catch (err) {
      const e = err as Error;
      throw new OrganizationsApiError(e.name === 'TimeoutError' ? 'TimeoutError' : 'NetworkingError', `${operation} could not reach ${url.host}: ${e.message}`);
    }
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      throw new OrganizationsApiError('InvalidResponse', `${operation} answered ${status} with a body that is not JSON`, status);
    }
    const obj = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
    if (status !== 200) {
      // JSON 1.1 errors name their type in __type, possibly prefixed with a namespace and '#'.
      const type = String(obj.__type ?? obj.code ?? `Http${status}`).split('#').pop()!.split(':')[0];
      const message = String(obj.message ?? obj.Message ?? '').slice(0, 300);
      throw new OrganizationsApiError(type || `Http${status}`, message || `HTTP ${status}`, status);
    }
    return obj;
  }

  async describeAccount(partition: string, accountId: string): Promise<DescribedAccount> {
    const out = await this.send(partition, 'DescribeAccount', { AccountId: accountId });
    const account = out.Account as Record<string, unknown> | undefined;
    if (!account || typeof account.Arn !== 'string' || typeof account.Id !== 'string') {
      throw new OrganizationsApiError('InvalidResponse', 'DescribeAccount answered without Account.Id and Account.Arn');
    }
    const paths = Array.isArray(account.Paths) ? account.Paths.filter((p): p is string => typeof p === 'string') : undefined;
    return { id: account.Id, arn: account.Arn, paths: paths && paths.length > 0 ? paths : undefined };
  }

  async listParents(partition: string, childId: string): Promise<OrganizationParent[]> {
    const out = await this.send(partition, 'ListParents', { ChildId: childId });
    const parents = Array.isArray(out.Parents) ? out.Parents : [];
    return parents
      .filter((p): p is { Id: string; Type: string } => typeof p?.Id === 'string' && typeof p?.Type === 'string')
      .map((p) => ({ id: p.Id, type: p.Type }));
  }

  destroy(): void {
    for (const h of this.handlers.values()) h.destroy();
    this.handlers.clear();
  }
}

async function readBounded(stream: NodeJS.ReadableStream | undefined): Promise<string> {
  if (!stream) return '';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buf.length;
    if (size > MAX_ANSWER_BYTES) {
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      throw new Error(`answer larger than ${MAX_ANSWER_BYTES} bytes`);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}
