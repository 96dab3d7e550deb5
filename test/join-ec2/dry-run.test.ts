// Joins you can explain: a refused ec2 join records which check each allow rule failed, and the
// dry runs (`joinery tokens test`, POST /v1/tokens/{name}/test, a join with dry_run) evaluate a
// captured document without consuming or writing anything. The real server process, moto for
// EC2, and identity documents signed by a test signer the server trusts.

import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { JoineryClient, TokenTestAnswer } from '../../client/api-client';
import { createIidSigner, identityDocument, type IidSigner } from '../support/iid-test-ca';
import { MOTO_DEFAULT_ACCOUNT, runInstance, startMoto, type LaunchedInstance, type Moto } from '../support/moto';
import { runCli, startTestServer, type TestServer } from '../support/server';

const ACCOUNT = MOTO_DEFAULT_ACCOUNT;
const OTHER_ROLE = 'arn:aws:iam::222222222222:role/teleport-DescribeInstances-role';

let moto: Moto;
let server: TestServer;
let admin: JoineryClient;
let signer: IidSigner;
let dir: string;
let inst: LaunchedInstance;
let iidFile: string;
let iid: string;
let env: Record<string, string>;

jest.setTimeout(120_000);

const threeRules = (regions: string[]) => ({
  kind: 'token',
  version: 'v2',
  metadata: { name: 'three-rules' },
  spec: {
    roles: ['Node'],
    join_method: 'ec2',
    allow: [
      { aws_account: '999999999999', aws_regions: ['us-west-2'] },
      { aws_account: ACCOUNT, aws_regions: regions },
      { aws_role: OTHER_ROLE },
    ],
  },
});

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-dry-run-'));
  [moto, signer] = await Promise.all([startMoto(), createIidSigner('us')]);
  const cert = signer.writeCert(dir, 'us.pem');
  server = await startTestServer({ env: { ...moto.env, JOINERY_EC2_EXTRA_CERTS: `us-west-2=${cert}` } });
  admin = server.client();
  env = { JOINERY_ADMIN_TOKEN: server.adminToken, JOINERY_ADDR: server.addr, JOINERY_CA_FILE: server.caFile };
  await admin.createToken(threeRules(['us-west-1']));
  inst = await runInstance(moto, 'us-west-2');
  const pendingTime = new Date(Date.now() - 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  iid = await signer.sign(identityDocument({ accountId: inst.accountId, instanceId: inst.instanceId, region: inst.region, pendingTime }), { ber: true });
  // As IMDS gives it, with the line breaks of /latest/dynamic/instance-identity/rsa2048.
  iidFile = path.join(dir, 'rsa2048');
  fs.writeFileSync(iidFile, iid.match(/.{1,64}/g)!.join('\n') + '\n');
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await moto?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const publicKeyPem = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
const hostId = () => `${inst.accountId}-${inst.instanceId}`;

async function joinEvents(): Promise<{ type: string; success: boolean; code?: string; tokenName?: string; hostId?: string; remoteAddr?: string; details?: Record<string, any> }[]> {
  return (await admin.request<{ events: any[] }>('GET', '/v1/audit?type=join.ec2')).events;
}

test('tokens test names the failing check of each rule, exits 1, and changes nothing (twice)', async () => {
  const before = await joinEvents();
  for (let i = 0; i < 2; i++) {
    const r = await runCli(['tokens', 'test', 'three-rules', '--iid', iidFile], { env });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('token three-rules: would be refused (aws_region_not_allowed)');
    expect(r.stdout).toContain(`instance_id=${inst.instanceId}`);
    expect(r.stdout).toMatch(/allow\[0\]: does not match\n\s+FAIL aws_account: aws_account 999999999999 is not \d{12}\n\s+ok\s+aws_regions: aws_regions \[us-west-2\] includes us-west-2/);
    expect(r.stdout).toMatch(/allow\[1\]: does not match\n\s+ok\s+aws_account: aws_account \d{12} admits account \d{12}\n\s+FAIL aws_regions: aws_regions \[us-west-1\] does not include us-west-2/);
    expect(r.stdout).toMatch(/allow\[2\]: does not match\n\s+FAIL aws_role: aws_role arn:aws:iam::222222222222:role\/teleport-DescribeInstances-role \(account 222222222222\) is not account \d{12}/);
  }
  // JSON for programs: the same evaluation.
  const json = await runCli(['tokens', 'test', 'three-rules', '--iid', iidFile, '--format', 'json'], { env });
  expect(json.code).toBe(1);
  const answer = JSON.parse(json.stdout) as TokenTestAnswer;
  expect(answer.would_join).toBe(false);
  expect(answer.results[0].rules.map((r) => r.checks.filter((c) => !c.ok).map((c) => c.check))).toEqual([['aws_account'], ['aws_regions'], ['aws_role']]);
  // Nothing was written: no join audited, no node.
  expect(await joinEvents()).toEqual(before);
  expect(await admin.listNodes()).toEqual([]);
});

test('a refused join records each rule\'s failed check with the instance, account, region and source address; the host hears its own values only', async () => {
  const err = (await admin.post('/v1/join/ec2', { token_name: 'three-rules', role: 'Node', iid, public_key: publicKeyPem() }).then(() => undefined, (e: unknown) => e)) as Error;
  expect(err).toMatchObject({ status: 403, code: 'aws_region_not_allowed' });
  // The host learns which checks failed on its own values, not what the token allows.
  expect(err.message).toContain('allow[1]: aws_regions does not admit us-west-2');
  expect(err.message).not.toMatch(/999999999999|us-west-1|222222222222/);
  const [event] = (await joinEvents()).filter((e) => e.code === 'aws_region_not_allowed');
  expect(event).toMatchObject({
    success: false,
    tokenName: 'three-rules',
    hostId: hostId(),
    remoteAddr: '127.0.0.1',
    details: {
      method: 'ec2',
      role: 'Node',
      identity: { aws_account: ACCOUNT, aws_region: 'us-west-2', instance_id: inst.instanceId },
      rules: [
        { index: 0, matched: false, failures: [`aws_account 999999999999 is not ${ACCOUNT}`] },
        { index: 1, matched: false, failures: ['aws_regions [us-west-1] does not include us-west-2'] },
        { index: 2, matched: false, failures: [`aws_role ${OTHER_ROLE} (account 222222222222) is not account ${ACCOUNT}`] },
      ],
    },
  });
});

test('a host\'s dry run (dry_run in the join) answers with the evaluation, audited as a dry run, admitting nothing', async () => {
  const answer = await admin.post<Record<string, any>>('/v1/join/ec2', { token_name: 'three-rules', role: 'Node', iid, public_key: publicKeyPem(), dry_run: true });
  expect(answer).toMatchObject({ dry_run: true, would_join: false, code: 'aws_region_not_allowed', identity: { instance_id: inst.instanceId } });
  expect(answer.rules[1].checks).toEqual([{ check: 'aws_account', ok: true }, { check: 'aws_regions', ok: false, detail: 'aws_regions does not admit us-west-2' }]);
  expect(JSON.stringify(answer)).not.toMatch(/999999999999|us-west-1|222222222222/);
  const [event] = await joinEvents();
  expect(event).toMatchObject({ success: false, code: 'aws_region_not_allowed', details: { dry_run: true } });
  expect(await admin.listNodes()).toEqual([]);
});

test('with the token fixed, the test passes (DescribeInstances included), and a real join with the same document succeeds', async () => {
  await admin.request('PUT', '/v1/tokens/three-rules', threeRules(['us-west-1', 'us-west-2']));
  const r = await runCli(['tokens', 'test', '--iid', iidFile, '--check-aws'], { env });
  expect(r.stdout).toContain('token three-rules: would join');
  expect(r.stdout).toContain(`ec2:DescribeInstances: instance ${inst.instanceId} is running`);
  expect(r.code).toBe(0);
  const dry = await admin.post<Record<string, any>>('/v1/join/ec2', { token_name: 'three-rules', role: 'Node', iid, public_key: publicKeyPem(), dry_run: true });
  expect(dry).toMatchObject({ dry_run: true, would_join: true, host_id: hostId() });
  expect(await admin.listNodes()).toEqual([]);

  const joined = await admin.post<{ host_id: string }>('/v1/join/ec2', { token_name: 'three-rules', role: 'Node', iid, public_key: publicKeyPem() });
  expect(joined.host_id).toBe(hostId());
  const [event] = await joinEvents();
  expect(event).toMatchObject({ success: true, hostId: hostId(), details: { rules: [{ index: 0, matched: false }, { index: 1, matched: true, failures: [] }, { index: 2, matched: false }] } });
  // Now the host is live: the test says why a second join would be refused.
  const again = await admin.testTokens('three-rules', { iid });
  expect(again).toMatchObject({ would_join: false, results: [{ code: 'host_already_joined' }] });
});

test('bad input to the dry run is a 4xx with a code', async () => {
  const cases: [unknown, number, string][] = [
    [{}, 400, 'invalid_request'],
    [{ iid, arn: 'x', extra: 1 }, 400, 'invalid_request'],
    [{ iid: 'not a document' }, 400, 'iid_malformed'],
    [{ arn: 'arn:aws:iam::123456789012:user/x', account: '999999999999' }, 400, 'invalid_request'],
    [{ iid, check_aws: 'yes' }, 400, 'invalid_request'],
    [[1, 2], 400, 'invalid_request'],
  ];
  for (const [body, status, code] of cases) {
    await expect(admin.request('POST', '/v1/tokens/test', body)).rejects.toMatchObject({ status, code });
  }
  await expect(admin.request('POST', '/v1/tokens/nope/test', { iid })).rejects.toMatchObject({ status: 404, code: 'not_found' });
  await expect(server.client({ adminToken: 'wrong' }).request('POST', '/v1/tokens/test', { iid })).rejects.toMatchObject({ status: 401 });
  const usage = await runCli(['tokens', 'test', '--iid', iidFile, '--arn', 'arn:aws:iam::123456789012:user/x'], { env });
  expect(usage.code).toBe(2);
});
