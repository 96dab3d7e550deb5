// Agent side of the ec2 join method: read the AWS-signed identity document from IMDSv2 and build
// the join request. The server trusts only the signed PKCS#7; the plain document is read here just
// to know the host ID (<accountId>-<instanceId>) before joining, so a data directory holding
// another host's identity is refused up front.

import { ImdsClient, ImdsError } from './imds';
import type { HostProver } from './provers';

export const EC2_JOIN_PATH = '/v1/join/ec2';

export interface Ec2JoinInput {
  tokenName: string;
  role: string;
  publicKeyPem: string;
  /** Optional: the server refuses it unless it equals <accountId>-<instanceId>. */
  hostId?: string;
  env?: NodeJS.ProcessEnv;
}

export interface PreparedEc2Join {
  path: typeof EC2_JOIN_PATH;
  body: Record<string, unknown>;
  expectedHostId: string;
}

/** Reads the identity document and its RSA-2048 PKCS#7 signature from IMDSv2. */
export async function readInstanceIdentity(imds: ImdsClient): Promise<{ document: Record<string, unknown>; rsa2048: string; hostId: string }> {
  const raw = await imds.get('/latest/dynamic/instance-identity/document');
  let document: Record<string, unknown>;
  try {
    document = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    throw new ImdsError('the instance identity document from IMDS is not JSON');
  }
  const { accountId, instanceId } = document;
  if (typeof accountId !== 'string' || typeof instanceId !== 'string') throw new ImdsError('the instance identity document from IMDS has no accountId/instanceId');
  // IMDS returns the base64 in lines; the server wants it in one piece.
  const rsa2048 = (await imds.get('/latest/dynamic/instance-identity/rsa2048')).replace(/\s+/g, '');
  if (!rsa2048) throw new ImdsError('IMDS returned an empty rsa2048 signature');
  return { document, rsa2048, hostId: `${accountId}-${instanceId}` };
}

export async function prepareEc2Join(input: Ec2JoinInput): Promise<PreparedEc2Join> {
  const imds = ImdsClient.fromEnv(input.env ?? process.env);
  const identity = await readInstanceIdentity(imds);
  const body: Record<string, unknown> = { token_name: input.tokenName, role: input.role, iid: identity.rsa2048, public_key: input.publicKeyPem };
  if (input.hostId) body.host_id = input.hostId;
  return { path: EC2_JOIN_PATH, body, expectedHostId: identity.hostId };
}

export const ec2Prover: HostProver = {
  hostIdFromProof: true,
  prepare: (ctx) => prepareEc2Join({ tokenName: ctx.tokenName, role: ctx.role, publicKeyPem: ctx.publicKeyPem, hostId: ctx.hostId }),
};
