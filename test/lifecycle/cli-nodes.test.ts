// `joinery nodes ls` and `nodes rm` (the real CLI) show the registry's lifecycle columns.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli } from '../support/server';
import { joinWithToken, renew, startLifecycleServer, type LifecycleServer } from './support';

let s: LifecycleServer;
let caFile: string;
beforeAll(async () => {
  s = await startLifecycleServer();
  caFile = path.join(s.dataDir, 'ca.crt');
  expect(fs.existsSync(caFile)).toBe(true);
});
afterAll(() => s?.stop());

const cli = (...args: string[]) => runCli([...args, '--addr', s.url.replace('https://', ''), '--ca-file', caFile], { env: { JOINERY_ADMIN_TOKEN: s.adminToken } });

test('nodes ls prints status, masked token, renewal, serial and expiry; nodes rm revokes', async () => {
  const token = 'cli-secret-token-0123456789abcdef';
  const id = await joinWithToken(s, token);
  const renewed = (await renew(s, id)).json();
  const ls = await cli('nodes', 'ls');
  expect(ls.code).toBe(0);
  const [header, ...rows] = ls.stdout.trim().split('\n');
  for (const col of ['Host ID', 'Status', 'Method', 'Role', 'Token', 'Last seen', 'Agent', 'Hostname', 'Identity', 'Labels', 'Expires']) expect(header).toContain(col);
  const row = rows.find((r) => r.includes(id.host_id))!;
  expect(row).toContain('active');
  expect(row).toContain(renewed.expires_at);
  expect(ls.stdout).not.toContain(token);
  expect(row).toMatch(/\*{8,}/);

  const rm = await cli('nodes', 'rm', id.host_id);
  expect(rm.code).toBe(0);
  expect(rm.stdout).toMatch(/removed/);
  expect((await cli('nodes', 'ls')).stdout.split('\n').find((r) => r.includes(id.host_id))).toContain('removed');
  const json = await cli('nodes', 'ls', '--format', 'json');
  expect(JSON.parse(json.stdout).find((n: { host_id: string }) => n.host_id === id.host_id)).toMatchObject({ status: 'removed', cert_serial: expect.any(String) });
  // Filters: the server's, by status; a malformed label is a usage error.
  expect((await cli('nodes', 'ls', '--status', 'removed', '--method', 'token')).stdout).toContain(id.host_id);
  expect((await cli('nodes', 'ls', '--status', 'active')).stdout).not.toContain(id.host_id);
  expect((await cli('nodes', 'ls', '--label', 'novalue')).code).toBe(2);
  const missing = await cli('nodes', 'rm', 'no-such-host');
  expect(missing.code).not.toBe(0);
  expect(missing.stderr).toMatch(/^error: .*not found/m);
});

test('locks add, ls and rm: a locked host cannot renew; exactly one target is required', async () => {
  const id = await joinWithToken(s, 'cli-lock-token-0123456789abcdef');
  const add = await cli('locks', 'add', '--host-id', id.host_id, '--ttl', '1h', '--message', 'incident 9', '--format', 'json');
  expect(add.code).toBe(0);
  const lock = JSON.parse(add.stdout);
  expect(lock).toMatchObject({ kind: 'host_id', target: id.host_id, message: 'incident 9', revoked_certificates: 1 });
  expect((await cli('locks', 'ls')).stdout).toContain(lock.id);
  const refused = await renew(s, id);
  expect(refused.json().error).toMatchObject({ code: 'locked', message: 'locked: incident 9' });
  expect((await cli('locks', 'add', '--host-id', 'a', '--account', '123456789012')).code).toBe(2);
  expect((await cli('locks', 'add', '--host-id', 'a', '--ttl', 'soon')).stderr).toMatch(/ttl/);
  expect((await cli('locks', 'rm', lock.id)).code).toBe(0);
  expect((await cli('locks', 'ls')).stdout).toContain('No active locks.');
  expect((await cli('locks', 'rm', lock.id)).code).toBe(1);
});
