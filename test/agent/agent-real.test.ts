// `joinery agent --once` against the real server: a join from an empty data directory with the
// token method, then a second run that finds the certificate not yet due and asks nothing.

import { createPrivateKey, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startTestServer, type TestServer } from '../support/server';
import { runJoinery } from './support/run';

jest.setTimeout(60_000);

let server: TestServer;
let tmp: string;
const TOKEN = '5e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b';

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-agent-real-'));
  server = await startTestServer();
  await server.client().createToken({ version: 'v2', metadata: { name: TOKEN }, spec: { roles: ['Node'] } });
});
afterAll(async () => {
  await server?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('--once from an empty data directory joins, and a second --once when not due sends nothing', async () => {
  const dataDir = path.join(tmp, 'data');
  const config = path.join(tmp, 'agent.yaml');
  fs.writeFileSync(config, ['version: v1', `auth_server: ${server.addr}`, `ca_pin: ${server.caPin}`, 'data_dir: ./data', 'join_params:', `  token_name: ${TOKEN}`, '  method: token', 'role: Node', ''].join('\n'));

  const first = await runJoinery(['agent', '--config', config, '--once']);
  expect(first.stderr).toMatch(/joined as [0-9a-f-]{36} \(method token, role Node\)/);
  expect(first.code).toBe(0);
  // The secret token name never appears in the agent's log.
  expect(first.stderr).not.toContain(TOKEN);
  const identity = JSON.parse(fs.readFileSync(path.join(dataDir, 'identity.json'), 'utf8'));
  const cert = new X509Certificate(fs.readFileSync(path.join(dataDir, 'cert.pem')));
  expect(cert.checkPrivateKey(createPrivateKey(fs.readFileSync(path.join(dataDir, 'key.pem'))))).toBe(true);
  expect(cert.verify(new X509Certificate(fs.readFileSync(server.caFile)).publicKey)).toBe(true);
  expect(fs.statSync(path.join(dataDir, 'key.pem')).mode & 0o777).toBe(0o600);
  expect((await server.client().listNodes()).map((n) => n.host_id)).toContain(identity.host_id);

  const auditBefore = await server.client().request<{ events: unknown[] }>('GET', '/v1/audit');
  const second = await runJoinery(['agent', '--config', config, '--once']);
  expect(second.code).toBe(0);
  expect(second.stderr).toMatch(/renewal due at .*; nothing to do/);
  expect(fs.readFileSync(path.join(dataDir, 'cert.pem'), 'utf8')).toBe(cert.toString());
  const auditAfter = await server.client().request<{ events: unknown[] }>('GET', '/v1/audit');
  expect(auditAfter.events.length).toBe(auditBefore.events.length);
});
