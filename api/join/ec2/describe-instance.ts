// Asks EC2 whether the instance in a verified identity document exists and is running. The server's
// own credentials come from the standard AWS SDK chain (environment, shared files, instance role);
// for a foreign account the allow rule names a role to assume first. AWS_ENDPOINT_URL,
// AWS_ENDPOINT_URL_EC2 and AWS_ENDPOINT_URL_STS are honoured by the SDK (tests point them at moto).

import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { JoinError } from '../errors';

interface AwsCredentialIdentity {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}
type AwsCredentialIdentityProvider = () => Promise<AwsCredentialIdentity>;

export interface InstanceQuery {
  region: string;
  accountId: string;
  instanceId: string;
  /** Role to assume before calling DescribeInstances (the allow rule's aws_role). */
  roleArn?: string;
}

export interface InstanceLookup {
  /** The instance's state name (running, stopped, ...), or undefined when EC2 does not know it. */
  instanceState(q: InstanceQuery): Promise<string | undefined>;
}

const ROLE_SESSION_NAME = 'joinery-ec2-join';
const ASSUMED_ROLE_SECONDS = 3600;
/** Assumed credentials are replaced this long before they expire. */
const REFRESH_BEFORE_EXPIRY_MS = 5 * 60_000;
const REQUEST_HANDLER = { connectionTimeout: 5_000, requestTimeout: 15_000 };
const MAX_ATTEMPTS = 3;

