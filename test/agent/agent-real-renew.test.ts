// `joinery agent --once` renewing against the real server over mutual TLS: certificates live
// 30 seconds here, so renewal is due 20 seconds after the join. Needs the server's POST /v1/renew.

import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startTestServer, type TestServer } from '../support/server';
import { runJoinery } from './support/run';

jest.setTimeout(90_000);

let server: TestServer;
let tmp: string;
const TOKEN = '9a8b7c6d5e4f30211203f4e5d6c7b8a9';
// Long enough that a process start on a loaded machine (seconds) still lands between due and expiry.
const TTL_SECONDS = 30;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-agent-renew-'));
  server = await startTestServer({ env: { JOINERY_HOST_CERT_TTL_SECONDS: String(TTL_SECONDS) } });
  await server.client().createToken({ version: 'v2', metadata: { name: TOKEN }, spec: { roles: ['Node'] } });
});
afterAll(async () => {
  await server?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('joins, then renews once due: same host ID, new serial, new key, and the old certificate still verifies', async () => {
  const dataDir = path.join(tmp, 'data');
  const args = ['agent', '--auth-server', server.addr, '--ca-file', server.caFile, '--data-dir', dataDir, '--token', TOKEN, '--method', 'token', '--once'];
  const joined = await runJoinery(args);
  expect(joined.code).toBe(0);
  const before = {
    identity: JSON.parse(fs.readFileSync(path.join(dataDir, 'identity.json'), 'utf8')),
    cert: new X509Certificate(fs.readFileSync(path.join(dataDir, 'cert.pem'))),
    key: fs.readFileSync(path.join(dataDir, 'key.pem'), 'utf8'),
  };
  const notAfter = Date.parse(before.cert.validTo);
  const joinedAt = Date.parse(before.identity.joined_at);
  const due = Math.max(Date.parse(before.cert.validFrom), joinedAt) + ((notAfter - Math.max(Date.parse(before.cert.validFrom), joinedAt)) * 2) / 3;
  expect(notAfter - joinedAt).toBeLessThanOrEqual((TTL_SECONDS + 2) * 1000);

  // Not yet due: nothing happens.
  const early = await runJoinery(args);
  if (Date.now() < due - 500) expect(early.stderr).toMatch(/nothing to do/);

  // Wait (bounded by the certificate's own short life) until renewal is due.
  const wait = Math.min(Math.max(0, due - Date.now() + 300), TTL_SECONDS * 1000);
  await new Promise((r) => setTimeout(r, wait));
  const renewed = await runJoinery(args);
  expect(renewed.stderr).toMatch(/renewed the certificate of .* with a new key/);
  expect(renewed.code).toBe(0);

  const after = {
    identity: JSON.parse(fs.readFileSync(path.join(dataDir, 'identity.json'), 'utf8')),
    cert: new X509Certificate(fs.readFileSync(path.join(dataDir, 'cert.pem'))),
    key: fs.readFileSync(path.join(dataDir, 'key.pem'), 'utf8'),
  };
  expect(after.identity.host_id).toBe(before.identity.host_id);
  expect(after.cert.subject).toBe(before.cert.subject);
  expect(after.cert.serialNumber).not.toBe(before.cert.serialNumber);
  expect(after.key).not.toBe(before.key);
  expect(Date.parse(after.cert.validTo)).toBeGreaterThan(notAfter);
  const ca = new X509Certificate(fs.readFileSync(server.caFile));
  expect(after.cert.verify(ca.publicKey)).toBe(true);
  expect(before.cert.verify(ca.publicKey)).toBe(true);

  const node = (await server.client().listNodes()).find((n) => n.host_id === before.identity.host_id) as unknown as Record<string, unknown>;
  expect(node).toBeDefined();
  expect(String(node.cert_serial).toLowerCase().replace(/^0+/, '')).toBe(after.cert.serialNumber.toLowerCase().replace(/^0+/, ''));
});
