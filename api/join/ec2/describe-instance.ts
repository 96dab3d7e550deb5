// Asks EC2 whether the instance in a verified identity document exists and is running. The server's
// own credentials come from the standard AWS SDK chain (environment, shared files, instance role);
// for a foreign account the allow rule names a role to assume first. AWS_ENDPOINT_URL,
// AWS_ENDPOINT_URL_EC2 and AWS_ENDPOINT_URL_STS are honoured by the SDK (tests point them at moto),
// HTTPS_PROXY / NO_PROXY by the request handler (api/aws/request-handler.ts).
// Concurrent lookups share DescribeInstances calls (describe-batch.ts), paced per account and region.

import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { awsRequestHandler } from '../../aws/request-handler';
import { DEFAULT_EC2_DESCRIBE_PER_SECOND, DEFAULT_EC2_THROTTLE_WAIT_MS } from '../../config';
import { JoinError } from '../errors';
import { refuse } from '../refusals';
import { DescribeInstancesBatcher, MAX_FILTER_VALUES, type BatchKey, type DescribedInstance, type DescribePage } from './describe-batch';
import type { Clock } from './describe-pacer';

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
  /** The instance's state and tags from the same (batched) DescribeInstances answer. */
  describeInstance(q: InstanceQuery): Promise<DescribedInstance | undefined>;
}

const ROLE_SESSION_NAME = 'joinery-ec2-join';
const ASSUMED_ROLE_SECONDS = 3600;
/** Assumed credentials are replaced this long before they expire. */
const REFRESH_BEFORE_EXPIRY_MS = 5 * 60_000;
const REQUEST_HANDLER = { connectionTimeout: 5_000, requestTimeout: 15_000 };
const MAX_ATTEMPTS = 3;
/** Largest page DescribeInstances returns when asked with filters. */
const PAGE_SIZE = 1000;

