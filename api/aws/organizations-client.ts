// The two AWS Organizations calls the IAM join needs (DescribeAccount, ListParents), made with
// @aws-sdk/client-organizations and the server's own credentials from the standard SDK chain.
// Organizations is a global service with one endpoint per partition: the SDK picks it from the
// partition's home region, and honours AWS_ENDPOINT_URL_ORGANIZATIONS / AWS_ENDPOINT_URL itself.
// Callers see OrganizationsApi and failures named as AWS names them, so the join's refusals do
// not depend on the SDK.

import { DescribeAccountCommand, ListParentsCommand, OrganizationsClient } from '@aws-sdk/client-organizations';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { awsRequestHandler } from './request-handler';

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

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}
type CredentialsProvider = () => Promise<Credentials>;

/** The region whose endpoint serves the partition (the SDK's endpoint rules map it to the host). */
const PARTITION_REGIONS: Record<string, string> = {
  aws: 'us-east-1',
  'aws-us-gov': 'us-gov-west-1',
  'aws-cn': 'cn-northwest-1',
  'aws-iso': 'us-iso-east-1',
  'aws-iso-b': 'us-isob-east-1',
};

/** Both answers are a few hundred bytes; anything near this is not Organizations. */
const MAX_ANSWER_BYTES = 1 << 20;

export interface OrganizationsClientOptions {
  credentials?: CredentialsProvider | Credentials;
  /** Overrides the partition's endpoint (tests); otherwise the SDK's, or AWS_ENDPOINT_URL_ORGANIZATIONS / AWS_ENDPOINT_URL. */
  endpoint?: string;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
}

export class AwsOrganizationsClient implements OrganizationsApi {
  private readonly credentials: CredentialsProvider;
  private readonly clients = new Map<string, OrganizationsClient>();

  constructor(private readonly opts: OrganizationsClientOptions = {}) {
    const given = opts.credentials ?? fromNodeProviderChain();
    const provider: CredentialsProvider = typeof given === 'function' ? given : async () => given;
    this.credentials = async () => {
      try {
        return await provider();
      } catch (err) {
        // The credential chain found nothing (or a provider failed): no request is sent.
        throw new OrganizationsApiError('CredentialsProviderError', String((err as Error)?.message ?? err));
      }
    };
  }

  private client(partition: string): OrganizationsClient {
    let client = this.clients.get(partition);
    if (!client) {
      const region = PARTITION_REGIONS[partition];
      if (!region) throw new OrganizationsApiError('UnknownPartition', `no AWS Organizations endpoint is known for partition ${partition}`);
      client = new OrganizationsClient({
        region,
        credentials: this.credentials,
        ...(this.opts.endpoint ? { endpoint: this.opts.endpoint } : {}),
        // A join waits for this answer: the caller retries the join, not the server the call.
        maxAttempts: 1,
        requestHandler: awsRequestHandler({
          connectionTimeout: this.opts.connectionTimeoutMs ?? 5_000,
          requestTimeout: this.opts.requestTimeoutMs ?? 10_000,
          maxResponseBytes: MAX_ANSWER_BYTES,
        }),
      });
      this.clients.set(partition, client);
    }
    return client;
  }

  async describeAccount(partition: string, accountId: string): Promise<DescribedAccount> {
    const out = await this.call('DescribeAccount', () => this.client(partition).send(new DescribeAccountCommand({ AccountId: accountId })));
    const account = out.Account;
    if (!account || typeof account.Arn !== 'string' || typeof account.Id !== 'string') {
      throw new OrganizationsApiError('InvalidResponse', 'DescribeAccount answered without Account.Id and Account.Arn');
    }
    const paths = Array.isArray(account.Paths) ? account.Paths.filter((p): p is string => typeof p === 'string') : undefined;
    return { id: account.Id, arn: account.Arn, paths: paths && paths.length > 0 ? paths : undefined };
  }

  async listParents(partition: string, childId: string): Promise<OrganizationParent[]> {
    const out = await this.call('ListParents', () => this.client(partition).send(new ListParentsCommand({ ChildId: childId })));
    return (out.Parents ?? []).filter((p) => typeof p?.Id === 'string' && typeof p?.Type === 'string').map((p) => ({ id: p.Id!, type: p.Type! }));
  }

  private async call<T>(operation: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (err) {
      throw asApiError(operation, err);
    }
  }

  destroy(): void {
    for (const c of this.clients.values()) c.destroy();
    this.clients.clear();
  }
}

/** An SDK failure as the join's refusals know it: AWS's error name, or what kept the call from AWS. */
function asApiError(operation: string, err: unknown): OrganizationsApiError {
  if (err instanceof OrganizationsApiError) return err;
  const e = err as Error & { $fault?: string; $response?: unknown; $metadata?: { httpStatusCode?: number } };
  const message = String(e?.message ?? err).replace(/\s+/g, ' ').slice(0, 300);
  const status = e?.$metadata?.httpStatusCode;
  // A modelled or unmodelled AWS error: the SDK names it from the answer (namespace prefix removed).
  if (e?.$fault) return new OrganizationsApiError(e.name, message || `HTTP ${status}`, status);
  if (e?.name === 'TimeoutError') return new OrganizationsApiError('TimeoutError', `${operation}: ${message}`);
  if (e?.name === 'ResponseTooLarge' || e?.$response !== undefined) return new OrganizationsApiError('InvalidResponse', `${operation} answered with a body that could not be read: ${message}`, status);
  return new OrganizationsApiError('NetworkingError', `${operation} could not reach AWS Organizations: ${message}`);
}
