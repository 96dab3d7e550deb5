// The agent's IMDSv2 client on the AWS SDK's MetadataService: how the endpoint is chosen (explicit,
// AWS_EC2_METADATA_SERVICE_ENDPOINT, AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE), IPv6 addresses, and
// retries of a metadata service that is not up yet.

import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { IMDS_ENDPOINTS, ImdsClient, ImdsError, resolveImdsEndpoint } from '../../cli/agent/imds';
import { startImdsDouble } from '../support/imds-double';

describe('endpoint resolution', () => {
  test('IPv4 by default, IPv6 with AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6 (any case)', () => {
    expect(ImdsClient.fromEnv({}).endpoint).toBe('http://169.254.169.254');
    expect(ImdsClient.fromEnv({ AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE: 'IPv6' }).endpoint).toBe('http://[fd00:ec2::254]');
    expect(ImdsClient.fromEnv({ AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE: 'ipv6' }).endpoint).toBe(IMDS_ENDPOINTS.IPv6);
    expect(ImdsClient.fromEnv({ AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE: 'IPv4' }).endpoint).toBe(IMDS_ENDPOINTS.IPv4);
  });

  test('an explicit endpoint wins over the mode, as in the AWS SDKs', () => {
    const env = { AWS_EC2_METADATA_SERVICE_ENDPOINT: 'http://127.0.0.1:8111/', AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE: 'IPv6' };
    expect(ImdsClient.fromEnv(env).endpoint).toBe('http://127.0.0.1:8111');
    expect(resolveImdsEndpoint({ endpoint: 'http://[::1]:80' }, env)).toBe('http://[::1]:80');
  });

  test('an unknown mode or a malformed endpoint is refused before any request', () => {
    expect(() => ImdsClient.fromEnv({ AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE: 'IPv5' })).toThrow(/must be IPv4 or IPv6 \(got "IPv5"\)/);
    for (const bad of ['ftp://x', 'http://x/path', 'not a url', 'http://u:p@x']) expect(() => new ImdsClient(bad)).toThrow(ImdsError);
  });

  test('the IPv6 mode really targets [fd00:ec2::254]: the MetadataService is configured with it', async () => {
    const client = ImdsClient.fromEnv({ AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE: 'IPv6' });
    // No connection is attempted: only the service's resolved configuration is read.
    const service = await (client as unknown as { metadataService(): Promise<{ config: Promise<{ endpoint: string }> }> }).metadataService();
    expect((await service.config).endpoint).toBe('http://[fd00:ec2::254]');
  });
});

describe('requests', () => {
  test('reads through an IPv6 address (a bracketed literal), with a session token', async () => {
    const seen: string[] = [];
    const server = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers['x-aws-ec2-metadata-token'] ?? '-'}`);
      res.end(req.method === 'PUT' ? 'session-token' : 'v6 document');
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '::1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      expect(await new ImdsClient(`http://[::1]:${port}`).get('/latest/dynamic/instance-identity/document')).toBe('v6 document');
      expect(seen).toEqual(['PUT /latest/api/token -', 'GET /latest/dynamic/instance-identity/document session-token']);
    } finally {
      server.close();
    }
  });

  test('a metadata service that fails at first is retried, then answers', async () => {
    let failures = 2;
    const seen: string[] = [];
    const server = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      if (req.method === 'PUT') return res.end('tok');
      if (failures-- > 0) {
        res.statusCode = 503;
        return res.end('booting');
      }
      res.end('ready');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const backoffs: number[] = [];
      const client = new ImdsClient({ endpoint: `http://127.0.0.1:${port}`, backoff: (n) => (backoffs.push(n), 0) });
      expect(await client.get('/latest/meta-data/instance-id')).toBe('ready');
      expect(seen.filter((s) => s.startsWith('GET'))).toHaveLength(3);
      expect(backoffs).toEqual([0, 1]);
    } finally {
      server.close();
    }
  });

  test('a 404 is not retried and names the status', async () => {
    const imds = await startImdsDouble();
    try {
      const client = new ImdsClient({ endpoint: imds.endpoint, backoff: 0 });
      await expect(client.get('/latest/dynamic/instance-identity/document')).rejects.toThrow(/answered 404/);
      expect(imds.requests.filter((r) => r.startsWith('GET'))).toHaveLength(1);
    } finally {
      await imds.stop();
    }
  });

  test('an unreachable service is an ImdsError after the retries', async () => {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    let attempts = 0;
    const client = new ImdsClient({ endpoint: `http://127.0.0.1:${port}`, retries: 2, backoff: () => (attempts++, 0) });
    const err = await client.get('/x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImdsError);
    expect((err as Error).message).toMatch(/cannot reach the EC2 instance metadata service at http:\/\/127\.0\.0\.1:\d+ .*only works on an EC2 instance/);
    expect(attempts).toBe(2);
  });
});
