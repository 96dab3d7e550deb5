// `joinery join`: prove this host's identity with the chosen method, get a certificate signed by
// the cluster CA, and keep key, certificate and CA in the data directory.

import { generateKeyPairSync } from 'node:crypto';
import * as path from 'node:path';
import { JoineryClient } from '../client/api-client';
import { UsageError, type Parsed } from './args';
import { prepareEc2Join } from './agent/ec2';
import { prepareIamJoin } from './agent/iam';
import { checkDataDir, writeIdentity } from './agent/identity';
import { str, trustFrom } from './common';

export interface PreparedJoin {
  path: string;
  body: Record<string, unknown>;
  /** Known before joining for methods whose host ID follows from the proof (ec2). */
  expectedHostId?: string;
}

export interface JoinContext {
  client: JoineryClient;
  tokenName: string;
  role: string;
  publicKeyPem: string;
  hostId?: string;
  region?: string;
}

type Preparer = (ctx: JoinContext) => Promise<PreparedJoin>;

const PREPARERS: Record<string, () => Preparer> = {
  token: () => async (ctx) => ({ path: '/v1/join/token', body: { token_name: ctx.tokenName, role: ctx.role, public_key: ctx.publicKeyPem } }),
  ec2: () => (ctx) => prepareEc2Join({ tokenName: ctx.tokenName, role: ctx.role, publicKeyPem: ctx.publicKeyPem, hostId: ctx.hostId }),
  iam: () => (ctx) => prepareIamJoin({ client: ctx.client, tokenName: ctx.tokenName, role: ctx.role, publicKeyPem: ctx.publicKeyPem, region: ctx.region }),
};

/** Methods whose host ID follows from the proof, so an existing identity of the same host is fine. */
const HOST_ID_FROM_PROOF = new Set(['ec2']);

export async function join(p: Parsed, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const method = str(p, 'method') ?? 'token';
  const tokenName = str(p, 'token') ?? env.JOINERY_JOIN_TOKEN;
  const role = str(p, 'role') ?? 'Node';
  const server = str(p, 'server') ?? env.JOINERY_ADDR;
  const dataDir = path.resolve(str(p, 'data-dir') ?? env.JOINERY_AGENT_DATA_DIR ?? './agent-data');
  if (!PREPARERS[method]) throw new UsageError(`--method must be one of ${Object.keys(PREPARERS).join(', ')} (got ${method})`);
  if (!tokenName) throw new UsageError('join needs --token NAME');
  if (!server) throw new UsageError('join needs --server HOST:PORT');

  // Refuse a data directory with another identity before contacting anyone; for ec2 the host ID
  // is only known from the identity document, so that check follows the IMDS read.
  if (!HOST_ID_FROM_PROOF.has(method)) checkDataDir(dataDir);
  const client = new JoineryClient({ addr: server, ...trustFrom(p, env) });
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const prepared = await PREPARERS[method]()({ client, tokenName, role, publicKeyPem, hostId: str(p, 'host-id'), region: str(p, 'region') });
  if (prepared.expectedHostId) {
    const same = checkDataDir(dataDir, prepared.expectedHostId);
    if (same) {
      process.stdout.write(`${dataDir} already holds the identity of this host (${same.host_id}); nothing to do\n`);
      return 0;
    }
  }
  const res = await client.post<{ host_id: string; certificate: string; ca_certificates: string[] }>(prepared.path, prepared.body);
  writeIdentity(dataDir, {
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    certPem: res.certificate,
    caPem: res.ca_certificates.join(''),
    identity: { host_id: res.host_id, join_method: method, role, server: client.origin, joined_at: new Date().toISOString() },
  });
  process.stdout.write(`joined as ${res.host_id} (role ${role}, method ${method}); identity written to ${dataDir}\n`);
  return 0;
}

export function registerJoinMethod(method: string, preparer: () => Preparer): void {
  PREPARERS[method] = preparer;
}
