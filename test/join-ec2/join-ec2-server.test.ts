// POST /v1/join/ec2 end to end: the real server process, moto for EC2 and STS (two accounts, the
// second reached through AssumeRole), and identity documents signed by a test signer that the
// server trusts through JOINERY_EC2_EXTRA_CERTS, exactly as an operator would configure it.

import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { ApiError, type JoineryClient } from '../../client/api-client';
import { createIidSigner, identityDocument, type IidSigner } from '../support/iid-test-ca';
import { MOTO_DEFAULT_ACCOUNT, assumeRole, createRole, runInstance, stopInstance, terminateInstance, type AwsCredentials, type LaunchedInstance, type Moto, startMoto } from '../support/moto';
import { startTestServer, type TestServer } from '../support/server';
import { VECTORS_FILE } from '../support/aws-vectors';


const ACCOUNT_A = MOTO_DEFAULT_ACCOUNT; // the server's own account
const ACCOUNT_B = '222222222222'; // a foreign account, reached through a role

let moto: Moto;
let server: TestServer;
let admin: JoineryClient;
let signer: IidSigner; // trusted for us-west-2 and us-east-1
let euSigner: IidSigner; // trusted for eu-west-1 only
let untrusted: IidSigner;
let dir: string;
let bCreds: AwsCredentials;
let roleB: string;

jest.setTimeout(120_000);

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-ec2-'));
  [moto, signer, euSigner, untrusted] = await Promise.all([startMoto(), createIidSigner('us'), createIidSigner('eu-west-1'), createIidSigner('untrusted')]);
  const usCert = signer.writeCert(dir, 'us.pem');
  const euCert = euSigner.writeCert(dir, 'eu.pem');
  server = await startTestServer({
    env: { ...moto.env, JOINERY_EC2_EXTRA_CERTS: `us-west-2=${usCert},us-east-1=${usCert},eu-west-1=${euCert}` },
  });
  admin = server.client();

  // Account B: bootstrap into it, create the role the server will assume (trusting account A).
  const bootstrap = await assumeRole(moto, `arn:aws:iam::${ACCOUNT_B}:role/OrganizationAccountAccessRole`);
  roleB = await createRole(moto, { roleName: 'teleport-DescribeInstances-role', accountId: ACCOUNT_B, trustedAccount: ACCOUNT_A, credentials: bootstrap });
  bCreds = await assumeRole(moto, roleB);

  await admin.createToken({
    kind: 'token',
    version: 'v2',
    metadata: { name: 'ec2-token' },
    spec: { roles: ['Node'], join_method: 'ec2', aws_iid_ttl: '5m', allow: [{ aws_account: ACCOUNT_A, aws_regions: ['us-west-1', 'us-west-2'] }] },
  });
  // The seed's multi-account token, with the foreign account's role.
  await admin.createToken({
    kind: 'token',
    version: 'v2',
    metadata: { name: 'ec2-multiaccount-token' },
    spec: { roles: ['Node'], aws_iid_ttl: '5m', allow: [{ aws_account: ACCOUNT_B, aws_regions: ['us-west-1', 'us-west-2'], aws_role: roleB }] },
  });
  await admin.createToken({
    kind: 'token',
    version: 'v2',
    metadata: { name: 'ec2-no-role-token' },
    spec: { roles: ['Node'], allow: [{ aws_account: ACCOUNT_B, aws_regions: ['us-west-2'] }] },
  });
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await moto?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function publicKeyPem(): string {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
}

const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');

async function iidFor(inst: Pick<LaunchedInstance, 'accountId' | 'instanceId' | 'region'>, opts: { pendingTime?: string; by?: IidSigner; ber?: boolean } = {}): Promise<string> {
  const doc = identityDocument({ accountId: inst.accountId, instanceId: inst.instanceId, region: inst.region, pendingTime: opts.pendingTime ?? minutesAgo(1) });
  return (opts.by ?? signer).sign(doc, { ber: opts.ber ?? true });
}

interface JoinOk {
  host_id: string;
  certificate: string;
  ca_certificates: string[];
}

function join(body: Record<string, unknown>): Promise<JoinOk> {
  return admin.post<JoinOk>('/v1/join/ec2', { role: 'Node', public_key: publicKeyPem(), ...body });
}

