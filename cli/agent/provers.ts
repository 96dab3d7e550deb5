// The host side of each join method: a "prover" turns what this host can show (nothing but the
// token's name, the EC2 identity document from IMDS, a signed sts:GetCallerIdentity) into the body
// of POST /v1/join/<method>. `joinery join`, `join --dry-run` and the agent pick one by the method's
// name here. Each loads its module only when a host joins with it (the AWS methods bring the SDK).
// A server-side method (api/join/methods.ts) whose host needs code adds one line here.

import type { JoineryClient } from '../../client/api-client';

export interface ProverContext {
  client: JoineryClient;
  tokenName: string;
  role: string;
  publicKeyPem: string;
  hostId?: string;
  region?: string;
}

export interface PreparedJoin {
  path: string;
  body: Record<string, unknown>;
  /** Known before joining for methods whose host ID follows from the proof (ec2). */
  expectedHostId?: string;
}

export interface HostProver {
  /** The host ID follows from the proof (ec2): an identity of the same host in the data directory means "already joined". */
  hostIdFromProof: boolean;
  prepare(ctx: ProverContext): Promise<PreparedJoin>;
}

const PROVERS: Record<string, () => Promise<HostProver>> = {
  token: async () => (await import('./token')).tokenProver,
  ec2: async () => (await import('./ec2')).ec2Prover,
  iam: async () => (await import('./iam')).iamProver,
};

export function hostProverMethods(): string[] {
  return Object.keys(PROVERS);
}

export function hasHostProver(method: string): boolean {
  return Object.prototype.hasOwnProperty.call(PROVERS, method);
}

/** The method's prover; `method` must be one of hostProverMethods(). */
export function loadHostProver(method: string): Promise<HostProver> {
  if (!hasHostProver(method)) throw new Error(`no host-side prover for join method ${method}`);
  return PROVERS[method]();
}
