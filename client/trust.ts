// How clients (CLI, agent, Terraform provider) decide to trust the API server: by the CA pin
// (`sha256:<hex of the CA's SubjectPublicKeyInfo>`, as `joinery status` prints it), by a CA file,
// or not at all with --insecure, which is for development only.

import { createHash, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';

export interface TrustOptions {
  caPin?: string;
  caFile?: string;
  insecure?: boolean;
}

export interface ResolvedTrust {
  /** PEM of the CA to verify the server against; undefined only when insecure. */
  ca?: string;
  insecure: boolean;
}

export const PIN_RE = /^sha256:[0-9a-f]{64}$/;

export function pinOf(cert: X509Certificate): string {
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

export function parseAddr(addr: string): { host: string; port: number; origin: string } {
  let rest = addr.trim();
  if (/^http:\/\//i.test(rest)) throw new Error(`${addr}: Joinery serves HTTPS only; use https:// or HOST:PORT`);
  rest = rest.replace(/^https:\/\//i, '').replace(/\/+$/, '');
  const m = /^(?:\[([^\]]+)\]|([^:/\s]+)):(\d{1,5})$/.exec(rest) ?? /^(?:\[([^\]]+)\]|([^:/\s]+))$/.exec(rest);
  if (!m) throw new Error(`invalid server address ${JSON.stringify(addr)}: expected HOST:PORT`);
  const host = m[1] ?? m[2];
  const port = m[3] ? Number(m[3]) : 3025;
  if (port < 1 || port > 65535) throw new Error(`invalid port in ${JSON.stringify(addr)}`);
  return { host, port, origin: `https://${host.includes(':') ? `[${host}]` : host}:${port}` };
}

/** Finds the pinned CA in the chain the server presents, so later connections verify against it. */
async function fetchPinnedCa(host: string, port: number, pin: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, rejectUnauthorized: false, timeout: timeoutMs });
    const fail = (e: Error) => {
      socket.destroy();
      reject(e);
    };
    socket.once('timeout', () => fail(new Error(`timed out connecting to ${host}:${port}`)));
    socket.once('error', fail);
    socket.once('secureConnect', () => {
      let cert: tls.DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
      const seen = new Set<string>();
      while (cert && cert.raw && !seen.has(cert.fingerprint256)) {
        seen.add(cert.fingerprint256);
        const x = new X509Certificate(cert.raw);
        if (x.ca && pinOf(x) === pin) {
          socket.end();
          return resolve(x.toString());
        }
        cert = cert.issuerCertificate;
      }
      fail(new Error(`the server at ${host}:${port} does not present a CA matching ${pin}; check the pin with \`joinery status\` on the server`));
    });
  });
}

export async function resolveTrust(addr: string, opts: TrustOptions, timeoutMs = 10_000): Promise<ResolvedTrust> {
  if (opts.caPin && opts.caFile) throw new Error('give either a CA pin or a CA file, not both');
  if (opts.caPin) {
    const pin = opts.caPin.trim().toLowerCase();
    if (!PIN_RE.test(pin)) throw new Error(`invalid CA pin ${JSON.stringify(opts.caPin)}: expected sha256:<64 hex digits>`);
    const { host, port } = parseAddr(addr);
    return { ca: await fetchPinnedCa(host, port, pin, timeoutMs), insecure: false };
  }
  if (opts.caFile) {
    let pem: string;
    try {
      pem = fs.readFileSync(opts.caFile, 'utf8');
      new X509Certificate(pem);
    } catch (e) {
      throw new Error(`cannot use CA file ${opts.caFile}: ${(e as Error).message}`);
    }
    return { ca: pem, insecure: false };
  }
  if (opts.insecure) return { insecure: true };
  throw new Error('no way to trust the server: pass --ca-pin sha256:... (from `joinery status`) or --ca-file FILE (--insecure for development only)');
}

export const INSECURE_WARNING =
  'WARNING: --insecure: the server certificate is NOT verified. Anyone on the network path can impersonate the server. Use only for development.';