async function refused(body: Record<string, unknown>): Promise<ApiError> {
  try {
    await join(body);
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error('the join was accepted');
}

async function auditFor(hostId: string): Promise<{ success: boolean; code?: string; message?: string; tokenName?: string; details?: Record<string, unknown> }[]> {
  const { events } = await admin.request<{ events: { hostId?: string; success: boolean; code?: string; type: string }[] }>('GET', '/v1/audit?type=join.ec2&limit=1000');
  return events.filter((e) => e.hostId === hostId) as never;
}

describe('accepted joins', () => {
  test('single account: certificate for <account>-<instance>, node recorded with its AWS attributes, audited', async () => {
    const inst = await runInstance(moto, 'us-west-2');
    expect(inst.accountId).toBe(ACCOUNT_A);
    const hostId = `${ACCOUNT_A}-${inst.instanceId}`;
    const res = await join({ token_name: 'ec2-token', iid: await iidFor(inst), host_id: hostId });
    expect(res.host_id).toBe(hostId);

    const cert = new X509Certificate(res.certificate);
    const ca = new X509Certificate(res.ca_certificates[0]);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.subject).toContain(`CN=${hostId}`);
    expect(cert.subject).toContain('OU=Node');
    expect(cert.subjectAltName).toContain(hostId);

    const node = (await admin.listNodes()).find((n) => n.host_id === hostId)!;
    expect(node).toMatchObject({ join_method: 'ec2', token_name: 'ec2-token', role: 'Node', attributes: { account: ACCOUNT_A, region: 'us-west-2', instance_id: inst.instanceId } });

    const [event] = await auditFor(hostId);
    expect(event).toMatchObject({ success: true, tokenName: 'ec2-token', details: { method: 'ec2', role: 'Node', identity: { aws_account: ACCOUNT_A, aws_region: 'us-west-2', instance_id: inst.instanceId, instance_state: 'running' }, rules: [{ index: 0, matched: true, failures: [] }] } });
  });

  test('DER-encoded documents are accepted as well as BER', async () => {
    const inst = await runInstance(moto, 'us-west-2');
    await expect(join({ token_name: 'ec2-token', iid: await iidFor(inst, { ber: false }) })).resolves.toMatchObject({ host_id: `${ACCOUNT_A}-${inst.instanceId}` });
  });

  test('multi-account: the server assumes the rule\'s aws_role to see the instance in the other account', async () => {
    const inst = await runInstance(moto, 'us-west-2', bCreds);
    expect(inst.accountId).toBe(ACCOUNT_B);
    const res = await join({ token_name: 'ec2-multiaccount-token', iid: await iidFor(inst) });
    expect(res.host_id).toBe(`${ACCOUNT_B}-${inst.instanceId}`);
    const [event] = await auditFor(res.host_id);
    expect(event.details).toMatchObject({ identity: { described_as: roleB, aws_account: ACCOUNT_B, instance_state: 'running' } });
    // The assumed-role credentials are cached: a second instance of account B joins as well.
    const second = await runInstance(moto, 'us-west-2', bCreds);
    await expect(join({ token_name: 'ec2-multiaccount-token', iid: await iidFor(second) })).resolves.toMatchObject({ host_id: `${ACCOUNT_B}-${second.instanceId}` });
  });
});

