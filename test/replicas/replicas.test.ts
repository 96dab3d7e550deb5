// Two Joinery replicas on one PostgreSQL database behave as one cluster: an EC2 instance joins
// exactly once however its attempts are spread over them, an IAM challenge is single-use across
// them, concurrent revisioned PUTs through both lose no update, and what one writes the other reads.

import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { prepareIamJoin } from '../../cli/agent/iam';
import { ApiError, type JoineryClient } from '../../client/api-client';
import { callerIdentityXml, startFakeSts, type FakeSts } from '../support/fake-sts';
import { createIidSigner, identityDocument, type IidSigner } from '../support/iid-test-ca';
import { MOTO_DEFAULT_ACCOUNT, runInstance, startMoto, type LaunchedInstance, type Moto } from '../support/moto';
import { TEST_CREDENTIALS } from '../join-iam/signed-request';
import { startReplicas, type Replicas } from './cluster';

const ACCOUNT = MOTO_DEFAULT_ACCOUNT;
const IAM_ARN = `arn:aws:iam::${ACCOUNT}:user/joiner`;

let moto: Moto;
let sts: FakeSts;
let signer: IidSigner;
let dir: string;
let cluster: Replicas;
let a: JoineryClient;
let b: JoineryClient;

jest.setTimeout(120_000);

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-replicas-'));
  [moto, sts, signer] = await Promise.all([startMoto(), startFakeSts({ status: 200, contentType: 'text/xml', body: callerIdentityXml(ACCOUNT, IAM_ARN) }), createIidSigner('replicas')]);
  const cert = signer.writeCert(dir, 'iid.pem');
  cluster = await startReplicas({ ...moto.env, JOINERY_EC2_EXTRA_CERTS: `us-west-2=${cert}`, JOINERY_IAM_STS_TEST_ENDPOINT: sts.url });
  a = cluster.a.client();
  b = cluster.b.client();
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
  await Promise.all([moto?.stop(), sts?.stop()]);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function publicKeyPem(): string {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
}

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (e instanceof ApiError) return e.code;
    throw e;
  }
}

test('both replicas serve the same cluster: one CA, one storage', async () => {
  const [sa, sb] = await Promise.all([a.request<{ ca_pin: string; storage: string }>('GET', '/v1/status'), b.request<{ ca_pin: string; storage: string }>('GET', '/v1/status')]);
  expect(sa.storage).toBe('postgres');
  expect(sb).toMatchObject({ storage: 'postgres', ca_pin: sa.ca_pin });
  expect(cluster.a.port).not.toBe(cluster.b.port);
});

test('tokens written at one replica are read at the other; a delete at one is seen at the other', async () => {
  const token = { version: 'v2', metadata: { name: 'shared-iam-token-read' }, spec: { roles: ['Node'], join_method: 'iam', allow: [{ aws_account: ACCOUNT }] } };
  await a.createToken(token);
  const read = await b.getToken('shared-iam-token-read');
  expect(read?.spec).toMatchObject({ join_method: 'iam', roles: ['Node'] });
  expect((await b.listTokens()).map((t) => t.metadata.name)).toContain('shared-iam-token-read');
  expect(await b.deleteToken('shared-iam-token-read')).toBe(true);
  expect(await a.getToken('shared-iam-token-read')).toBeUndefined();
});

test('the same EC2 instance joining through both replicas at once succeeds exactly once', async () => {
  await a.createToken({ version: 'v2', metadata: { name: 'ec2-replicas' }, spec: { roles: ['Node'], join_method: 'ec2', aws_iid_ttl: '5m', allow: [{ aws_account: ACCOUNT, aws_regions: ['us-west-2'] }] } });
  const pendingTime = new Date(Date.now() - 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const instances: LaunchedInstance[] = [];
  for (let i = 0; i < 3; i++) instances.push(await runInstance(moto, 'us-west-2'));

  for (const inst of instances) {
    const iid = await signer.sign(identityDocument({ accountId: inst.accountId, instanceId: inst.instanceId, region: inst.region, pendingTime }));
    const body = () => ({ token_name: 'ec2-replicas', role: 'Node', iid, public_key: publicKeyPem() });
    // Four attempts per replica, all in flight together.
    const attempts = Array.from({ length: 8 }, (_, i) => outcome((i % 2 ? b : a).post('/v1/join/ec2', body())));
    const results = await Promise.all(attempts);
    expect(results.filter((r) => r === 'ok')).toHaveLength(1);
    expect(results.filter((r) => r !== 'ok')).toEqual(Array(7).fill('host_already_joined'));

    const hostId = `${ACCOUNT}-${inst.instanceId}`;
    for (const c of [a, b]) expect((await c.listNodes()).filter((n) => n.host_id === hostId)).toHaveLength(1);
  }
});

test('a lock made at one replica refuses a fresh, validly signed document at both at once; after locks rm at the other it joins', async () => {
  await a.createToken({ version: 'v2', metadata: { name: 'ec2-locked' }, spec: { roles: ['Node'], join_method: 'ec2', aws_iid_ttl: '5m', allow: [{ aws_account: ACCOUNT, aws_regions: ['us-west-2'] }] } });
  const inst = await runInstance(moto, 'us-west-2');
  const body = async () => {
    const pendingTime = new Date(Date.now() - 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const iid = await signer.sign(identityDocument({ accountId: inst.accountId, instanceId: inst.instanceId, region: inst.region, pendingTime }));
    return { token_name: 'ec2-locked', role: 'Node', iid, public_key: publicKeyPem() };
  };
  const lock = await a.createLock({ kind: 'instance_id', target: inst.instanceId, message: 'replica incident' });
  // No wait: the very next join at either replica reads the lock from the database.
  for (const c of [a, b]) {
    const refused = await c.post('/v1/join/ec2', await body()).then(
      () => undefined,
      (e: ApiError) => e,
    );
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ code: 'locked', status: 403 });
    expect(refused!.message).toContain('replica incident');
  }
  expect(await b.deleteLock(lock.id)).toBe(true);
  expect(await outcome(a.post('/v1/join/ec2', await body()))).toBe('ok');
});

