// A scripted stand-in for the Joinery API on 127.0.0.1 over HTTPS: each request is recorded (with
// the client certificate it presented, if any) and answered by the test's handler.

import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { TestCa } from './test-pki';

export interface FakeRequest {
  method: string;
  path: string;
  body: Record<string, unknown>;
  /** PEM of the TLS client certificate, when one was presented. */
  clientCertPem?: string;
  at: number;
}

export interface FakeAnswer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface FakeJoinery {
  addr: string;
  requests: FakeRequest[];
  /** New connections get a TLS certificate of this CA (a replica that followed a rotation, or not). */
  serveAs(ca: TestCa): Promise<void>;
  stop(): Promise<void>;
}

export async function startFakeJoinery(ca: TestCa, handler: (req: FakeRequest, n: number) => Promise<FakeAnswer> | FakeAnswer): Promise<FakeJoinery> {
  const tls = await ca.serverIdentity();
  const requests: FakeRequest[] = [];
  const server = https.createServer({ key: tls.keyPem, cert: tls.certPem + ca.certPem, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      const text = Buffer.concat(chunks).toString('utf8');
      const r: FakeRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
        clientCertPem: peer && peer.raw ? new X509Certificate(peer.raw).toString() : undefined,
        at: Date.now(),
      };
      requests.push(r);
      Promise.resolve(handler(r, requests.length)).then(
        (a) => {
          res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
          res.end(a.body === undefined ? '' : JSON.stringify(a.body));
        },
        (e: Error) => {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { code: 'fake_failed', message: e.message } }));
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    addr: `127.0.0.1:${port}`,
    requests,
    async serveAs(other) {
      const t = await other.serverIdentity();
      server.setSecureContext({ key: t.keyPem, cert: t.certPem + other.certPem });
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A refusal in the API's error shape. */
export function refusal(status: number, code: string, message = code, headers?: Record<string, string>): FakeAnswer {
  return { status, body: { error: { code, message } }, headers };
}
