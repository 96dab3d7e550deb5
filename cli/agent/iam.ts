// Agent side of the iam join: fetch a challenge, sign sts:GetCallerIdentity over it with this
// host's AWS credentials (the SDK's default chain: environment, shared config and AWS_PROFILE,
// container and instance roles), and hand the signed request to the server to forward to STS.
// No IAM policy is needed: every identity may call GetCallerIdentity.

import { Sha256 } from '@aws-crypto/sha256-js';
import { STSClient } from '@aws-sdk/client-sts';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { SignatureV4 } from '@smithy/signature-v4';
import { signingRegionForHost, stsHostForRegion } from '../../api/join/iam/sts-endpoints';
import { CHALLENGE_HEADER, GET_CALLER_IDENTITY_BODY } from '../../api/join/iam/sts-request';
import type { HostProver } from './provers';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface PrepareIamJoinOptions {
  client: { post<T>(path: string, body: unknown): Promise<T> };
  tokenName: string;
  role: string;
  publicKeyPem: string;
  /** Region whose STS endpoint to use; defaults to the AWS configuration, else the global endpoint. */
  region?: string;
  /** Defaults to the AWS SDK's default credential chain. */
  credentials?: AwsCredentials | (() => Promise<AwsCredentials>);
  /** Replaces the process environment (tests); shared AWS config files are then not read for the region. */
  env?: NodeJS.ProcessEnv;
}

/**
 * The configured region: AWS_REGION, AWS_DEFAULT_REGION, then (for the real process environment)
 * the shared config profile named by AWS_PROFILE.
 */
async function configuredRegion(env: NodeJS.ProcessEnv, readSharedConfig: boolean): Promise<string | undefined> {
  const fromEnv = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  if (fromEnv || !readSharedConfig) return fromEnv || undefined;
  const sts = new STSClient({});
  try {
    // The SDK's own region chain reads ~/.aws/config (AWS_CONFIG_FILE) for the profile.
    return (await sts.config.region()) || undefined;
  } catch {
    return undefined; // none configured: the global endpoint
  } finally {
    sts.destroy();
  }
}

export async function prepareIamJoin(opts: PrepareIamJoinOptions): Promise<{ path: '/v1/join/iam'; body: Record<string, unknown> }> {
  const env = opts.env ?? process.env;
  const region = opts.region || (await configuredRegion(env, opts.env === undefined));
  const fips = /^true$/i.test(env.AWS_USE_FIPS_ENDPOINT ?? '');
  const host = stsHostForRegion(region, { fips });
  if (!host) {
    throw new Error(`region ${region} has no ${fips ? 'FIPS ' : ''}STS endpoint known to joinery; set --region (or AWS_REGION) to another region, or unset it to use sts.amazonaws.com`);
  }
  const credentials = opts.credentials ?? fromNodeProviderChain();
  let resolved: AwsCredentials;
  try {
    resolved = typeof credentials === 'function' ? await credentials() : credentials;
  } catch (e) {
    throw new Error(`no AWS credentials found (environment, AWS_PROFILE / shared config, or instance role): ${(e as Error).message}`, { cause: e });
  }

  const { challenge } = await opts.client.post<{ challenge: string; expires: string }>('/v1/join/iam/challenge', {});
  const signer = new SignatureV4({ credentials: resolved, region: signingRegionForHost(host), service: 'sts', sha256: Sha256, applyChecksum: false });
  const signed = await signer.sign({
    method: 'POST',
    protocol: 'https:',
    hostname: host,
    path: '/',
    query: {},
    headers: {
      host,
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      accept: 'application/json',
      [CHALLENGE_HEADER.toLowerCase()]: challenge,
    },
    body: GET_CALLER_IDENTITY_BODY,
  });
  return {
    path: '/v1/join/iam',
    body: {
      token_name: opts.tokenName,
      role: opts.role,
      challenge,
      sts_request: {
        method: 'POST',
        url: `https://${host}/`,
        headers: Object.entries(signed.headers).map(([k, v]) => [k, String(v)]),
        body: GET_CALLER_IDENTITY_BODY,
      },
      public_key: opts.publicKeyPem,
    },
  };
}

export const iamProver: HostProver = {
  hostIdFromProof: false,
  prepare: (ctx) => prepareIamJoin({ client: ctx.client, tokenName: ctx.tokenName, role: ctx.role, publicKeyPem: ctx.publicKeyPem, region: ctx.region }),
};
