// The same lifecycle through the real `joinery serve` process, as an operator starts it: short
// certificates, renewal over mutual TLS on the one listener, removal and the CRL.

import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import { startTestServer, type TestServer } from '../support/server';
import { httpsRequest, newHostKey } from './support';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { JOINERY_HOST_CERT_TTL_SECONDS: '10' } });
});
afterAll(() => server?.stop());

test('serve: 10-second certificates renew over mTLS; nodes rm refuses renewal and lists the serial on the CRL', async () => {
  const ca = fs.readFileSync(server.caFile, 'utf8');
  const call = (method: string, p: string, o: { body?: unknown; cert?: string; key?: string; admin?: boolean } = {}) =>
    httpsRequest(`${server.url}${p}`, method, { ca, body: o.body, cert: o.cert, key: o.key, headers: o.admin ? { authorization: `Bearer ${server.adminToken}` } : {} });

  const token = 'process-secret-token-0123456789abcdef';
  expect((await call('POST', '/v1/tokens', { admin: true, body: { version: 'v2', metadata: { name: token }, spec: { roles: ['Node'], join_method: 'token' } } })).status).toBe(201);
  const key = newHostKey();
  const joined = (await call('POST', '/v1/join/token', { body: { token_name: token, role: 'Node', public_key: key.publicPem } })).json();
  const cert = new X509Certificate(joined.certificate);
  // notBefore is back-dated a minute for clock skew; notAfter is 10 s after issuance.
  expect(Date.parse(cert.validTo) - Date.parse(cert.validFrom)).toBe(70_000);

  const renewed = await call('POST', '/v1/renew', { cert: joined.certificate, key: key.privatePem });
  expect(renewed.status).toBe(200);
  expect(renewed.json().host_id).toBe(joined.host_id);
  expect((await call('POST', '/v1/renew', { body: {} })).json().error.code).toBe('client_certificate_required');

  expect((await call('DELETE', `/v1/nodes/${joined.host_id}`, { admin: true })).status).toBe(204);
  const refused = await call('POST', '/v1/renew', { cert: renewed.json().certificate, key: key.privatePem });
  expect([refused.status, refused.json().error.code]).toEqual([403, 'node_removed']);
  const crl = await call('GET', '/v1/crl');
  const text = execFileSync('openssl', ['crl', '-inform', 'DER', '-noout', '-text'], { input: crl.body }).toString();
  const listed = [...text.matchAll(/Serial Number: ([0-9A-F]+)/gi)].map((m) => m[1].toLowerCase().replace(/^0+/, ''));
  expect(listed).toContain(new X509Certificate(renewed.json().certificate).serialNumber.toLowerCase().replace(/^0+/, ''));
});