test('an IAM challenge issued by one replica is redeemed at the other, then refused as used at both', async () => {
  await b.createToken({ version: 'v2', metadata: { name: 'iam-replicas' }, spec: { roles: ['Node'], join_method: 'iam', allow: [{ aws_account: ACCOUNT, aws_arn: `arn:aws:iam::${ACCOUNT}:user/*` }] } });
  // The agent's own code fetches the challenge from replica A and signs over it.
  const prepared = await prepareIamJoin({ client: a, tokenName: 'iam-replicas', role: 'Node', publicKeyPem: publicKeyPem(), credentials: TEST_CREDENTIALS, env: {} });

  const joined = await b.post<{ host_id: string; certificate: string; ca_certificates: string[] }>('/v1/join/iam', prepared.body);
  expect(new X509Certificate(joined.certificate).verify(new X509Certificate(joined.ca_certificates[0]).publicKey)).toBe(true);
  expect((await a.listNodes()).map((n) => n.host_id)).toContain(joined.host_id);

  expect(await outcome(a.post('/v1/join/iam', prepared.body))).toBe('iam_challenge_used');
  expect(await outcome(b.post('/v1/join/iam', prepared.body))).toBe('iam_challenge_used');
});

test('one IAM challenge redeemed at both replicas at once admits exactly one host', async () => {
  const prepared = await prepareIamJoin({ client: b, tokenName: 'iam-replicas', role: 'Node', publicKeyPem: publicKeyPem(), credentials: TEST_CREDENTIALS, env: {} });
  const results = await Promise.all(Array.from({ length: 6 }, (_, i) => outcome((i % 2 ? b : a).post('/v1/join/iam', prepared.body))));
  expect(results.filter((r) => r === 'ok')).toHaveLength(1);
  expect(results.filter((r) => r !== 'ok')).toEqual(Array(5).fill('iam_challenge_used'));
});

test('concurrent PUTs with revisions through both replicas lose no update', async () => {
  const name = 'counter-token';
  await a.createToken({ version: 'v2', metadata: { name, labels: { count: '0' } }, spec: { roles: ['Node'], join_method: 'iam', allow: [{ aws_account: ACCOUNT }] } });
  const WORKERS = 6;
  const INCREMENTS = 5;
  const MAX_TRIES = 500; // bounds each loop; real contention needs far fewer
  let conflicts = 0;

  const worker = async (w: number) => {
    for (let i = 0; i < INCREMENTS; i++) {
      for (let tries = 0; ; tries++) {
        if (tries >= MAX_TRIES) throw new Error(`worker ${w} gave up after ${MAX_TRIES} conflicts`);
        // Read at one replica, write at the other half of the time.
        const reader = (w + i + tries) % 2 ? a : b;
        const writer = (w + tries) % 2 ? b : a;
        const current = (await reader.getToken(name))!;
        const labels = current.metadata.labels as Record<string, string>;
        const next = { ...current, metadata: { ...current.metadata, labels: { ...labels, count: String(Number(labels.count) + 1) } } };
        delete (next as { status?: unknown }).status;
        try {
          await writer.putToken(next as never);
          break;
        } catch (e) {
          if (e instanceof ApiError && e.status === 409 && e.code === 'revision_conflict') {
            conflicts++;
            continue;
          }
          throw e;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));

  for (const c of [a, b]) expect((await c.getToken(name))!.metadata.labels).toMatchObject({ count: String(WORKERS * INCREMENTS) });
  // The test only means something if writers actually collided.
  expect(conflicts).toBeGreaterThan(0);
});