const THROTTLING = new Set(['Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'TooManyRequestsException', 'RequestThrottled', 'RequestThrottledException', 'SlowDown', 'PriorRequestNotComplete']);
const DENIED = new Set(['UnauthorizedOperation', 'AccessDenied', 'AccessDeniedException', 'AuthFailure', 'InvalidClientTokenId', 'ExpiredToken', 'ExpiredTokenException', 'SignatureDoesNotMatch', 'UnrecognizedClientException', 'OptInRequired', 'Blocked']);
const NOT_FOUND = new Set(['InvalidInstanceID.NotFound', 'InvalidInstanceID.Malformed']);

function errorName(err: unknown): string {
  const e = err as { name?: string; Code?: string; code?: string };
  return e?.Code ?? e?.name ?? e?.code ?? 'Error';
}

function errorText(err: unknown): string {
  return String((err as Error)?.message ?? err).replace(/\s+/g, ' ').slice(0, 300);
}

/** Maps an AWS SDK failure to a refusal the operator can act on. Exported for tests. */
export function awsJoinError(err: unknown, stage: 'assume_role' | 'describe', q: InstanceQuery): JoinError {
  const name = errorName(err);
  const where = `account ${q.accountId} region ${q.region}`;
  if (THROTTLING.has(name)) {
    return new JoinError('aws_throttled', `AWS throttled ${stage === 'assume_role' ? 'sts:AssumeRole' : 'ec2:DescribeInstances'} for ${where} (${name}); retry the join shortly`, 429);
  }
  if (name === 'CredentialsProviderError') {
    return new JoinError('aws_credentials_unavailable', `the server has no AWS credentials to check the instance with (${errorText(err)}); give it credentials through the standard AWS SDK chain (environment, shared config or an instance role)`);
  }
  if (stage === 'assume_role') {
    return new JoinError('aws_assume_role_failed', `the server could not assume ${q.roleArn} to check instances in ${where} (${name}: ${errorText(err)}); the role must trust the server's account and the server's credentials need sts:AssumeRole on it`);
  }
  if (DENIED.has(name)) {
    return new JoinError('aws_access_denied', `AWS refused ec2:DescribeInstances in ${where}${q.roleArn ? ` as ${q.roleArn}` : ''} (${name}); attach the teleport-DescribeInstances-policy to ${q.roleArn ? 'that role' : "the server's credentials"}`);
  }
  return new JoinError('aws_request_failed', `ec2:DescribeInstances for ${q.instanceId} in ${where} failed (${name}: ${errorText(err)})`);
}

interface CachedCredentials {
  credentials: AwsCredentialIdentity;
  expiresAt: number;
}

export class AwsInstanceLookup implements InstanceLookup {
  private readonly baseCredentials: AwsCredentialIdentityProvider;
  /** Assumed-role credentials keyed by account and role; a pending promise dedupes concurrent joins. */
  private readonly assumed = new Map<string, Promise<CachedCredentials>>();
  private readonly ec2Clients = new Map<string, EC2Client>();

  constructor(private readonly opts: { now?: () => number; baseCredentials?: AwsCredentialIdentityProvider } = {}) {
    this.baseCredentials = opts.baseCredentials ?? fromNodeProviderChain();
  }

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  private ec2(region: string, credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider, key: string): EC2Client {
    let client = this.ec2Clients.get(key);
    if (!client) {
      client = new EC2Client({ region, credentials, maxAttempts: MAX_ATTEMPTS, requestHandler: REQUEST_HANDLER });
      this.ec2Clients.set(key, client);
    }
    return client;
  }

  /** Credentials for the role, from the cache while they have more than a few minutes left. */
  async roleCredentials(q: InstanceQuery & { roleArn: string }): Promise<AwsCredentialIdentity> {
    const key = `${q.accountId}|${q.roleArn}`;
    const cached = this.assumed.get(key);
    if (cached) {
      const hit = await cached.catch(() => undefined);
      if (hit && hit.expiresAt - REFRESH_BEFORE_EXPIRY_MS > this.now()) return hit.credentials;
      if (this.assumed.get(key) === cached) this.assumed.delete(key);
    }
    let pending = this.assumed.get(key);
    if (!pending) {
      pending = this.assumeRole(q);
      this.assumed.set(key, pending);
      // A failure is not cached: the next join tries again.
      pending.catch(() => {
        if (this.assumed.get(key) === pending) this.assumed.delete(key);
      });
    }
    return (await pending).credentials;
  }

  private async assumeRole(q: InstanceQuery & { roleArn: string }): Promise<CachedCredentials> {
    // STS in the instance's region: it is in the role's partition (aws, aws-cn, aws-us-gov).
    const sts = new STSClient({ region: q.region, credentials: this.baseCredentials, maxAttempts: MAX_ATTEMPTS, requestHandler: REQUEST_HANDLER });
    try {
      const out = await sts.send(new AssumeRoleCommand({ RoleArn: q.roleArn, RoleSessionName: ROLE_SESSION_NAME, DurationSeconds: ASSUMED_ROLE_SECONDS }));
      const c = out.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey) throw Object.assign(new Error('AssumeRole returned no credentials'), { name: 'NoCredentials' });
      const expiresAt = c.Expiration ? c.Expiration.getTime() : this.now() + ASSUMED_ROLE_SECONDS * 1000;
      return { credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration }, expiresAt };
    } catch (err) {
      throw awsJoinError(err, 'assume_role', q);
    } finally {
      sts.destroy();
    }
  }

  async instanceState(q: InstanceQuery): Promise<string | undefined> {
    let client: EC2Client;
    let temporary = false;
    if (q.roleArn) {
      const creds = await this.roleCredentials({ ...q, roleArn: q.roleArn });
      client = new EC2Client({ region: q.region, credentials: creds, maxAttempts: MAX_ATTEMPTS, requestHandler: REQUEST_HANDLER });
      temporary = true;
    } else {
      client = this.ec2(q.region, this.baseCredentials, q.region);
    }
    try {
      const out = await client.send(new DescribeInstancesCommand({ InstanceIds: [q.instanceId] }));
      for (const reservation of out.Reservations ?? []) {
        // Instance IDs are unique across AWS; a reservation of another account is not this instance.
        if (reservation.OwnerId && reservation.OwnerId !== q.accountId) continue;
        const instance = (reservation.Instances ?? []).find((i) => i.InstanceId === q.instanceId);
        if (instance) return instance.State?.Name ?? 'unknown';
      }
      return undefined;
    } catch (err) {
      if (NOT_FOUND.has(errorName(err))) return undefined;
      if (err instanceof JoinError) throw err;
      throw awsJoinError(err, 'describe', q);
    } finally {
      if (temporary) client.destroy();
    }
  }
}
