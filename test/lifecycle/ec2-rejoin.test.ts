// EC2 re-join after a lapse: a live instance is refused host_already_joined; one whose last
// certificate expired without renewal, or that was removed, joins again (aws_iid_ttl still
// applies). The server runs in process with a clock the test moves; moto answers DescribeInstances.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createIidSigner, identityDocument, type IidSigner } from '../support/iid-test-ca';
import { MOTO_DEFAULT_ACCOUNT, runInstance, startMoto, type LaunchedInstance, type Moto } from '../support/moto';
import { newHostKey, renew, startLifecycleServer, type HostKey, type LifecycleServer } from './support';

jest.setTimeout(120_000);

const DAY = 24 * 3600_000;
let moto: Moto;
let signer: IidSigner;
let s: LifecycleServer;
let dir: string;
const savedEnv = { ...process.env };

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-rejoin-'));
  [moto, signer] = await Promise.all([startMoto(), createIidSigner('us')]);
  // The server runs in this process: its AWS SDK reads the standard variables from here.
  Object.assign(process.env, moto.env);
  s = await startLifecycleServer({ JOINERY_EC2_EXTRA_CERTS: `us-west-2=${signer.writeCert(dir, 'us.pem')}` });
  await s.admin('POST', '/v1/tokens', {
    version: 'v2',
    metadata: { name: 'ec2-rejoin' },
    spec: { roles: ['Node'], join_method: 'ec2', aws_iid_ttl: '5m', allow: [{ aws_account: MOTO_DEFAULT_ACCOUNT, aws_regions: ['us-west-2'] }] },
  });
}, 120_000);

afterAll(async () => {
  await s?.stop();
  await moto?.stop();
  process.env = savedEnv;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** An identity document launched `agoMs` before the server's clock. */
async function iid(inst: LaunchedInstance, agoMs = 60_000): Promise<string> {
  const pendingTime = new Date(s.now().getTime() - agoMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return signer.sign(identityDocument({ accountId: inst.accountId, instanceId: inst.instanceId, region: inst.region, pendingTime }), { ber: true });
}

async function join(inst: LaunchedInstance, doc?: string, key: HostKey = newHostKey()) {
  const r = await s.request('POST', '/v1/join/ec2', { body: { token_name: 'ec2-rejoin', role: 'Node', iid: doc ?? (await iid(inst)), public_key: key.publicPem } });
  return { status: r.status, body: r.json(), key };
}

test('refused while live; joins again after its certificate lapsed unrenewed (aws_iid_ttl still applies)', async () => {
  const inst = await runInstance(moto, 'us-west-2');
  const hostId = `${inst.accountId}-${inst.instanceId}`;
  const first = await join(inst);
  expect(first.status).toBe(200);
  expect(first.body.host_id).toBe(hostId);

  const live = await join(inst);
  expect(live.status).toBe(409);
  expect(live.body.error.code).toBe('host_already_joined');

  // A renewal keeps it live: still refused a day later.
  s.advance(DAY - 3600_000);
  const renewed = await renew(s, { certificate: first.body.certificate, key: first.key });
  expect(renewed.status).toBe(200);
  s.advance(3600_000 + 60_000);
  expect((await join(inst)).body.error.code).toBe('host_already_joined');

  // No renewal for a whole lifetime: the registry says expired, and the instance may join again.
  s.advance(DAY);
  expect(await s.admin('GET', `/v1/nodes/${hostId}`)).toMatchObject({ status: 'expired' });
  const stale = await join(inst, await iid(inst, 2 * DAY));
  expect(stale.status).toBe(403);
  expect(stale.body.error.code).toBe('iid_ttl_exceeded');
  const again = await join(inst);
  expect(again.status).toBe(200);
  expect(again.body.host_id).toBe(hostId);
  const node = await s.admin<any>('GET', `/v1/nodes/${hostId}`);
  expect(node).toMatchObject({ status: 'active', last_renewed_at: null, token_name: 'ec2-rejoin', join_method: 'ec2' });
  expect(Date.parse(node.joined_at)).toBeGreaterThan(Date.parse(first.body.expires_at));

  // The lapsed identity's certificates do not carry over to the new one.
  const oldRenew = await renew(s, { certificate: renewed.json().certificate, key: first.key });
  expect(oldRenew.status).toBe(403);
  expect(oldRenew.json().error.code).toBe('certificate_expired');
});

test('a removed instance joins again at once; its old certificates stay revoked', async () => {
  const inst = await runInstance(moto, 'us-west-2');
  const hostId = `${inst.accountId}-${inst.instanceId}`;
  const first = await join(inst);
  expect(first.status).toBe(200);
  await s.admin('DELETE', `/v1/nodes/${hostId}`);
  const again = await join(inst);
  expect(again.status).toBe(200);
  expect(await s.admin('GET', `/v1/nodes/${hostId}`)).toMatchObject({ status: 'active', removed_at: null });

  const old = await renew(s, { certificate: first.body.certificate, key: first.key });
  expect(old.status).toBe(403);
  expect(old.json().error.code).toBe('node_removed');
  expect((await renew(s, { certificate: again.body.certificate, key: again.key })).status).toBe(200);
});

test('after a lapse, of concurrent joins of one instance exactly one wins', async () => {
  const inst = await runInstance(moto, 'us-west-2');
  expect((await join(inst)).status).toBe(200);
  s.advance(DAY + 60_000);
  const docs = await Promise.all(Array.from({ length: 6 }, () => iid(inst)));
  const results = await Promise.all(docs.map((d) => join(inst, d)));
  expect(results.filter((r) => r.status === 200)).toHaveLength(1);
  expect(results.filter((r) => r.status === 409).every((r) => r.body.error.code === 'host_already_joined')).toBe(true);
  expect(results.filter((r) => r.status === 409)).toHaveLength(5);
});
