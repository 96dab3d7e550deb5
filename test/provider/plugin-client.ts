// Starts terraform-provider-teleport exactly as Terraform's go-plugin client does (environment,
// handshake line on stdout, AutoMTLS with a client certificate) and gives a grpc-js client for
// tfplugin6.Provider and the go-plugin controller.

import { spawn, type ChildProcess } from 'node:child_process';
import { webcrypto, X509Certificate } from 'node:crypto';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import * as x509 from '@peculiar/x509';
import { encodeMsgpack } from '../../provider/cty';
import { PROVIDER_SCHEMA, schemaType } from '../../provider/schema';
import { REPO_ROOT, type TestServer } from '../support/server';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export const PROVIDER_BIN = path.join(REPO_ROOT, 'bin', 'terraform-provider-teleport');
export const MAGIC_COOKIE = 'd602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2';
const PROTO_DIR = path.join(REPO_ROOT, 'provider', 'proto');

/** A client certificate like go-plugin's: self-signed ECDSA P-521 for localhost, CA, client+server auth. */
export async function clientCertificate(): Promise<{ certPem: string; keyPem: string }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-521' } as const;
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01a2b3c4d5',
    name: 'CN=localhost, O=HashiCorp',
    notBefore: new Date(Date.now() - 30_000),
    notAfter: new Date(Date.now() + 3600_000),
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-512' },
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.keyAgreement | x509.KeyUsageFlags.keyCertSign),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth, x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'localhost' }]),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END PRIVATE KEY-----\n`;
  return { certPem: cert.toString('pem') + '\n', keyPem };
}

export interface Handshake {
  core: string;
  protocol: string;
  network: string;
  address: string;
  transport: string;
  serverCert?: X509Certificate;
}

export function parseHandshake(line: string): Handshake {
  const parts = line.trim().split('|');
  if (parts.length < 5) throw new Error(`bad handshake line ${JSON.stringify(line)}`);
  const h: Handshake = { core: parts[0], protocol: parts[1], network: parts[2], address: parts[3], transport: parts[4] };
  if (parts[5]) {
    if (parts[5].includes('=')) throw new Error('the certificate must be base64 without padding (Go RawStdEncoding)');
    h.serverCert = new X509Certificate(Buffer.from(parts[5], 'base64'));
  }
  return h;
}

type Rpc = (req: Record<string, unknown>) => Promise<any>;

export interface ProviderProcess {
  process: ChildProcess;
  handshake: Handshake;
  /** tfplugin6.Provider RPCs by name, promisified. */
  rpc: Record<string, Rpc>;
  shutdown(): Promise<void>;
  exited: Promise<number | null>;
  stderr(): string;
  close(): Promise<void>;
}

function loadDefinitions() {
  const opts: protoLoader.Options = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true };
  return {
    tf: grpc.loadPackageDefinition(protoLoader.loadSync(path.join(PROTO_DIR, 'tfplugin6.proto'), opts)) as any,
    plugin: grpc.loadPackageDefinition(protoLoader.loadSync(path.join(PROTO_DIR, 'go-plugin.proto'), opts)) as any,
  };
}

/** Runs the executable with the given environment until it prints its handshake line (or exits). */
export function spawnProvider(env: Record<string, string | undefined>): { child: ChildProcess; line: Promise<string>; exited: Promise<number | null>; output: () => { stdout: string; stderr: string } } {
  const clean: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(clean)) if (k.startsWith('JOINERY_') || k.startsWith('PLUGIN_') || k === 'TF_PLUGIN_MAGIC_COOKIE') delete clean[k];
  for (const [k, v] of Object.entries(env)) if (v !== undefined) clean[k] = v;
  const child = spawn(PROVIDER_BIN, [], { env: clean, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const line = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      stdout += d;
      const nl = stdout.indexOf('\n');
      if (nl >= 0) resolve(stdout.slice(0, nl));
    });
    void exited.then((code) => reject(new Error(`provider exited with ${code} before the handshake: ${stderr}`)));
  });
  line.catch(() => {}); // callers that expect an early exit never await the line
  return { child, line, exited, output: () => ({ stdout, stderr }) };
}

export async function startProvider(env: Record<string, string | undefined> = {}): Promise<ProviderProcess> {
  const { certPem, keyPem } = await clientCertificate();
  const spawned = spawnProvider({ TF_PLUGIN_MAGIC_COOKIE: MAGIC_COOKIE, PLUGIN_PROTOCOL_VERSIONS: '6', PLUGIN_MIN_PORT: '10000', PLUGIN_MAX_PORT: '25000', PLUGIN_CLIENT_CERT: certPem, ...env });
  const handshake = parseHandshake(await spawned.line);
  const defs = loadDefinitions();
  const creds = grpc.credentials.createSsl(Buffer.from(handshake.serverCert!.toString()), Buffer.from(keyPem), Buffer.from(certPem));
  // Like go-plugin: dial the address, verify the certificate for "localhost".
  const options = { 'grpc.ssl_target_name_override': 'localhost', 'grpc.default_authority': 'localhost' };
  const client = new defs.tf.tfplugin6.Provider(handshake.address, creds, options) as grpc.Client & Record<string, Function>; // eslint-disable-line @typescript-eslint/no-unsafe-function-type
  const controller = new defs.plugin.plugin.GRPCController(handshake.address, creds, options) as grpc.Client & Record<string, Function>; // eslint-disable-line @typescript-eslint/no-unsafe-function-type
  const rpc: Record<string, Rpc> = {};
  for (const name of Object.keys(defs.tf.tfplugin6.Provider.service)) {
    rpc[name] = (req) =>
      new Promise((resolve, reject) => client[name](req, { deadline: Date.now() + 30_000 }, (err: Error | null, res: unknown) => (err ? reject(err) : resolve(res))));
  }
  return {
    process: spawned.child,
    handshake,
    rpc,
    exited: spawned.exited,
    stderr: () => spawned.output().stderr,
    shutdown: () => new Promise((resolve, reject) => controller.Shutdown({}, (err: Error | null) => (err ? reject(err) : resolve()))),
    async close() {
      client.close();
      controller.close();
      if (spawned.child.exitCode === null) {
        spawned.child.kill('SIGKILL');
        await spawned.exited;
      }
    },
  };
}

/**
 * The provider started and configured for `server` from the environment only (addr, admin token
 * and CA pin), as CI would run it; fails on any configuration diagnostic.
 */
export async function startConfiguredProvider(server: Pick<TestServer, 'addr' | 'adminToken' | 'caPin'>): Promise<ProviderProcess> {
  const provider = await startProvider({ JOINERY_ADDR: server.addr, JOINERY_ADMIN_TOKEN: server.adminToken, JOINERY_CA_PIN: server.caPin });
  const config = encodeMsgpack({ addr: null, admin_token: null, ca_pin: null, ca_file: null, insecure: null }, schemaType(PROVIDER_SCHEMA));
  const res = await provider.rpc.ConfigureProvider({ terraform_version: '1.5.7', config: { msgpack: config } });
  if (res.diagnostics.length > 0) throw new Error(`ConfigureProvider: ${JSON.stringify(res.diagnostics)}`);
  return provider;
}
