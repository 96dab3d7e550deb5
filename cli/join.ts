// `joinery join`: prove this host's identity with the chosen method, get a certificate signed by
// the cluster CA, and keep key, certificate and CA in the data directory.

import { generateKeyPairSync, type X509Certificate } from 'node:crypto';
import * as path from 'node:path';
import { ApiError, JoineryClient, type IssuedCertificate } from '../client/api-client';
import { checkIssuedCertificate } from '../client/trust';
import { UsageError, type FlagSpec, type Parsed } from './args';
import { readTrustedHostFile } from './agent/config';
import { agentReport } from './agent/report';
import { checkDataDir, prepareIdentityDir, writeIdentity, type Identity, type Warn } from './agent/identity';
import { hasHostProver, hostProverMethods, loadHostProver, type PreparedJoin } from './agent/provers';
import { formatFlag, str, trustFrom } from './common';
import { out, terminalValue } from './output';

export const JOIN_FLAGS: FlagSpec = {
  method: { kind: 'string', arg: '<method>', help: `${hostProverMethods().join(', ')} (default token)` },
  token: { kind: 'string', arg: '<name>', help: 'the join token (JOINERY_JOIN_TOKEN)' },
  role: { kind: 'string', arg: '<role>', help: 'the role to join with (default Node)' },
  server: { kind: 'string', arg: '<host:port>', help: 'the Joinery API (JOINERY_ADDR)' },
  'ca-pin': { kind: 'string', arg: '<sha256:hex>', help: "the cluster CA's pin, from `joinery status` (JOINERY_CA_PIN)" },
  'ca-file': { kind: 'string', arg: '<file>', help: 'the cluster CA as a PEM file (JOINERY_CA_FILE)' },
  insecure: { kind: 'boolean', help: 'do not verify the server (development only)' },
  'data-dir': { kind: 'string', arg: '<dir>', help: 'where to write key, certificate and CA (JOINERY_AGENT_DATA_DIR; default ./agent-data)' },
  'host-id': { kind: 'string', arg: '<id>', help: 'ec2: must equal <account>-<instance id>' },
  region: { kind: 'string', arg: '<region>', help: 'iam: the regional STS endpoint (default AWS_REGION, else the global one)' },
  ...formatFlag('text'),
  'dry-run': { kind: 'boolean', help: 'send the real proof, print how the server evaluates it, admit nothing and write nothing (exit 1 when it would be refused)' },
};

export interface JoinSettings {
  method: string;
  tokenName: string;
  role: string;
  dataDir: string;
  hostId?: string;
  region?: string;
  /** Replace the identity in the data directory (a re-join after the certificate lapsed). */
  replaceExisting?: boolean;
  signal?: AbortSignal;
  /** The agent's clock (injectable in tests). */
  now?: () => number;
  /** Where a warning about the data directory goes (a mode it repaired); stderr by default. */
  warn?: Warn;
}

export type JoinOutcome =
  | { joined: true; hostId: string; certificate: X509Certificate }
  | { joined: false; existing: Identity };

/** The methods this host can join with: those with a prover (cli/agent/provers.ts). */
export function isJoinMethod(method: string): boolean {
  return hasHostProver(method);
}

export function joinMethods(): string[] {
  return hostProverMethods();
}

/**
 * One join attempt: a new key, the method's proof, the server's certificate checked against the
 * key and the trusted CA, then key, certificate and CA written together. Shared by `joinery join`
 * and the agent.
 */
/** The method's join request with a fresh (throw-away) key: what `join --dry-run` sends. */
export async function prepareJoin(client: JoineryClient, s: Pick<JoinSettings, 'method' | 'tokenName' | 'role' | 'hostId' | 'region'>): Promise<PreparedJoin> {
  if (!isJoinMethod(s.method)) throw new UsageError(`method must be one of ${joinMethods().join(', ')} (got ${s.method})`);
  const publicKeyPem = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
  return (await loadHostProver(s.method)).prepare({ client, tokenName: s.tokenName, role: s.role, publicKeyPem, hostId: s.hostId, region: s.region });
}

