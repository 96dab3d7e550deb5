// A local stand-in for the EC2 instance metadata service, IMDSv2 only: a session token from
// PUT /latest/api/token is required for every read, as on an instance with IMDSv1 disabled.
// The agent reaches it through AWS_EC2_METADATA_SERVICE_ENDPOINT.

import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ImdsIdentity {
  /** The plain JSON document (/latest/dynamic/instance-identity/document). */
  document: string;
  /** Base64 PKCS#7 (/latest/dynamic/instance-identity/rsa2048). */
  rsa2048: string;
}

export interface ImdsDouble {
  endpoint: string;
  setIdentity(identity: ImdsIdentity): void;
  /** Every request seen, as "METHOD path status". */
  requests: string[];
  stop(): Promise<void>;
}

export async function startImdsDouble(identity?: ImdsIdentity): Promise<ImdsDouble> {
  let current = identity;
  const tokens = new Set<string>();
  const requests: string[] = [];

  const server = http.createServer((req, res) => {
    const reply = (status: number, body: string) => {
      requests.push(`${req.method} ${req.url} ${status}`);
      res.writeHead(status, { 'Content-Type': 'text/plain' });
      res.end(body);
    };
    if (req.method === 'PUT' && req.url === '/latest/api/token') {
      const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21600) return reply(400, 'missing or invalid X-aws-ec2-metadata-token-ttl-seconds');
      const token = randomBytes(24).toString('base64');
      tokens.add(token);
      return reply(200, token);
    }
    if (req.method !== 'GET') return reply(405, 'method not allowed');
    const token = req.headers['x-aws-ec2-metadata-token'];
    if (typeof token !== 'string' || !tokens.has(token)) return reply(401, 'unauthorized');
    if (!current) return reply(404, 'not found');
    if (req.url === '/latest/dynamic/instance-identity/document') return reply(200, current.document);
    // IMDS wraps the base64 in 64-character lines.
    if (req.url === '/latest/dynamic/instance-identity/rsa2048') return reply(200, current.rsa2048.replace(/(.{64})/g, '$1\n').trim());
    return reply(404, 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    setIdentity(id) {
      current = id;
    },
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
