// Locks and the inventory against a real join: a locked EC2 instance presenting a fresh, validly
// signed identity document is refused `locked` (the lock matches the verified identity, not a
// row), its renewal is refused, its serial is on the CRL; after `locks rm` it joins again. The
// inventory records the agent's report, the verified identity and the instance's tags, taken
// from the DescribeInstances answer the join makes anyway. moto answers DescribeInstances.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { CreateTagsCommand } from '@aws-sdk/client-ec2';
import { expireLocks } from '../../api/server/housekeeping';
import { createIidSigner, identityDocument, type IidSigner } from '../support/iid-test-ca';
import { MOTO_DEFAULT_ACCOUNT, ec2Client, runInstance, startMoto, type LaunchedInstance, type Moto } from '../support/moto';
import { joinWithToken, newHostKey, renew, startLifecycleServer, type HostKey, type LifecycleServer } from './support';

jest.setTimeout(120_000);

let moto: Moto;
let signer: IidSigner;
let s: LifecycleServer;
let dir: string;
const savedEnv = { ...process.env };

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-locks-'));
  [moto, signer] = await Promise.all([startMoto(), createIidSigner('us')]);
  Object.assign(process.env, moto.env);
  s = await startLifecycleServer({ JOINERY_EC2_EXTRA_CERTS: `us-west-2=${signer.writeCert(dir, 'us.pem')}` });
  await s.admin('POST', '/v1/tokens', {
    version: 'v2',
    metadata: { name: 'ec2-locks' },
    spec: { roles: ['Node'], join_method: 'ec2', aws_iid_ttl: '5m', allow: [{ aws_account: MOTO_DEFAULT_ACCOUNT, aws_regions: ['us-west-2'] }] },
  });
}, 120_000);

