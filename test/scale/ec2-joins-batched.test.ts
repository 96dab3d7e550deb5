// Through the real server: a burst of concurrent EC2 joins shares a few paced DescribeInstances
// calls (counted by the EC2 stand-in the bench uses), and an instance EC2 does not know fails only
// its own join.

import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApiError } from '../../client/api-client';
import { createIidSigner, identityDocument } from '../support/iid-test-ca';
import { startTestServer, type TestServer } from '../support/server';

const { startEc2StandIn } = require('../../bench/ec2-standin') as {
  startEc2StandIn: (opts?: Record<string, unknown>) => Promise<{ url: string; stats: { calls: number; instanceIdsParamCalls: number }; addInstance(i: { id: string; region: string }): void; stop(): Promise<void> }>;
};

const ACCOUNT = '123456789012';
const REGION = 'us-west-2';
let server: TestServer;
let standIn: Awaited<ReturnType<typeof startEc2StandIn>>;
let dir: string;
let sign: (instanceId: string) => Promise<string>;

jest.setTimeout(120_000);

beforeAll(async () => {
  standIn = await startEc2StandIn({ account: ACCOUNT });
  const signer = await createIidSigner('batched');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-batched-'));
  const certFile = signer.writeCert(dir, 'iid.pem');
  const pendingTime = new Date(Date.now() - 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  sign = (instanceId) => signer.sign(identityDocument({ accountId: ACCOUNT, instanceId, region: REGION, pendingTime }), { ber: true });
  server = await startTestServer({
    env: {
      JOINERY_EC2_EXTRA_CERTS: `${REGION}=${certFile}`,
      JOINERY_JOIN_RATE_PER_MINUTE: '0',
      AWS_ENDPOINT_URL_EC2: standIn.url,
      AWS_ACCESS_KEY_ID: 'AKIASTANDIN',
      AWS_SECRET_ACCESS_KEY: 'standin-secret',
      AWS_REGION: REGION,
      AWS_EC2_METADATA_DISABLED: 'true',
    },
  });
  await server.client().createToken({ version: 'v2', metadata: { name: 'ec2-burst' }, spec: { roles: ['Node'], join_method: 'ec2', allow: [{ aws_account: ACCOUNT, aws_regions: [REGION] }] } });
});

afterAll(async () => {
  await server?.stop();
  await standIn?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('42 concurrent joins share a few paced DescribeInstances calls; the 2 unknown instances are refused alone', async () => {
  const ids = Array.from({ length: 42 }, (_, i) => `i-${(0xa000 + i).toString(16).padStart(17, '0')}`);
  for (const id of ids.slice(0, 40)) standIn.addInstance({ id, region: REGION });
  const publicKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' });
  const bodies = await Promise.all(ids.map(async (id) => ({ token_name: 'ec2-burst', role: 'Node', public_key: publicKey, iid: await sign(id) })));
  const client = server.client();
  const started = Date.now();
  const results = await Promise.all(
    bodies.map((body) =>
      client.post<{ host_id: string }>('/v1/join/ec2', body).then(
        (r) => r.host_id,
        (e: ApiError) => e.code,
      ),
    ),
  );
  expect(results.slice(0, 40)).toEqual(ids.slice(0, 40).map((id) => `${ACCOUNT}-${id}`));
  expect(results.slice(40)).toEqual(['ec2_instance_not_found', 'ec2_instance_not_found']);
  const elapsedSeconds = (Date.now() - started) / 1000;
  // Joins reach the lookup spread by their own CPU cost, so how many batches form depends on the
  // machine; the pacer bounds it: 3 calls of burst, then 1 per second (the default).
  expect(standIn.stats.calls).toBeLessThanOrEqual(3 + Math.ceil(elapsedSeconds) + 1);
  expect(standIn.stats.calls).toBeLessThan(ids.length / 4);
  expect(standIn.stats.instanceIdsParamCalls).toBe(0);
});
