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
  for (const col of ['Host ID', 'Status', 'Method', 'Role', 'Token', 'Joined', 'Last renewed', 'Serial', 'Expires']) expect(header).toContain(col);
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
  const missing = await cli('nodes', 'rm', 'no-such-host');
  expect(missing.code).not.toBe(0);
  expect(missing.stderr).toMatch(/^error: .*not found/m);
});
