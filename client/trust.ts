// How clients (CLI, agent, Terraform provider) decide to trust the API server: by the CA pin
// (`sha256:<hex of the CA's SubjectPublicKeyInfo>`, as `joinery status` prints it), by a CA file,
// or not at all with --insecure, which is for development only.

import { createHash, createPublicKey, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';

export interface TrustOptions {
  caPin?: string;
  caFile?: string;
  /** The CA certificate itself (PEM), for callers that hold it rather than a file. */
  caPem?: string;
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
      const presented: string[] = [];
      while (cert && cert.raw && !seen.has(cert.fingerprint256)) {
        seen.add(cert.fingerprint256);
        const x = new X509Certificate(cert.raw);
        if (x.ca && pinOf(x) === pin) {
          socket.end();
          return resolve(x.toString());
        }
        if (x.ca) presented.push(pinOf(x));
        cert = cert.issuerCertificate;
      }
      // From a CA rotation's update_servers on, the server's certificate is the new CA's while
      // the old one is still trusted: a pin that was right yesterday is the likely case.
      fail(
        new Error(
          `the server at ${host}:${port} does not present a CA matching ${pin}${presented.length ? ` (it presents ${presented.join(', ')})` : ''}; check the pin with \`joinery status\` on the server. ` +
            'If the cluster CA is being rotated, the server presents the new CA from phase update_servers on: GET /v1/ca lists every CA the cluster trusts',
        ),
      );
    });
  });
}

export async function resolveTrust(addr: string, opts: TrustOptions, timeoutMs = 10_000): Promise<ResolvedTrust> {
  if ([opts.caPin, opts.caFile, opts.caPem].filter(Boolean).length > 1) throw new Error('give one of a CA pin, a CA file or a CA certificate, not several');
  if (opts.caPem) {
    try {
      new X509Certificate(opts.caPem);
    } catch (e) {
      throw new Error(`the CA certificate given is not a PEM certificate: ${(e as Error).message}`, { cause: e });
    }
    return { ca: opts.caPem, insecure: false };
  }
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
      throw new Error(`cannot use CA file ${opts.caFile}: ${(e as Error).message}`, { cause: e });
    }
    return { ca: pem, insecure: false };
  }
  if (opts.insecure) return { insecure: true };
  throw new Error('no way to trust the server: pass --ca-pin sha256:... (from `joinery status`) or --ca-file FILE (--insecure for development only)');
}

export const INSECURE_WARNING =
  'WARNING: --insecure: the server certificate is NOT verified. Anyone on the network path can impersonate the server. Use only for development.';

export class CertificateCheckError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertificateCheckError';
  }
}

function certificatesIn(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b));
}

/**
 * Checks a certificate a server issued to this host before anything is written: it must be for
 * the host's own key, be valid now, and be signed by a CA the host trusts. `trustedCaPem` is the
 * CA the server was verified against (pin or CA file); with --insecure there is none, and the
 * certificate must at least verify against the CAs the server returned with it.
 */
export function checkIssuedCertificate(input: {
  certPem: string;
  publicKeyPem: string;
  trustedCaPem?: string;
  returnedCaPems: string[];
  now?: Date;
}): X509Certificate {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(input.certPem);
  } catch (e) {
    throw new CertificateCheckError(`the server returned a certificate that cannot be parsed (${(e as Error).message}); nothing was written`);
  }
  const own = createPublicKey(input.publicKeyPem).export({ type: 'spki', format: 'der' });
  const issuedFor = cert.publicKey.export({ type: 'spki', format: 'der' });
  if (!own.equals(issuedFor)) throw new CertificateCheckError('the server returned a certificate for another key than this host\'s; nothing was written');
  const now = input.now ?? new Date();
  if (new Date(cert.validTo).getTime() <= now.getTime()) throw new CertificateCheckError(`the server returned a certificate that expired at ${new Date(cert.validTo).toISOString()}; nothing was written`);

  let anchors: X509Certificate[];
  let anchorName: string;
  try {
    anchors = input.trustedCaPem ? certificatesIn(input.trustedCaPem) : input.returnedCaPems.flatMap(certificatesIn);
    anchorName = input.trustedCaPem ? 'the CA this host trusts (pin or CA file)' : 'the CA certificates the server returned';
  } catch (e) {
    throw new CertificateCheckError(`the server returned CA certificates that cannot be parsed (${(e as Error).message}); nothing was written`);
  }
  const signedBy = anchors.find((ca) => ca.ca && cert.checkIssued(ca) && cert.verify(ca.publicKey));
  if (!signedBy) throw new CertificateCheckError(`the server returned a certificate that is not signed by ${anchorName}; nothing was written`);
  return cert;
}