describe('refused joins, each with its own code, each audited', () => {
  let instA: LaunchedInstance;
  beforeAll(async () => {
    instA = await runInstance(moto, 'us-west-2');
  });

  async function expectRefusal(body: Record<string, unknown>, code: string, status = 403): Promise<ApiError> {
    const err = await refused(body);
    expect({ code: err.code, status: err.status }).toEqual({ code, status });
    expect(err.message.length).toBeGreaterThan(20);
    return err;
  }

  test('multi-account without aws_role: the server\'s own account cannot see the instance', async () => {
    const inst = await runInstance(moto, 'us-west-2', bCreds);
    const err = await expectRefusal({ token_name: 'ec2-no-role-token', iid: await iidFor(inst) }, 'ec2_instance_not_found');
    expect(err.message).toContain('aws_role');
    const [event] = await auditFor(`${ACCOUNT_B}-${inst.instanceId}`);
    expect(event).toMatchObject({ success: false, code: 'ec2_instance_not_found' });
  });

  test('wrong account', async () => {
    const inst = await runInstance(moto, 'us-west-2', bCreds);
    const err = await expectRefusal({ token_name: 'ec2-token', iid: await iidFor(inst) }, 'aws_account_not_allowed');
    expect(err.message).toContain(ACCOUNT_B);
  });

  test('region not allowed', async () => {
    const inst = await runInstance(moto, 'us-east-1');
    const err = await expectRefusal({ token_name: 'ec2-token', iid: await iidFor(inst) }, 'aws_region_not_allowed');
    expect(err.message).toContain('us-east-1');
  });

  test('launched longer ago than aws_iid_ttl', async () => {
    const err = await expectRefusal({ token_name: 'ec2-token', iid: await iidFor(instA, { pendingTime: minutesAgo(6) }) }, 'iid_ttl_exceeded');
    expect(err.message).toContain(`instance ${ACCOUNT_A}-${instA.instanceId} launched at`);
    expect(err.message).toContain('is older than aws_iid_ttl 5m');
    const events = await auditFor(`${ACCOUNT_A}-${instA.instanceId}`);
    expect(events.some((e) => !e.success && e.code === 'iid_ttl_exceeded' && e.message?.includes('aws_iid_ttl'))).toBe(true);
  });

  test('pendingTime in the future', async () => {
    await expectRefusal({ token_name: 'ec2-token', iid: await iidFor(instA, { pendingTime: minutesAgo(-5) }) }, 'iid_pending_time_in_future');
    // Within the minute of allowed clock skew it is fine (the instance is then refused later, for another reason).
    const err = await refused({ token_name: 'ec2-token', iid: await iidFor(instA, { pendingTime: minutesAgo(-0.5) }), role: 'Proxy' });
    expect(err.code).toBe('role_not_allowed');
  });

  test('stopped and terminated instances', async () => {
    const stopped = await runInstance(moto, 'us-west-2');
    await stopInstance(moto, stopped);
    expect((await expectRefusal({ token_name: 'ec2-token', iid: await iidFor(stopped) }, 'ec2_instance_not_running')).message).toContain('stopped');
    const terminated = await runInstance(moto, 'us-west-2');
    await terminateInstance(moto, terminated);
    expect((await expectRefusal({ token_name: 'ec2-token', iid: await iidFor(terminated) }, 'ec2_instance_not_running')).message).toContain('terminated');
  });

  test('instance unknown to EC2', async () => {
    await expectRefusal({ token_name: 'ec2-token', iid: await iidFor({ accountId: ACCOUNT_A, instanceId: 'i-0123456789abcdef0', region: 'us-west-2' }) }, 'ec2_instance_not_found');
  });

  test('tampered document: one byte changed', async () => {
    const der = Buffer.from(await iidFor(instA), 'base64');
    const at = der.indexOf(Buffer.from(instA.instanceId)) + instA.instanceId.length - 1;
    der[at] = der[at] === 0x30 ? 0x31 : 0x30;
    await expectRefusal({ token_name: 'ec2-token', iid: der.toString('base64') }, 'iid_signature_invalid');
  });

  test('signed with the certificate of another region', async () => {
    await expectRefusal({ token_name: 'ec2-token', iid: await iidFor(instA, { by: euSigner }) }, 'iid_signature_invalid');
  });

  test('signed by an untrusted CA', async () => {
    await expectRefusal({ token_name: 'ec2-token', iid: await iidFor(instA, { by: untrusted }) }, 'iid_signature_invalid');
  });

  test('expired token', async () => {
    await admin.createToken({
      kind: 'token',
      version: 'v2',
      metadata: { name: 'ec2-expired', expires: '2020-01-01T00:00:00Z' },
      spec: { roles: ['Node'], join_method: 'ec2', allow: [{ aws_account: ACCOUNT_A }] },
    });
    const err = await expectRefusal({ token_name: 'ec2-expired', iid: await iidFor(instA) }, 'token_expired');
    expect(err.message).toContain('2020-01-01');
  });

  test('token of another join method', async () => {
    await admin.createToken({ kind: 'token', version: 'v2', metadata: { name: 'iam-token' }, spec: { roles: ['Node'], join_method: 'iam', allow: [{ aws_account: ACCOUNT_A }] } });
    await expectRefusal({ token_name: 'iam-token', iid: await iidFor(instA) }, 'join_method_mismatch');
  });

  test('unknown token', async () => {
    await expectRefusal({ token_name: 'no-such-token', iid: await iidFor(instA) }, 'token_not_found');
  });

  test('role not in the token', async () => {
    await expectRefusal({ token_name: 'ec2-token', role: 'Proxy', iid: await iidFor(instA) }, 'role_not_allowed');
  });

  test('host_id that is not <account>-<instance>', async () => {
    const err = await expectRefusal({ token_name: 'ec2-token', iid: await iidFor(instA), host_id: 'some-other-host' }, 'host_id_mismatch');
    expect(err.message).toContain(`${ACCOUNT_A}-${instA.instanceId}`);
  });

  test('malformed requests are 400s with a code', async () => {
    await expectRefusal({ token_name: 'ec2-token', iid: 'not base64 at all!' }, 'iid_malformed', 400);
    await expectRefusal({ token_name: 'ec2-token' }, 'invalid_request', 400);
    await expectRefusal({ token_name: 'ec2-token', iid: await iidFor(instA), public_key: 'nope' }, 'invalid_public_key', 400);
    await expectRefusal({ token_name: 'ec2-token', iid: Buffer.from('{"accountId":"1"}').toString('base64') }, 'iid_malformed', 400);
  });
});

