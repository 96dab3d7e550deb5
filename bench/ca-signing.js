// The cost of signing one host certificate with the cluster CA's key where it lives: a key file
// (node:crypto in-process), AWS KMS (the loopback stand-in answering after an AWS-like latency),
// and PKCS#11 (SoftHSM2, a software token in-process; a network HSM adds its round trip). Each
// signer issues real host certificates (TBS written as the server writes it, signed through the
// CaSigner), first one at a time (latency) then 32 in flight (throughput), every one verified.
// Run alone: node bench/ca-signing.js (after npm run build).
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { KMSClient } = require('@aws-sdk/client-kms');
const { openCaSigner } = require('../dist/api/ca/signers');
const { createCaCertificate, signCertificate } = require('../dist/api/ca/signers/certificate');
const { hostTbsCertificate, randomSerialHex, subjectDer } = require('../dist/api/ca/host-certificate');
const { startKmsStandIn } = require('./kms-standin');

/** In-region kms:Sign answers in single-digit to low-double-digit milliseconds. */
const KMS_LATENCY_MS = 10;
const CONCURRENCY = 32;

async function measure(signer, { sequential, concurrent }) {
  const now = new Date();
  const caPem = await createCaCertificate(signer, { clusterName: 'bench', notBefore: now, notAfter: new Date(now.getTime() + 3600_000) });
  const ca = new crypto.X509Certificate(caPem);
  const issuer = { clusterName: 'bench', issuerDer: subjectDer(ca.raw) };
  const hostKey = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
  let failed = 0;
  const issue = async (i) => {
    const tbs = hostTbsCertificate(issuer, { publicKey: hostKey, hostId: `host-${i}`, role: 'Node', ttlMs: 3600_000, now }, randomSerialHex());
    const cert = new crypto.X509Certificate(await signCertificate(signer, tbs));
    if (!cert.verify(signer.publicKey)) failed++;
  };
  for (let i = 0; i < 20; i++) await issue(i); // warm-up: JIT, connections, sessions
  let t = performance.now();
  for (let i = 0; i < sequential; i++) await issue(i);
  const latencyMs = (performance.now() - t) / sequential;
  t = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < concurrent) await issue(next++);
  }));
  const perSec = concurrent / ((performance.now() - t) / 1000);
  return { latencyMs, perSec, failed };
}

function softHsm(dir) {
  const module = ['/usr/lib/softhsm/libsofthsm2.so', '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so', '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so'].find((p) => fs.existsSync(p));
  if (!module) return { skipped: 'SoftHSM2 is not installed (scripts/install-test-deps.sh)' };
  const conf = path.join(dir, 'softhsm2.conf');
  fs.mkdirSync(path.join(dir, 'tokens'), { recursive: true });
  fs.writeFileSync(conf, `directories.tokendir = ${dir}/tokens\nobjectstore.backend = file\nlog.level = ERROR\n`);
  // Read by the module when this process initialises it.
  process.env.SOFTHSM2_CONF = conf;
  const pinFile = path.join(dir, 'pin');
  fs.writeFileSync(pinFile, '123456', { mode: 0o600 });
  try {
    execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'bench', '--pin', '123456', '--so-pin', '654321'], { stdio: 'pipe' });
    execFileSync('pkcs11-tool', ['--module', module, '--token-label', 'bench', '--login', '--pin', '123456', '--keypairgen', '--key-type', 'EC:prime256v1', '--label', 'ca', '--id', '01'], { stdio: 'pipe' });
  } catch (err) {
    return { skipped: `cannot make a SoftHSM2 token (${String(err.message).split('\n')[0]})` };
  }
  return { spec: `pkcs11:token=bench;object=ca?module-path=${module}&pin-source=file:${pinFile}` };
}

async function run() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-ca-signing-'));
  const results = {};
  const standIn = await startKmsStandIn({ latencyMs: KMS_LATENCY_MS });
  const kmsClient = new KMSClient({ region: 'us-east-1', endpoint: standIn.endpoint, credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' }, maxAttempts: 1 });
  try {
    const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    fs.writeFileSync(path.join(dir, 'ca.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const file = await openCaSigner('file', { dataDir: dir });
    results.file = await measure(file, { sequential: 500, concurrent: 2000 });
    await file.close();

    const kms = await openCaSigner(`awskms:${standIn.keyId}`, { dataDir: dir, kmsClient });
    results.kms = await measure(kms, { sequential: 50, concurrent: 500 });
    await kms.close();

    const hsm = softHsm(path.join(dir, 'softhsm'));
    if (hsm.spec) {
      const signer = await openCaSigner(hsm.spec, { dataDir: dir });
      results.pkcs11 = await measure(signer, { sequential: 300, concurrent: 1000 });
      await signer.close();
    } else {
      results.pkcs11 = { skipped: hsm.skipped };
    }
  } finally {
    kmsClient.destroy();
    await standIn.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { ...results, kmsLatencyMs: KMS_LATENCY_MS, concurrency: CONCURRENCY };
}

module.exports = { run };

if (require.main === module) {
  run().then(
    (r) => console.log(JSON.stringify(r, null, 2)),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
