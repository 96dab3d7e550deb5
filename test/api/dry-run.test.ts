// Dry runs without AWS: `joinery join --dry-run` with the token method (a Bot token, single-use,
// survives it) and `joinery tokens test --arn` against iam tokens.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { JoineryClient } from '../../client/api-client';
import { runCli, startTestServer, type TestServer } from '../support/server';

let server: TestServer;
let admin: JoineryClient;
let env: Record<string, string>;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-dry-run-api-'));

beforeAll(async () => {
  server = await startTestServer();
  admin = server.client();
  env = { JOINERY_ADMIN_TOKEN: server.adminToken, JOINERY_ADDR: server.addr, JOINERY_CA_FILE: server.caFile };
});
afterAll(async () => {
  await server?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('join --dry-run evaluates without admitting: a single-use Bot token survives it, and nothing is written', async () => {
  const secret = 'dry-run-bot-secret-0123456789abcdef';
  await admin.createToken({ version: 'v2', metadata: { name: secret }, spec: { roles: ['Bot'], join_method: 'token', bot_name: 'dry-run-bot' } });
  const dataDir = path.join(dir, 'host');
  const argv = ['join', '--method', 'token', '--token', secret, '--role', 'Bot', '--server', server.addr, '--ca-file', server.caFile, '--data-dir', dataDir];
  const dry = await runCli([...argv, '--dry-run']);
  expect([dry.code, dry.stdout]).toEqual([0, expect.stringContaining('dry run: token join: would join')]);
  expect(dry.stdout).not.toContain(secret);
  expect(fs.existsSync(dataDir)).toBe(false);
  expect(await admin.listNodes()).toEqual([]);
  const refused = await runCli([...argv, '--dry-run', '--token', 'not-the-secret-0123456789', '--format', 'json']);
  expect(refused.code).toBe(1);
  expect(JSON.parse(refused.stdout)).toMatchObject({ dry_run: true, would_join: false, code: 'token_not_found' });
  // The real join still finds the token, and uses it up.
  const joined = await runCli(argv);
  expect([joined.code, joined.stdout]).toEqual([0, expect.stringContaining('joined as ')]);
  expect(await admin.getToken(secret)).toBeUndefined();
});

test('tokens test --arn names the failing check of each iam rule and exits 1; a matching ARN exits 0', async () => {
  await admin.createToken({
    version: 'v2',
    metadata: { name: 'iam-two-rules' },
    spec: { roles: ['Node'], join_method: 'iam', allow: [{ aws_account: '111111111111' }, { aws_account: '222222222222', aws_arn: 'arn:aws:sts::222222222222:assumed-role/web/*' }] },
  });
  const r = await runCli(['tokens', 'test', 'iam-two-rules', '--arn', 'arn:aws:sts::222222222222:assumed-role/db/i-0abc'], { env });
  expect(r.code).toBe(1);
  expect(r.stdout).toContain('token iam-two-rules: would be refused (iam_arn_not_allowed)');
  expect(r.stdout).toMatch(/allow\[0\]: does not match\n\s+FAIL aws_account: aws_account 111111111111 is not 222222222222/);
  expect(r.stdout).toMatch(/allow\[1\]: does not match\n\s+ok\s+aws_account: aws_account 222222222222 matches\n\s+FAIL aws_arn: aws_arn arn:aws:sts::222222222222:assumed-role\/web\/\* does not match arn:aws:sts::222222222222:assumed-role\/db\/i-0abc/);
  const ok = await runCli(['tokens', 'test', '--arn', 'arn:aws:sts::222222222222:assumed-role/web/i-0abc', '--format', 'yaml'], { env });
  expect(ok.code).toBe(0);
  expect(ok.stdout).toMatch(/would_join: true/);
  const events = (await admin.request<{ events: unknown[] }>('GET', '/v1/audit?type=join.iam')).events;
  expect(events).toEqual([]);
});
