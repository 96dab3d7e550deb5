// The export from the real `joinery serve` process: SIGHUP reopens the file for logrotate (nothing
// lost, nothing twice), and `stdout` interleaves the events with the logs as JSON lines.

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { startTestServer, type TestServer } from '../support/server';
import { postJson, publicKeyPem, readExport, waitFor } from './support';

let dir: string;
let server: TestServer | undefined;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-audit-proc-'));
});
afterEach(async () => {
  await server?.stop();
  server = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

async function joins(s: TestServer, secret: string, n: number): Promise<string[]> {
  const agent = new https.Agent({ keepAlive: true, ca: fs.readFileSync(s.caFile, 'utf8') });
  const hosts: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await postJson(agent, `${s.url}/v1/join/token`, { token_name: secret, role: 'Node', public_key: publicKeyPem() });
    expect(r.status).toBe(200);
    hosts.push(r.json.host_id);
  }
  agent.destroy();
  return hosts;
}

const newestId = async (s: TestServer) => (await s.client().request<{ events: { id: number }[] }>('GET', '/v1/audit?limit=1')).events[0].id;

test('SIGHUP: the moved file keeps what was written before, the new file gets what follows, each event once', async () => {
  const file = path.join(dir, 'audit.jsonl');
  server = await startTestServer({ env: { JOINERY_AUDIT_EXPORT: `file:${file}` } });
  const secret = randomBytes(16).toString('hex');
  await server.client().createToken({ version: 'v2', metadata: { name: secret }, spec: { roles: ['Node'], join_method: 'token' } });
  const before = await joins(server, secret, 10);
  const mid = await newestId(server);
  await waitFor(() => readExport(file).at(-1)?.id === mid, 30_000, 'the first events');

  fs.renameSync(file, `${file}.1`); // what logrotate does, then its postrotate HUP
  server.process.kill('SIGHUP');
  await waitFor(() => fs.existsSync(file), 10_000, 'the file to be reopened');
  const after = await joins(server, secret, 10);
  const last = await newestId(server);
  await waitFor(() => readExport(file).at(-1)?.id === last, 30_000, 'the later events');

  const old = readExport(`${file}.1`);
  const fresh = readExport(file);
  expect([...old, ...fresh].map((l) => l.id)).toEqual(Array.from({ length: last }, (_, i) => i + 1));
  expect(old.filter((l) => l.type === 'join.token').map((l) => l.hostId)).toEqual(before);
  expect(fresh.filter((l) => l.type === 'join.token').map((l) => l.hostId)).toEqual(after);
  expect(server.process.exitCode).toBeNull(); // SIGHUP did not stop the server
  expect(fs.readFileSync(file, 'utf8') + fs.readFileSync(`${file}.1`, 'utf8')).not.toContain(secret);
});

test('stdout: every event as a JSON line among the logs, secrets masked', async () => {
  server = await startTestServer({ env: { JOINERY_AUDIT_EXPORT: 'stdout', JOINERY_LOG_LEVEL: 'info' } });
  const secret = randomBytes(16).toString('hex');
  await server.client().createToken({ version: 'v2', metadata: { name: secret }, spec: { roles: ['Node'], join_method: 'token' } });
  const [host] = await joins(server, secret, 1);
  const events = () =>
    server!
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{"id":'))
      .map((l) => JSON.parse(l) as { id: number; eventCode: string; hostId?: string });
  await waitFor(() => events().some((e) => e.hostId === host), 30_000, 'the join on stdout');
  expect(events().map((e) => e.eventCode)).toEqual(['JT001I', 'JJ001I']);
  expect(server.output()).not.toContain(secret);
});

test('a bad JOINERY_AUDIT_EXPORT stops the start with a clear message', async () => {
  await expect(startTestServer({ env: { JOINERY_AUDIT_EXPORT: 'syslog://x' } })).rejects.toThrow(/JOINERY_AUDIT_EXPORT must be file:\/path\/to\/audit.jsonl or stdout/);
  const notAudit = path.join(dir, 'other.log');
  fs.writeFileSync(notAudit, 'plain text\n');
  await expect(startTestServer({ env: { JOINERY_AUDIT_EXPORT: `file:${notAudit}` } })).rejects.toThrow(/not a Joinery audit event/);
});
