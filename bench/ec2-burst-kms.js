// The EC2 burst of 1,000 (bench/ec2-burst.js) with the cluster CA's key in AWS KMS: every join's
// certificate is signed by kms:Sign on the loopback KMS stand-in, which answers after an in-region
// latency and throttles below the signer's own pace (the signer allows itself 100 calls/s; the
// stand-in 50/s, as when other users of the account spend most of its ECC quota). The joins must
// still all succeed: throttled Signs are paced and retried (api/ca/signers/retry.ts).
const ec2Burst = require('./ec2-burst');
const { startKmsStandIn } = require('./kms-standin');

const KMS_LATENCY_MS = 10;
const KMS_SIGNS_PER_SECOND = 50;

async function run(opts = {}) {
  const kms = await startKmsStandIn({ latencyMs: KMS_LATENCY_MS, burst: KMS_SIGNS_PER_SECOND, refillPerSecond: KMS_SIGNS_PER_SECOND, region: 'us-west-2' });
  try {
    const r = await ec2Burst.run({ ...opts, env: { JOINERY_CA_KEY: `awskms:${kms.keyId}`, AWS_ENDPOINT_URL_KMS: kms.endpoint, ...opts.env } });
    return { ...r, signCalls: kms.stats.sign, signThrottled: kms.stats.throttled };
  } finally {
    await kms.close();
  }
}

module.exports = { run, KMS_LATENCY_MS, KMS_SIGNS_PER_SECOND };

if (require.main === module) {
  run().then((r) => console.log(JSON.stringify(r, (k, v) => (k === 'latencies' ? undefined : v), 1)), (e) => {
    console.error(e);
    process.exit(1);
  });
}