afterAll(async () => {
  await s?.stop();
  await moto?.stop();
  process.env = savedEnv;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function iid(inst: LaunchedInstance): Promise<string> {
  const pendingTime = new Date(s.now().getTime() - 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return signer.sign(identityDocument({ accountId: inst.accountId, instanceId: inst.instanceId, region: inst.region, pendingTime }), { ber: true });
}

async function join(inst: LaunchedInstance, extra: Record<string, unknown> = {}, key: HostKey = newHostKey()) {
  const r = await s.request('POST', '/v1/join/ec2', { body: { token_name: 'ec2-locks', role: 'Node', iid: await iid(inst), public_key: key.publicPem, ...extra } });
  return { status: r.status, body: r.json(), key };
}

const serialOf = (pem: string) => new X509Certificate(pem).serialNumber.toLowerCase().replace(/^0+/, '');

async function crlSerials(): Promise<string[]> {
  const r = await s.request('GET', '/v1/crl');
  expect(r.status).toBe(200);
  const text = execFileSync('openssl', ['crl', '-inform', 'DER', '-noout', '-text'], { input: r.body }).toString();
  return [...text.matchAll(/Serial Number: ([0-9A-F]+)/gi)].map((m) => m[1].toLowerCase().replace(/^0+/, ''));
}

async function tag(inst: LaunchedInstance, tags: Record<string, string>): Promise<void> {
  const ec2 = ec2Client(moto, inst.region);
  try {
    await ec2.send(new CreateTagsCommand({ Resources: [inst.instanceId], Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) }));
  } finally {
    ec2.destroy();
  }
}

test('the inventory: last seen, agent report, verified identity and the instance tags as labels', async () => {
  const inst = await runInstance(moto, 'us-west-2');
  await tag(inst, { Team: 'payments', Name: 'web-1' });
  const joined = await join(inst, { agent_version: '1.2.3', hostname: 'web-1.internal' });
  expect(joined.status).toBe(200);
  const node = await s.admin<any>('GET', `/v1/nodes/${joined.body.host_id}`);
  expect(node).toMatchObject({
    agent_version: '1.2.3',
    hostname: 'web-1.internal',
    identity: { aws_account: inst.accountId, aws_region: 'us-west-2', instance_id: inst.instanceId },
    labels: { 'aws/Team': 'payments', 'aws/Name': 'web-1' },
    last_seen: node.joined_at,
  });
  // A renewal moves last_seen and takes the agent's new report.
  s.advance(60_000);
  const renewed = await renew(s, { certificate: joined.body.certificate, key: joined.key }, { agent_version: '1.2.4' });
  expect(renewed.status).toBe(200);
  const after = await s.admin<any>('GET', `/v1/nodes/${joined.body.host_id}`);
  expect(after.agent_version).toBe('1.2.4');
  expect(after.hostname).toBe('web-1.internal');
  expect(Date.parse(after.last_seen)).toBeGreaterThan(Date.parse(node.last_seen));

  // Filters: by label, method, token, status and staleness.
  const byLabel = await s.admin<any>('GET', `/v1/nodes?label=${encodeURIComponent('aws/Team=payments')}&method=ec2&token=ec2-locks&status=active`);
  expect(byLabel.nodes.map((n: any) => n.host_id)).toEqual([joined.body.host_id]);
  expect((await s.admin<any>('GET', `/v1/nodes?label=${encodeURIComponent('aws/Team=pay%')}`)).nodes).toEqual([]);
  expect((await s.admin<any>('GET', '/v1/nodes?stale=1h')).nodes.map((n: any) => n.host_id)).not.toContain(joined.body.host_id);
  s.advance(2 * 3600_000);
  expect((await s.admin<any>('GET', '/v1/nodes?stale=1h')).nodes.map((n: any) => n.host_id)).toContain(joined.body.host_id);

  // A report that could act on a terminal, or a filter that does not hold, is a 400.
  const hostile = await join(await runInstance(moto, 'us-west-2'), { hostname: 'evil\u001b]0;pwned\u0007' });
  expect(hostile.status).toBe(400);
  expect(hostile.body.error.code).toBe('invalid_request');
  for (const q of ['status=gone', 'stale=soon', 'label=novalue', 'colour=red']) {
    const r = await s.request('GET', `/v1/nodes?${q}`, { headers: { authorization: `Bearer ${s.adminToken}` } });
    expect(r.status).toBe(400);
    expect(r.json().error.code).toBe('invalid_query');
  }
});

test('a locked instance with a fresh, valid document is refused `locked`; its renewal too; its serial is on the CRL; after locks rm it joins', async () => {
  const inst = await runInstance(moto, 'us-west-2');
  const first = await join(inst);
  expect(first.status).toBe(200);
  const serial = serialOf(first.body.certificate);

  const lock = await s.admin<any>('POST', '/v1/locks', { kind: 'instance_id', target: inst.instanceId, ttl: '24h', message: 'incident 42' });
  expect(lock).toMatchObject({ kind: 'instance_id', target: inst.instanceId, message: 'incident 42', revoked_certificates: 1 });
  expect((await s.admin<any>('GET', '/v1/locks')).locks.map((l: any) => l.id)).toContain(lock.id);
  expect(await crlSerials()).toContain(serial);

  const renewal = await renew(s, { certificate: first.body.certificate, key: first.key });
  expect(renewal.status).toBe(403);
  expect(renewal.json().error.code).toBe('locked');

  // Removed (or lapsed), it would normally join again at once: the lock keeps it out.
  await s.admin('DELETE', `/v1/nodes/${first.body.host_id}`);
  const locked = await join(inst);
  expect(locked.status).toBe(403);
  expect(locked.body.error).toMatchObject({ code: 'locked' });
  expect(locked.body.error.message).toContain('incident 42');

  const events = await s.admin<any>('GET', '/v1/audit?refused=true&code=locked');
  expect(events.events[0]).toMatchObject({ type: 'join.ec2', code: 'locked' });

  await s.admin('DELETE', `/v1/locks/${lock.id}`);
  const again = await join(inst);
  expect(again.status).toBe(200);
  const changes = await s.admin<any>('GET', '/v1/audit?type=lock.delete');
  expect(changes.events[0]).toMatchObject({ eventCode: 'JL002I', details: { lock_id: lock.id } });
  expect((await s.admin<any>('GET', '/v1/audit?type=lock.create')).events[0]).toMatchObject({ eventCode: 'JL001I', details: { revoked_certificates: 1 } });
});

test('a lock expires with its TTL; an account lock matches every instance of it; a token lock matches token hosts', async () => {
  const inst = await runInstance(moto, 'us-west-2');
  const lock = await s.admin<any>('POST', '/v1/locks', { kind: 'account', target: inst.accountId, ttl: '1h' });
  expect((await join(inst)).body.error?.code).toBe('locked');
  s.advance(3600_000 + 1000);
  expect((await join(inst)).status).toBe(200);
  expect(await expireLocks(s.server.store, s.now())).toBe(1);
  expect((await s.admin<any>('GET', '/v1/audit?type=lock.expire')).events[0]).toMatchObject({ eventCode: 'JL003I', details: { lock_id: lock.id } });
  expect((await s.admin<any>('GET', '/v1/locks')).locks.map((l: any) => l.id)).not.toContain(lock.id);

  const host = await joinWithToken(s, 'locks-token-0123456789abcdef');
  const tokenLock = await s.admin<any>('POST', '/v1/locks', { kind: 'token', target: 'locks-token-0123456789abcdef' });
  // The token is the secret: lists and the audit show it masked.
  expect(tokenLock.target).not.toContain('locks-token');
  const r = await renew(s, host);
  expect(r.json().error.code).toBe('locked');
  await s.admin('DELETE', `/v1/locks/${tokenLock.id}`);
  // An ec2 token's name is no secret: its lock shows it.
  const ec2Lock = await s.admin<any>('POST', '/v1/locks', { kind: 'token', target: 'ec2-locks' });
  expect(ec2Lock.target).toBe('ec2-locks');
  expect((await s.admin<any>('GET', '/v1/locks')).locks.find((l: any) => l.id === ec2Lock.id).target).toBe('ec2-locks');
  await s.admin('DELETE', `/v1/locks/${ec2Lock.id}`);
});

test('bad lock requests are 400s naming the field', async () => {
  const cases: [unknown, string][] = [
    [{ kind: 'planet', target: 'x' }, 'kind'],
    [{ kind: 'host_id', target: '' }, 'target'],
    [{ kind: 'host_id', target: 'a\u202eb' }, 'target'],
    [{ kind: 'arn', target: '**' }, 'target'],
    [{ kind: 'host_id', target: 'h', ttl: '-1h' }, 'ttl'],
    [{ kind: 'host_id', target: 'h', ttl: '100000h' }, 'ttl'],
    [{ kind: 'host_id', target: 'h', message: 'x'.repeat(300) }, 'message'],
    [{ kind: 'host_id', target: 'h', extra: 1 }, 'extra'],
  ];
  for (const [body, field] of cases) {
    const r = await s.request('POST', '/v1/locks', { body, headers: { authorization: `Bearer ${s.adminToken}` } });
    expect(r.status).toBe(400);
    expect(r.json().error).toMatchObject({ code: 'invalid_lock', field });
  }
  expect((await s.request('DELETE', '/v1/locks/nope', { headers: { authorization: `Bearer ${s.adminToken}` } })).status).toBe(404);
  expect((await s.request('GET', '/v1/locks')).status).toBe(401);
});
