// An in-process server with a clock the test moves, and an HTTPS client that can present a host
// certificate, for the certificate lifecycle suites.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { loadConfig } from '../../api/config';
import { startServer, type RunningServer, type StartOptions } from '../../api/server/server';

// api/version.ts reads package.json relative to dist/; from the sources that path does not exist.
jest.mock('../../api/version', () => ({ VERSION: '0.0.0-test' }));

export interface LifecycleServer {
  server: RunningServer;
  url: string;
  dataDir: string;
  adminToken: string;
  caPem: string;
  /** Moves the server's clock by ms (never the test's). */
  advance(ms: number): void;
  now(): Date;
  request(method: string, p: string, opts?: RequestOptions): Promise<Reply>;
  /** An admin JSON call; throws on a non-2xx answer. */
  admin<T>(method: string, p: string, body?: unknown): Promise<T>;
  stop(): Promise<void>;
}

export interface RequestOptions {
  body?: unknown;
  /** A client certificate and its key (PEM) for the TLS handshake. */
  cert?: string;
  key?: string;
  headers?: Record<string, string>;
  /** The CA certificates to trust instead of the CA of the server's start (after a CA rotation). */
  ca?: string;
  /** The highest TLS version the client offers (TLS 1.2 clients still exist: Go, curl builds, proxies). */
  maxVersion?: 'TLSv1.2' | 'TLSv1.3';
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json<T = any>(): T;
}

export async function startLifecycleServer(env: Record<string, string> = {}, opts: Pick<StartOptions, 'caSigner'> = {}): Promise<LifecycleServer> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-life-'));
  const adminToken = randomBytes(24).toString('hex');
  const config = loadConfig({ dataDir, listen: '127.0.0.1:0' }, { JOINERY_CLUSTER_NAME: 'life-cluster', JOINERY_ADMIN_TOKEN: adminToken, ...env });
  let offset = 0;
  const now = () => new Date(Date.now() + offset);
  const server = await startServer(config, { log: pino({ level: 'silent' }), now, ...opts });
  const caPem = server.ca.certPem;
  const request = (method: string, p: string, opts: RequestOptions = {}) => httpsRequest(`${server.url}${p}`, method, { ...opts, ca: opts.ca ?? caPem });
  return {
    server,
    url: server.url,
    dataDir,
    adminToken,
    caPem,
    advance: (ms) => void (offset += ms),
    now,
    request,
    async admin<T>(method: string, p: string, body?: unknown) {
      const r = await request(method, p, { body, headers: { authorization: `Bearer ${adminToken}` } });
      if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${r.body.toString()}`);
      return (r.body.length ? r.json() : undefined) as T;
    },
    async stop() {
      await server.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function httpsRequest(url: string, method: string, opts: RequestOptions & { ca: string }): Promise<Reply> {
  const payload = opts.body === undefined ? undefined : Buffer.from(typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body));
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method,
        ca: opts.ca,
        cert: opts.cert,
        key: opts.key,
        maxVersion: opts.maxVersion,
        // A fresh connection each time: a pooled one would carry another request's client certificate.
        agent: false,
        timeout: 15_000,
        headers: { ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}), ...opts.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body.toString()) });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(payload);
  });
}

export interface HostKey {
  publicPem: string;
  privatePem: string;
}

export function newHostKey(): HostKey {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return { publicPem: publicKey.export({ type: 'spki', format: 'pem' }) as string, privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

export interface Identity {
  host_id: string;
  certificate: string;
  ca_certificates: string[];
  expires_at: string;
  key: HostKey;
}

/** Creates a token-method token (if `token` is new) and joins with it. */
export async function joinWithToken(s: LifecycleServer, token: string, role = 'Node'): Promise<Identity> {
  const existing = await s.request('GET', `/v1/tokens/${encodeURIComponent(token)}`, { headers: { authorization: `Bearer ${s.adminToken}` } });
  if (existing.status === 404) await s.admin('POST', '/v1/tokens', { version: 'v2', metadata: { name: token }, spec: { roles: [role], join_method: 'token' } });
  const key = newHostKey();
  const r = await s.request('POST', '/v1/join/token', { body: { token_name: token, role, public_key: key.publicPem } });
  if (r.status !== 200) throw new Error(`join refused: ${r.status} ${r.body.toString()}`);
  return { ...r.json(), key };
}

/** POST /v1/renew presenting `id`'s certificate; `body` as given (undefined sends none). */
export function renew(s: LifecycleServer, id: Pick<Identity, 'certificate' | 'key'>, body?: unknown, opts: Pick<RequestOptions, 'maxVersion'> = {}): Promise<Reply> {
  return s.request('POST', '/v1/renew', { cert: id.certificate, key: id.key.privatePem, body, ...opts });
}
