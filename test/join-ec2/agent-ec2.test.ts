// The agent side: the IMDSv2 client against the local IMDS double, and `joinery join --method ec2`
// end to end against the running server (with moto behind it).

import { X509Certificate, createPrivateKey } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { prepareEc2Join } from '../../cli/agent/ec2';
import { ImdsClient, ImdsError } from '../../cli/agent/imds';
import { startImdsDouble, type ImdsDouble } from '../support/imds-double';
import { createIidSigner, identityDocument, type IidSigner } from '../support/iid-test-ca';
import { MOTO_DEFAULT_ACCOUNT, freePort, runInstance, type LaunchedInstance, type Moto, startMoto } from '../support/moto';
import { runCli, startTestServer, type TestServer } from '../support/server';

let signer: IidSigner;
let imds: ImdsDouble;
let dir: string;

jest.setTimeout(120_000);

async function identityOf(inst: Pick<LaunchedInstance, 'accountId' | 'instanceId' | 'region'>, pendingTime = new Date(Date.now() - 60_000).toISOString()) {
  const document = identityDocument({ accountId: inst.accountId, instanceId: inst.instanceId, region: inst.region, pendingTime });
  return { document, rsa2048: await signer.sign(document, { ber: true }) };
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-agent-'));
  signer = await createIidSigner('agent');
  imds = await startImdsDouble();
});
afterAll(async () => {
  await imds?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('IMDSv2 client', () => {
  test('takes a session token (MetadataService asks for one per read), then reads the document and the rsa2048 signature with it', async () => {
    const id = await identityOf({ accountId: '111111111111', instanceId: 'i-0aaaaaaaaaaaaaaa1', region: 'us-west-2' });
    imds.setIdentity(id);
    imds.requests.length = 0;
    const prepared = await prepareEc2Join({ tokenName: 'ec2-token', role: 'Node', publicKeyPem: 'PEM', env: { AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.endpoint } });
    expect(prepared).toEqual({
      path: '/v1/join/ec2',
      expectedHostId: '111111111111-i-0aaaaaaaaaaaaaaa1',
      body: { token_name: 'ec2-token', role: 'Node', iid: id.rsa2048, public_key: 'PEM' },
    });
    expect(imds.requests).toEqual([
      'PUT /latest/api/token 200',
      'GET /latest/dynamic/instance-identity/document 200',
      'PUT /latest/api/token 200',
      'GET /latest/dynamic/instance-identity/rsa2048 200',
    ]);
  });

  test('the double refuses reads without a session token (IMDSv1), so the client really uses v2', async () => {
    const res = await fetch(`${imds.endpoint}/latest/dynamic/instance-identity/document`);
    expect(res.status).toBe(401);
  });

  test('an unreachable metadata service is a clear error', async () => {
    const client = new ImdsClient({ endpoint: `http://127.0.0.1:${await freePort()}`, backoff: 0 });
    await expect(client.get('/latest/dynamic/instance-identity/document')).rejects.toThrow(ImdsError);
    await expect(client.get('/latest/dynamic/instance-identity/document')).rejects.toThrow(/only works on an EC2 instance/);
    expect(() => new ImdsClient('ftp://nope')).toThrow(/AWS_EC2_METADATA_SERVICE_ENDPOINT/);
  });
});

describe('joinery join --method ec2', () => {
  let moto: Moto;
  let server: TestServer;

  beforeAll(async () => {
    moto = await startMoto();
    const certFile = signer.writeCert(dir, 'signer.pem');
    server = await startTestServer({ env: { ...moto.env, JOINERY_EC2_EXTRA_CERTS: `us-west-2=${certFile}` } });
    await server.client().createToken({
      kind: 'token',
      version: 'v2',
      metadata: { name: 'ec2-token' },
      spec: { roles: ['Node'], join_method: 'ec2', aws_iid_ttl: '5m', allow: [{ aws_account: MOTO_DEFAULT_ACCOUNT, aws_regions: ['us-west-2'] }] },
    });
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    await moto?.stop();
  });

  const joinArgs = (dataDir: string, trust: string[]) => ['join', '--method', 'ec2', '--token', 'ec2-token', '--role', 'Node', '--server', server.addr, ...trust, '--data-dir', dataDir];

  test('joins with the instance identity and writes key (0600), certificate and CA', async () => {
    const inst = await runInstance(moto, 'us-west-2');
    imds.setIdentity(await identityOf(inst));
    const dataDir = path.join(dir, 'agent-1');
    const r = await runCli(joinArgs(dataDir, ['--ca-pin', server.caPin]), { env: { AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.endpoint } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const hostId = `${inst.accountId}-${inst.instanceId}`;
    expect(r.stdout).toContain(hostId);

    const key = path.join(dataDir, 'key.pem');
    expect(fs.statSync(key).mode & 0o777).toBe(0o600);
    const cert = new X509Certificate(fs.readFileSync(path.join(dataDir, 'cert.pem')));
    const ca = new X509Certificate(fs.readFileSync(path.join(dataDir, 'ca.pem')));
    expect(cert.subject).toContain(`CN=${hostId}`);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(fs.readFileSync(key)))).toBe(true);
    expect((await server.client().listNodes()).map((n) => n.host_id)).toContain(hostId);
  });

  test('with --ca-file as well', async () => {
    const inst = await runInstance(moto, 'us-west-2');
    imds.setIdentity(await identityOf(inst));
    const r = await runCli(joinArgs(path.join(dir, 'agent-2'), ['--ca-file', server.caFile]), { env: { AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.endpoint } });
    expect(r.code).toBe(0);
  });

  test('refuses a data directory that holds another host\'s identity, before joining', async () => {
    const first = await runInstance(moto, 'us-west-2');
    imds.setIdentity(await identityOf(first));
    const dataDir = path.join(dir, 'agent-3');
    expect((await runCli(joinArgs(dataDir, ['--ca-pin', server.caPin]), { env: { AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.endpoint } })).code).toBe(0);

    const other = await runInstance(moto, 'us-west-2');
    imds.setIdentity(await identityOf(other));
    const r = await runCli(joinArgs(dataDir, ['--ca-pin', server.caPin]), { env: { AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.endpoint } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${first.accountId}-${first.instanceId}`);
    expect((await server.client().listNodes()).map((n) => n.host_id)).not.toContain(`${other.accountId}-${other.instanceId}`);
    // The first identity is untouched.
    expect(JSON.parse(fs.readFileSync(path.join(dataDir, 'identity.json'), 'utf8')).host_id).toBe(`${first.accountId}-${first.instanceId}`);
  });

  test('a refusal from the server is reported with its code and nothing is written', async () => {
    const inst = await runInstance(moto, 'us-west-2');
    imds.setIdentity(await identityOf(inst, new Date(Date.now() - 3600_000).toISOString()));
    const dataDir = path.join(dir, 'agent-4');
    const r = await runCli(joinArgs(dataDir, ['--ca-pin', server.caPin]), { env: { AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.endpoint } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('iid_ttl_exceeded');
    expect(fs.existsSync(path.join(dataDir, 'key.pem'))).toBe(false);
  });
});

describe('joinery agent --method ec2', () => {
  // Short-lived certificates, so a lapse can be watched without waiting long.
  const TTL_SECONDS = 20;
  let moto: Moto;
  let server: TestServer;

  beforeAll(async () => {
    moto = await startMoto();
    const certFile = signer.writeCert(dir, 'signer-agent.pem');
    server = await startTestServer({ env: { ...moto.env, JOINERY_EC2_EXTRA_CERTS: `us-west-2=${certFile}`, JOINERY_HOST_CERT_TTL_SECONDS: String(TTL_SECONDS) } });
    await server.client().createToken({
      kind: 'token',
      version: 'v2',
      metadata: { name: 'ec2-agent-token' },
      spec: { roles: ['Node'], join_method: 'ec2', aws_iid_ttl: '5m', allow: [{ aws_account: MOTO_DEFAULT_ACCOUNT, aws_regions: ['us-west-2'] }] },
    });
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    await moto?.stop();
  });

  const agentArgs = (dataDir: string) => ['agent', '--auth-server', server.addr, '--ca-pin', server.caPin, '--data-dir', dataDir, '--method', 'ec2', '--token', 'ec2-agent-token', '--once'];

  test('--once joins with the instance identity; a second --once before renewal is due asks nothing', async () => {
    const inst = await runInstance(moto, 'us-west-2');
    imds.setIdentity(await identityOf(inst));
    const hostId = `${inst.accountId}-${inst.instanceId}`;
    const dataDir = path.join(dir, 'agent-ec2-once');
    const env = { AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.endpoint };
    const first = await runCli(agentArgs(dataDir), { env });
    expect(first.stderr).toContain(`joined as ${hostId} (method ec2, role Node)`);
    expect(first.code).toBe(0);
    imds.requests.length = 0;
    const second = await runCli(agentArgs(dataDir), { env });
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(/nothing to do/);
    expect(imds.requests).toEqual([]);
  });

  test('after the certificate lapsed, --once joins again as the same host (needs the server\'s re-join after a lapse)', async () => {
    const inst = await runInstance(moto, 'us-west-2');
    imds.setIdentity(await identityOf(inst));
    const hostId = `${inst.accountId}-${inst.instanceId}`;
    const dataDir = path.join(dir, 'agent-ec2-lapse');
    const env = { AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.endpoint };

    const first = await runCli(agentArgs(dataDir), { env });
    expect(first.stderr).toContain(`joined as ${hostId} (method ec2, role Node)`);
    expect(first.code).toBe(0);
    const before = new X509Certificate(fs.readFileSync(path.join(dataDir, 'cert.pem')));

    // Let it lapse (bounded by its own short life), as if the agent had been down.
    await new Promise((r) => setTimeout(r, Math.min(Math.max(0, Date.parse(before.validTo) - Date.now() + 1_000), (TTL_SECONDS + 2) * 1000)));
    const again = await runCli(agentArgs(dataDir), { env });
    expect(again.stderr).toMatch(new RegExp(`the certificate of ${hostId} expired at .*; renewal is impossible; joining again with the ec2 method`));
    expect(again.stderr).toContain(`re-joined as ${hostId}`);
    expect(again.code).toBe(0);
    const after = new X509Certificate(fs.readFileSync(path.join(dataDir, 'cert.pem')));
    expect(after.serialNumber).not.toBe(before.serialNumber);
    expect(after.subject).toContain(`CN=${hostId}`);
    expect(JSON.parse(fs.readFileSync(path.join(dataDir, 'identity.json'), 'utf8')).host_id).toBe(hostId);
  });
});
