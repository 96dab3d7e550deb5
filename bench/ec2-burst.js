// EC2 joins: a burst of 1,000 distinct instances at concurrency 250, each over its own TLS
// connection from its own loopback address (127.1.x.y: the server sees 1,000 clients, as it
// would from a real fleet, not one client at its per-client connection cap), against the
// throttled EC2 stand-in (100 burst, 20/s per account and region).
const { generateKeyPairSync } = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { runLoad } = require('./load');
const { startJoinery } = require('./processes');
const { startEc2StandIn } = require('./ec2-standin');
const { createIidSigner } = require('./iid-signer');
const { createToken } = require('./token-joins');

const ACCOUNT = '123456789012';
const REGION = 'us-west-2';

async function run({ instances = 1000, concurrency = 250, nodeArgs = [], env = {} } = {}) {
  const standIn = await startEc2StandIn({ account: ACCOUNT, burst: 100, refillPerSecond: 20 });
  const signer = await createIidSigner();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-bench-iid-'));
  const certFile = path.join(dir, 'iid.pem');
  fs.writeFileSync(certFile, signer.certPem);
  const pendingTime = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const ids = Array.from({ length: instances }, (_, i) => `i-${(0xb000000 + i).toString(16).padStart(17, '0')}`);
  for (const id of ids) standIn.addInstance({ id, region: REGION });
  const iids = [];
  for (const instanceId of ids) iids.push(await signer.sign({ accountId: ACCOUNT, instanceId, region: REGION, pendingTime }));
  const keys = Array.from({ length: 32 }, () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }));

  const server = await startJoinery(
    {
      JOINERY_JOIN_RATE_PER_MINUTE: '0',
      JOINERY_EC2_EXTRA_CERTS: `${REGION}=${certFile}`,
      AWS_ENDPOINT_URL_EC2: standIn.url,
      AWS_ACCESS_KEY_ID: 'AKIABENCHSTANDIN',
      AWS_SECRET_ACCESS_KEY: 'bench-standin-secret',
      AWS_REGION: REGION,
      AWS_EC2_METADATA_DISABLED: 'true',
      ...env,
    },
    nodeArgs,
  );
  try {
    await createToken(server, { version: 'v2', metadata: { name: 'bench-ec2' }, spec: { roles: ['Node'], join_method: 'ec2', allow: [{ aws_account: ACCOUNT, aws_regions: [REGION] }] } });
    const result = await runLoad({
      port: server.port,
      path: '/v1/join/ec2',
      ca: server.ca,
      concurrency,
      total: instances,
      maxSeconds: 90,
      keepAlive: false,
      timeoutMs: 60_000,
      sourceAddress: (i) => `127.1.${i >> 7}.${(i & 127) + 1}`,
      body: (i) => ({ token_name: 'bench-ec2', role: 'Node', iid: iids[i], public_key: keys[i % keys.length] }),
    });
    return { ...result, describeCalls: standIn.stats.calls, describeThrottled: standIn.stats.throttled, rssMb: server.rssMb() };
  } finally {
    await server.stop();
    await standIn.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

module.exports = { run };

if (require.main === module) {
  run().then((r) => console.log(JSON.stringify(r, (k, v) => (k === 'latencies' ? undefined : v), 1)), (e) => {
    console.error(e);
    process.exit(1);
  });
}