describe('one join per instance', () => {
  test('a second join is refused, and allowed again after the node is removed', async () => {
    const inst = await runInstance(moto, 'us-west-2');
    const hostId = `${ACCOUNT_A}-${inst.instanceId}`;
    await join({ token_name: 'ec2-token', iid: await iidFor(inst) });
    const err = await refused({ token_name: 'ec2-token', iid: await iidFor(inst) });
    expect({ status: err.status, code: err.code }).toEqual({ status: 409, code: 'host_already_joined' });
    expect(err.message).toContain(`joinery nodes rm ${hostId}`);

    expect(await admin.deleteNode(hostId)).toBe(true);
    await expect(join({ token_name: 'ec2-token', iid: await iidFor(inst) })).resolves.toMatchObject({ host_id: hostId });
  });

  test('a joined instance is refused from the registry, before EC2 is asked', async () => {
    const inst = await runInstance(moto, 'us-west-2');
    await join({ token_name: 'ec2-token', iid: await iidFor(inst) });
    await terminateInstance(moto, inst);
    // Were EC2 asked, this would be ec2_instance_not_running.
    expect((await refused({ token_name: 'ec2-token', iid: await iidFor(inst) })).code).toBe('host_already_joined');
  });

  test('concurrent joins of one instance: exactly one gets a certificate', async () => {
    const inst = await runInstance(moto, 'us-west-2');
    const iid = await iidFor(inst);
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => join({ token_name: 'ec2-token', iid })));
    const ok = results.filter((r) => r.status === 'fulfilled');
    const codes = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as ApiError).code] : []));
    expect(ok).toHaveLength(1);
    expect(codes).toEqual(Array(5).fill('host_already_joined'));
    expect((await admin.listNodes()).filter((n) => n.host_id === `${ACCOUNT_A}-${inst.instanceId}`)).toHaveLength(1);
  });
});

describe('real AWS-signed documents', () => {
  const vectors: { iid_rsa2048: string; accountId: string; region: string; instanceId: string; pendingTime: string }[] = JSON.parse(fs.readFileSync(VECTORS_FILE, 'utf8')).vectors;

  test('pass the signature and TTL checks and are refused only at the instance check', async () => {
    const years = Math.ceil((Date.now() - Date.parse('2021-01-01T00:00:00Z')) / 3600_000) + 24;
    await admin.createToken({
      kind: 'token',
      version: 'v2',
      metadata: { name: 'ec2-vectors' },
      spec: { roles: ['Node'], join_method: 'ec2', aws_iid_ttl: `${years}h`, allow: vectors.map((v) => ({ aws_account: v.accountId, aws_regions: [v.region] })) },
    });
    for (const v of vectors) {
      const err = await refused({ token_name: 'ec2-vectors', iid: v.iid_rsa2048, host_id: `${v.accountId}-${v.instanceId}` });
      expect({ code: err.code, status: err.status }).toEqual({ code: 'ec2_instance_not_found', status: 403 });
      expect(err.message).toContain(v.instanceId);
    }
    // With the seed's 5m TTL the same documents stop at the TTL check.
    const err = await refused({ token_name: 'ec2-token', iid: vectors.find((v) => v.region === 'us-west-2')!.iid_rsa2048 });
    expect(err.code).toBe('iid_ttl_exceeded');
    expect(err.message).toContain('launched at 2021-09-03T21:25:44Z is older than aws_iid_ttl 5m');
  });
});

test('mutated and truncated documents over HTTP: always a 4xx with a code', async () => {
  const inst = await runInstance(moto, 'us-west-2');
  const valid = Buffer.from(await iidFor(inst), 'base64');
  await fc.assert(
    fc.asyncProperty(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), fc.integer({ min: 1, max: 255 }), fc.boolean(), async (at, x, truncate) => {
      const i = Math.floor(at * valid.length);
      const b = Buffer.from(valid);
      b[i] ^= x;
      const iid = (truncate ? valid.subarray(0, i) : b).toString('base64');
      try {
        await join({ token_name: 'ec2-token', iid });
      } catch (e) {
        const err = e as ApiError;
        expect(err).toBeInstanceOf(ApiError);
        expect(err.status).toBeGreaterThanOrEqual(400);
        expect(err.status).toBeLessThan(500);
        expect(err.code).toMatch(/^[a-z0-9_]+$/);
        return;
      }
      // A change the signature does not cover (e.g. in the unsigned algorithm parameters) may still
      // join this instance once; a second acceptance would be a bug.
      await admin.deleteNode(`${ACCOUNT_A}-${inst.instanceId}`);
    }),
    { numRuns: 60 },
  );
});

test('the server never answered 5xx during this suite', () => {
  expect(server.output()).not.toMatch(/"level":50|join failed unexpectedly/);
});