export async function joinHost(client: JoineryClient, s: JoinSettings): Promise<JoinOutcome> {
  if (!isJoinMethod(s.method)) throw new UsageError(`method must be one of ${joinMethods().join(', ')} (got ${s.method})`);
  // Refuse a data directory with another identity before contacting anyone; for ec2 the host ID
  // is only known from the identity document, so that check follows the IMDS read.
  // The data directory's path and modes are checked (and a loose mode repaired) first of all.
  prepareIdentityDir(s.dataDir, { warn: s.warn });
  const prover = await loadHostProver(s.method);
  if (!s.replaceExisting && !prover.hostIdFromProof) checkDataDir(s.dataDir, undefined, s.warn);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const prepared = await prover.prepare({ client, tokenName: s.tokenName, role: s.role, publicKeyPem, hostId: s.hostId, region: s.region });
  if (prepared.expectedHostId && !s.replaceExisting) {
    const same = checkDataDir(s.dataDir, prepared.expectedHostId, s.warn);
    if (same) return { joined: false, existing: same };
  }
  const res = await client.post<IssuedCertificate>(prepared.path, { ...prepared.body, ...agentReport() }, { signal: s.signal });
  const certificate = checkIssuedCertificate({
    certPem: res.certificate,
    publicKeyPem,
    trustedCaPem: await client.trustedCa(),
    returnedCaPems: Array.isArray(res.ca_certificates) ? res.ca_certificates : [],
    now: new Date(s.now ? s.now() : Date.now()),
  });
  if (s.signal?.aborted) throw new ApiError(0, 'aborted', 'stopped before writing the new identity');
  writeIdentity(s.dataDir, {
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    certPem: res.certificate,
    caPem: res.ca_certificates.join(''),
    identity: { host_id: res.host_id, join_method: s.method, role: s.role, server: client.origin, joined_at: new Date(s.now ? s.now() : Date.now()).toISOString() },
  }, s.warn);
  return { joined: true, hostId: res.host_id, certificate };
}

export async function join(p: Parsed, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const method = str(p, 'method') ?? 'token';
  const tokenName = str(p, 'token') ?? env.JOINERY_JOIN_TOKEN;
  const role = str(p, 'role') ?? 'Node';
  const server = str(p, 'server') ?? env.JOINERY_ADDR;
  const dataDir = path.resolve(str(p, 'data-dir') ?? env.JOINERY_AGENT_DATA_DIR ?? './agent-data');
  if (!isJoinMethod(method)) throw new UsageError(`--method must be one of ${joinMethods().join(', ')} (got ${method})`);
  if (!tokenName) throw new UsageError('join needs --token NAME');
  if (!server) throw new UsageError('join needs --server HOST:PORT');

  const trust = trustFrom(p, env);
  // The CA file decides whom this host trusts: held to the agent's rules for its configuration.
  if (trust.caFile) readTrustedHostFile(path.resolve(trust.caFile), 'CA file');
  const client = new JoineryClient({ addr: server, ...trust });
  if (p.flags['dry-run'] === true) return (await import('./tokens-test')).joinDryRun(p, client, { method, tokenName, role, hostId: str(p, 'host-id'), region: str(p, 'region') });
  const outcome = await joinHost(client, { method, tokenName, role, dataDir, hostId: str(p, 'host-id'), region: str(p, 'region') });
  if (!outcome.joined) {
    // The host ID comes from a file or the server: printed as text that cannot act on a terminal.
    out(`${dataDir} already holds the identity of this host (${terminalValue(outcome.existing.host_id)}); nothing to do`);
    return 0;
  }
  out(`joined as ${terminalValue(outcome.hostId)} (role ${role}, method ${method}); identity written to ${dataDir}`);
  return 0;
}