const THROTTLING = new Set(['Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'TooManyRequestsException', 'RequestThrottled', 'RequestThrottledException', 'SlowDown', 'PriorRequestNotComplete']);
const DENIED = new Set(['UnauthorizedOperation', 'AccessDenied', 'AccessDeniedException', 'AuthFailure', 'InvalidClientTokenId', 'ExpiredToken', 'ExpiredTokenException', 'SignatureDoesNotMatch', 'UnrecognizedClientException', 'OptInRequired', 'Blocked']);
const NOT_FOUND = new Set(['InvalidInstanceID.NotFound', 'InvalidInstanceID.Malformed']);

const TRANSIENT = new Set(['InternalError', 'InternalFailure', 'ServiceUnavailable', 'Unavailable', 'RequestTimeout', 'RequestTimeoutException', 'TimeoutError', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE']);

function isTransient(err: unknown): boolean {
  if (err instanceof JoinError) return false;
  const status = (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  return TRANSIENT.has(errorName(err)) || (status !== undefined && status >= 500);
}

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
    return refuse('aws_throttled', `AWS throttled ${stage === 'assume_role' ? 'sts:AssumeRole' : 'ec2:DescribeInstances'} for ${where} (${name}); retry the join shortly`);
  }
  if (name === 'CredentialsProviderError') {
    return refuse('aws_credentials_unavailable', `the server has no AWS credentials to check the instance with (${errorText(err)}); give it credentials through the standard AWS SDK chain (environment, shared config or an instance role)`);
  }
  if (stage === 'assume_role') {
    return refuse('aws_assume_role_failed', `the server could not assume ${q.roleArn} to check instances in ${where} (${name}: ${errorText(err)}); the role must trust the server's account and the server's credentials need sts:AssumeRole on it`);
  }
  if (DENIED.has(name)) {
    return refuse('aws_access_denied', `AWS refused ec2:DescribeInstances in ${where}${q.roleArn ? ` as ${q.roleArn}` : ''} (${name}); attach the teleport-DescribeInstances-policy to ${q.roleArn ? 'that role' : "the server's credentials"}`);
  }
  return refuse('aws_request_failed', `ec2:DescribeInstances for ${q.instanceId} in ${where} failed (${name}: ${errorText(err)})`);
}

interface CachedCredentials {
  credentials: AwsCredentialIdentity;
  expiresAt: number;
}

export interface AwsInstanceLookupOptions {
  now?: () => number;
  baseCredentials?: AwsCredentialIdentityProvider;
  /** Timers for batching, pacing and backoff (tests move it by hand). Defaults to real time and `now`. */
  clock?: Clock;
  random?: () => number;
  /** Defaults to JOINERY_EC2_THROTTLE_WAIT_MS (ServerConfig.ec2ThrottleWaitMs). */
  throttleWaitMs?: number;
  /** Defaults to JOINERY_EC2_DESCRIBE_RATE (ServerConfig.ec2DescribePerSecond). */
  describePerSecond?: number;
  windowMs?: number;
}

export class AwsInstanceLookup implements InstanceLookup {
  private readonly baseCredentials: AwsCredentialIdentityProvider;
  /** Assumed-role credentials keyed by account and role; a pending promise dedupes concurrent joins. */
  private readonly assumed = new Map<string, Promise<CachedCredentials>>();
  private readonly ec2Clients = new Map<string, EC2Client>();
  private readonly batcher: DescribeInstancesBatcher;
  private settings?: { throttleWaitMs: number; describePerSecond: number };

  constructor(private readonly opts: AwsInstanceLookupOptions = {}) {
    this.baseCredentials = opts.baseCredentials ?? fromNodeProviderChain();
    this.batcher = new DescribeInstancesBatcher({
      describePage: (key, ids, nextToken) => this.describePage(key, ids, nextToken),
      isThrottling: (err) => !(err instanceof JoinError) && THROTTLING.has(errorName(err)),
      isTransient,
      throttleWaitMs: () => this.configured().throttleWaitMs,
      callsPerSecond: () => this.configured().describePerSecond,
      clock: opts.clock,
      random: opts.random,
      windowMs: opts.windowMs,
    });
  }

  /** The settings, from the server's configuration (startServer passes them) or the defaults loadConfig has. */
  private configured(): { throttleWaitMs: number; describePerSecond: number } {
    this.settings ??= {
      throttleWaitMs: this.opts.throttleWaitMs ?? DEFAULT_EC2_THROTTLE_WAIT_MS,
      describePerSecond: this.opts.describePerSecond ?? DEFAULT_EC2_DESCRIBE_PER_SECOND,
    };
    return this.settings;
  }

  private now(): number {
    if (this.opts.now) return this.opts.now();
    return this.opts.clock ? this.opts.clock.now() : Date.now();
  }

  /** One client per region (own credentials) or per region, account and role (assumed credentials). */
  private ec2(key: BatchKey): EC2Client {
    const id = `${key.region}|${key.accountId}|${key.roleArn ?? ''}`;
    let client = this.ec2Clients.get(id);
    if (!client) {
      const roleArn = key.roleArn;
      const credentials = roleArn ? () => this.roleCredentials({ ...key, instanceId: '', roleArn }) : this.baseCredentials;
      // The batcher retries throttling and transient failures itself, inside its bounded wait.
      client = new EC2Client({ region: key.region, credentials, maxAttempts: 1, requestHandler: awsRequestHandler(REQUEST_HANDLER) });
      this.ec2Clients.set(id, client);
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
    const sts = new STSClient({ region: q.region, credentials: this.baseCredentials, maxAttempts: MAX_ATTEMPTS, requestHandler: awsRequestHandler(REQUEST_HANDLER) });
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

  private async describePage(key: BatchKey, ids: string[], nextToken?: string): Promise<DescribePage> {
    if (ids.length > MAX_FILTER_VALUES) throw new Error(`at most ${MAX_FILTER_VALUES} instance IDs per DescribeInstances call`);
    // Assume the role first, so its failure is a refusal of its own (and the client's provider hits the cache).
    if (key.roleArn) await this.roleCredentials({ ...key, instanceId: ids[0], roleArn: key.roleArn });
    const out = await this.ec2(key).send(
      new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: ids }], MaxResults: PAGE_SIZE, NextToken: nextToken }),
    );
    const states = new Map<string, string>();
    const tags = new Map<string, Record<string, string>>();
    for (const reservation of out.Reservations ?? []) {
      // Instance IDs are unique across AWS; a reservation of another account is not this instance.
      if (reservation.OwnerId && reservation.OwnerId !== key.accountId) continue;
      for (const instance of reservation.Instances ?? []) {
        if (!instance.InstanceId) continue;
        states.set(instance.InstanceId, instance.State?.Name ?? 'unknown');
        tags.set(instance.InstanceId, Object.fromEntries((instance.Tags ?? []).filter((t) => t.Key !== undefined).map((t) => [t.Key!, t.Value ?? ''])));
      }
    }
    return { states, tags, nextToken: out.NextToken || undefined };
  }

  async instanceState(q: InstanceQuery): Promise<string | undefined> {
    return (await this.describeInstance(q))?.state;
  }

  async describeInstance(q: InstanceQuery): Promise<DescribedInstance | undefined> {
    try {
      return await this.batcher.describe({ region: q.region, accountId: q.accountId, roleArn: q.roleArn }, q.instanceId);
    } catch (err) {
      if (err instanceof JoinError) throw err;
      if (NOT_FOUND.has(errorName(err))) return undefined;
      throw awsJoinError(err, 'describe', q);
    }
  }
}
