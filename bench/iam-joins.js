// IAM joins at concurrency 100 against a fake STS that answers in 50 ms: each join fetches a
// challenge, signs GetCallerIdentity over it (the agent's own code) and posts the join, each
// request over a new TLS connection as separate agents would.
const { generateKeyPairSync } = require('node:crypto');
const { runLoad } = require('./load');
const { startJoinery } = require('./processes');
const { startFakeSts } = require('./fake-sts');
const { createToken } = require('./token-joins');
const { prepareIamJoin } = require('../dist/cli/agent/iam');

const ACCOUNT = '123456789012';
const ARN = `arn:aws:iam::${ACCOUNT}:user/bench-joiner`;
const CREDENTIALS = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };

async function run({ total = 1500, concurrency = 100, maxSeconds = 20, nodeArgs = [] } = {}) {
  const sts = await startFakeSts({ account: ACCOUNT, arn: ARN, delayMs: 50 });
  const server = await startJoinery({ JOINERY_JOIN_RATE_PER_MINUTE: '0', JOINERY_IAM_STS_TEST_ENDPOINT: sts.url }, nodeArgs);
  const keys = Array.from({ length: 32 }, () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }));
  try {
    await createToken(server, { version: 'v2', metadata: { name: 'bench-iam' }, spec: { roles: ['Node'], join_method: 'iam', allow: [{ aws_account: ACCOUNT, aws_arn: `arn:aws:iam::${ACCOUNT}:user/*` }] } });
    const flow = async (i, send) => {
      const client = {
        post: async (path) => {
          const res = await send({ path }, {});
          if (res.status !== 200) throw Object.assign(new Error(res.body), { res });
          return JSON.parse(res.body);
        },
      };
      let prepared;
      try {
        prepared = await prepareIamJoin({ client, tokenName: 'bench-iam', role: 'Node', publicKeyPem: keys[i % keys.length], credentials: CREDENTIALS, env: {} });
      } catch (e) {
        return e.res ?? { status: 0, body: String(e) };
      }
      return send({ path: prepared.path }, prepared.body);
    };
    const result = await runLoad({ port: server.port, ca: server.ca, concurrency, total, maxSeconds, keepAlive: false, flow });
    return { ...result, stsCalls: sts.calls(), rssMb: server.rssMb() };
  } finally {
    await server.stop();
    await sts.stop();
  }
}

module.exports = { run };

if (require.main === module) {
  run().then((r) => console.log(JSON.stringify(r, (k, v) => (k === 'latencies' ? undefined : v), 1)), (e) => {
    console.error(e);
    process.exit(1);
  });
}
