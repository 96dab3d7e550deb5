// Runs moto_server (pip install 'moto[server]') on a free loopback port for a test file, and gives
// AWS clients pointed at it. Fails loudly when moto_server is missing: CI installs it.

import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { Sha256 } from '@aws-crypto/sha256-js';
import { DescribeInstancesCommand, EC2Client, RunInstancesCommand, StopInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { SignatureV4 } from '@smithy/signature-v4';

/** moto's account for the default credentials. */
export const MOTO_DEFAULT_ACCOUNT = '123456789012';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface Moto {
  endpoint: string;
  port: number;
  credentials: AwsCredentials;
  /** Environment for a child process (the server) to reach moto with the SDK's standard variables. */
  env: Record<string, string>;
  output(): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts moto_server with `env` added to its environment (e.g. MOTO_ENABLE_IAM_LOAD_MANAGED_POLICIES,
 * INITIAL_NO_AUTH_ACTION_COUNT for auth mode). The binary is MOTO_SERVER_BIN or `moto_server`.
 */
export async function startMoto(opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<Moto> {
  const bin = process.env.MOTO_SERVER_BIN || 'moto_server';
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  let out = '';
  const child: ChildProcess = spawn(bin, ['-H', '127.0.0.1', '-p', String(port)], { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  let exitCode: number | null | undefined;
  let spawnError: Error | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code) => {
      exitCode = code;
      resolve();
    });
    child.once('error', (e) => {
      spawnError = e;
      exitCode = -1;
      resolve();
    });
  });

  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    if (spawnError) {
      throw new Error(`cannot start ${bin} (${spawnError.message}); install it with: pip install 'moto[server]' (or set MOTO_SERVER_BIN)`);
    }
    if (exitCode !== undefined) throw new Error(`${bin} exited with ${exitCode} before it was ready:\n${out}`);
    try {
      const res = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`${bin} did not answer on ${endpoint} within the timeout:\n${out}`);
      }
      await new Promise((r) => setTimeout(r, 150));
    }
  }

  const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };
  let stopped = false;
  return {
    endpoint,
    port,
    credentials,
    env: {
      AWS_ENDPOINT_URL: endpoint,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_REGION: 'us-east-1',
      // Never fall through to a real instance role.
      AWS_EC2_METADATA_DISABLED: 'true',
    },
    output: () => out,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (exitCode === undefined) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

export function ec2Client(moto: Moto, region: string, credentials: AwsCredentials = moto.credentials): EC2Client {
  return new EC2Client({ region, endpoint: moto.endpoint, credentials, maxAttempts: 1 });
}

export function stsClient(moto: Moto, region = 'us-east-1', credentials: AwsCredentials = moto.credentials): STSClient {
  return new STSClient({ region, endpoint: moto.endpoint, credentials, maxAttempts: 1 });
}

/** Credentials of an assumed role; moto creates resources of these credentials in the role's account. */
export async function assumeRole(moto: Moto, roleArn: string, credentials: AwsCredentials = moto.credentials): Promise<AwsCredentials> {
  const sts = stsClient(moto, 'us-east-1', credentials);
  try {
    const out = await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'joinery-test' }));
    const c = out.Credentials!;
    return { accessKeyId: c.AccessKeyId!, secretAccessKey: c.SecretAccessKey!, sessionToken: c.SessionToken };
  } finally {
    sts.destroy();
  }
}

/** Calls an IAM Query API action (there is no IAM client in the dependencies), signed with SigV4. */
export async function iamCall(moto: Moto, action: string, params: Record<string, string>, credentials: AwsCredentials = moto.credentials): Promise<string> {
  const body = new URLSearchParams({ Action: action, Version: '2010-05-08', ...params }).toString();
  const url = new URL(moto.endpoint);
  const signer = new SignatureV4({ service: 'iam', region: 'us-east-1', credentials, sha256: Sha256 });
  const signed = await signer.sign({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: '/',
    headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body,
  });
  const headers = { ...signed.headers } as Record<string, string>;
  delete headers.host; // fetch sets the same value itself
  const res = await fetch(`${moto.endpoint}/`, { method: 'POST', headers, body });
  const text = await res.text();
  if (!res.ok) throw new Error(`IAM ${action} failed with ${res.status}: ${text}`);
  return text;
}

/** Creates a role trusting `trustedAccount`, in the account of `credentials`; returns its ARN. */
export async function createRole(moto: Moto, opts: { roleName: string; accountId: string; trustedAccount: string; credentials?: AwsCredentials }): Promise<string> {
  const trust = JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${opts.trustedAccount}:root` }, Action: 'sts:AssumeRole' }],
  });
  const xml = await iamCall(moto, 'CreateRole', { RoleName: opts.roleName, AssumeRolePolicyDocument: trust }, opts.credentials);
  const arn = /<Arn>([^<]+)<\/Arn>/.exec(xml)?.[1];
  if (!arn) throw new Error(`CreateRole answered without an ARN: ${xml}`);
  if (!arn.includes(`::${opts.accountId}:`)) throw new Error(`role ${arn} was created outside account ${opts.accountId}`);
  return arn;
}

export interface LaunchedInstance {
  instanceId: string;
  accountId: string;
  region: string;
  launchTime: Date;
}

export async function runInstance(moto: Moto, region: string, credentials: AwsCredentials = moto.credentials): Promise<LaunchedInstance> {
  const ec2 = ec2Client(moto, region, credentials);
  try {
    const out = await ec2.send(new RunInstancesCommand({ ImageId: 'ami-12c6146b', MinCount: 1, MaxCount: 1, InstanceType: 't3.micro' }));
    const inst = out.Instances![0];
    return { instanceId: inst.InstanceId!, accountId: out.OwnerId!, region, launchTime: inst.LaunchTime ?? new Date() };
  } finally {
    ec2.destroy();
  }
}

export async function instanceState(moto: Moto, inst: LaunchedInstance, credentials: AwsCredentials = moto.credentials): Promise<string | undefined> {
  const ec2 = ec2Client(moto, inst.region, credentials);
  try {
    const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [inst.instanceId] }));
    return out.Reservations?.[0]?.Instances?.[0]?.State?.Name;
  } finally {
    ec2.destroy();
  }
}

export async function stopInstance(moto: Moto, inst: LaunchedInstance, credentials: AwsCredentials = moto.credentials): Promise<void> {
  const ec2 = ec2Client(moto, inst.region, credentials);
  try {
    await ec2.send(new StopInstancesCommand({ InstanceIds: [inst.instanceId] }));
  } finally {
    ec2.destroy();
  }
}

export async function terminateInstance(moto: Moto, inst: LaunchedInstance, credentials: AwsCredentials = moto.credentials): Promise<void> {
  const ec2 = ec2Client(moto, inst.region, credentials);
  try {
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [inst.instanceId] }));
  } finally {
    ec2.destroy();
  }
}
