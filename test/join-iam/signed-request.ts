// Builds real SigV4-signed join bodies with the agent's own code, for tests to tamper with.

import { generateKeyPairSync } from 'node:crypto';
import { prepareIamJoin, type AwsCredentials } from '../../cli/agent/iam';

export const TEST_CREDENTIALS: AwsCredentials = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };

export function newPublicKeyPem(): string {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
}

export interface JoinBody {
  token_name: string;
  role: string;
  challenge: string;
  sts_request: { method: string; url: string; headers: [string, string][]; body: string };
  public_key: string;
}

/** A join body signed over `challenge` (no server involved). */
export async function signedJoinBody(opts: { challenge: string; region?: string; credentials?: AwsCredentials; tokenName?: string; role?: string }): Promise<JoinBody> {
  const client = { post: async <T>() => ({ challenge: opts.challenge, expires: new Date(Date.now() + 60_000).toISOString() }) as T };
  const prepared = await prepareIamJoin({
    client,
    tokenName: opts.tokenName ?? 'iam-token',
    role: opts.role ?? 'Node',
    publicKeyPem: newPublicKeyPem(),
    region: opts.region,
    credentials: opts.credentials ?? TEST_CREDENTIALS,
    env: {},
  });
  return prepared.body as unknown as JoinBody;
}

export function setHeader(headers: [string, string][], name: string, value: string): [string, string][] {
  return headers.map(([n, v]) => (n.toLowerCase() === name.toLowerCase() ? [n, value] : [n, v]));
}

export function withoutHeader(headers: [string, string][], name: string): [string, string][] {
  return headers.filter(([n]) => n.toLowerCase() !== name.toLowerCase());
}
