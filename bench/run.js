#!/usr/bin/env node
// Benchmarks (npm run bench), each figure from one run on this machine, as ratios where a peer
// exists: token-method joins against an Express 5 hello-world over HTTPS (same load generator,
// new TLS connection per request and keep-alive); a burst of 1,000 EC2 joins against a throttled
// EC2 stand-in; IAM joins against a fake STS answering in 50 ms; two replicas on one PostgreSQL
// against one server on SQLite; the admin API; server RSS after each; the CA's signing cost per
// certificate with a key file, KMS and PKCS#11; the single-file joinery's `--version` against a
// bare start of the Node it embeds. Prints the figures against the targets and exits 1
// when one is missed. Loopback only, bounded in count and time (a few minutes at most).
const os = require('node:os');
const { JoineryClient } = require('../dist/client/api-client');
const { startJoinery } = require('./processes');
const tokenJoins = require('./token-joins');
const ec2Burst = require('./ec2-burst');
const ec2BurstKms = require('./ec2-burst-kms');
const iamJoins = require('./iam-joins');
const replicas = require('./replicas');
const caSigning = require('./ca-signing');
const consoleNodes = require('./console-nodes');
const seaStartup = require('./sea-startup');

const HARD_LIMIT_MS = 6 * 60_000;

const f = (n, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
const line = (name, r) => console.log(`  ${name.padEnd(24)} ${f(r.perSec, 0).padStart(6)}/s  p50 ${f(r.p50, 1).padStart(8)} ms  p99 ${f(r.p99, 1).padStart(8)} ms  failed ${r.failed}${r.failed ? ' ' + JSON.stringify(r.failures) : ''}${r.cpuMsPerRequest !== undefined ? `  server CPU ${f(r.cpuMsPerRequest, 2)} ms/request` : ''}`);

async function timed(n, fn) {
  const times = [];
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    times.push(performance.now() - t);
  }
  const seconds = (performance.now() - start) / 1000;
  times.sort((a, b) => a - b);
  return { perSec: n / seconds, p50: times[Math.floor(n * 0.5)], p99: times[Math.min(n - 1, Math.floor(n * 0.99))] };
}

async function adminApi() {
  const server = await startJoinery();
  try {
    const client = new JoineryClient({ addr: `127.0.0.1:${server.port}`, adminToken: server.adminToken, caFile: server.caFile });
    const ec2 = (name) => ({ version: 'v2', metadata: { name }, spec: { roles: ['Node'], allow: [{ aws_account: '111111111111', aws_regions: ['us-west-2'] }] } });
    const create = await timed(1000, (i) => client.createToken(ec2(`bench-${i}`)));
    const get = await timed(1000, (i) => client.getToken(`bench-${i}`));
    const list = await timed(5, () => client.listTokens());
    return { create, get, list, rssMb: server.rssMb() };
  } finally {
    await server.stop();
  }
}

async function main() {
  const began = performance.now();
  setTimeout(() => {
    console.error(`bench: over ${HARD_LIMIT_MS / 60_000} minutes, stopping`);
    process.exit(2);
  }, HARD_LIMIT_MS).unref();
  console.log(`machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${f(os.totalmem() / 2 ** 30, 1)} GiB, ${os.platform()} ${os.release()}, node ${process.version}, load average ${os.loadavg().map((l) => f(l, 1)).join(' ')}`);
  const results = [];
  const target = (name, value, op, goal, unit = '') => results.push({ name, value, op, goal, unit, ok: op === '>=' ? value >= goal : value <= goal });

  console.log('\nthe single-file joinery (release/, rebuilt when the sources changed): `joinery --version` vs `node -e 0` of the Node it embeds');
  const st = await seaStartup.run();
  seaStartup.print(st);
  target('joinery --version CPU / node -e 0', st.cpuRatio, '<=', 2, 'x');
  target('joinery --version wall / node -e 0', st.wallRatio, '<=', 2, 'x');

  console.log('\ntoken-method joins vs Express 5 hello-world over HTTPS, concurrency 32');
  const t = await tokenJoins.run();
  line('hello-world new TLS', t['hello new TLS']);
  line('hello-world keep-alive', t['hello keep-alive']);
  line('join (token) new TLS', t['join new TLS']);
  line('join (token) keep-alive', t['join keep-alive']);
  const ratioNew = t['join new TLS'].perSec / t['hello new TLS'].perSec;
  const ratioKa = t['join keep-alive'].perSec / t['hello keep-alive'].perSec;
  console.log(`  ratio new TLS ${f(ratioNew, 2)}x, keep-alive ${f(ratioKa, 2)}x; server RSS ${f(t.joinRssMb)} MB (hello-world ${f(t.helloRssMb)} MB)`);
  target('token joins / hello, new TLS', ratioNew, '>=', 0.8, 'x');
  target('token joins / hello, keep-alive', ratioKa, '>=', 0.5, 'x');
  target('token joins failed', t['join new TLS'].failed + t['join keep-alive'].failed, '<=', 0);
  target('server RSS after token joins', t.joinRssMb, '<=', 200, ' MB');

  console.log('\nEC2 joins: burst of 1,000 instances at concurrency 250, stand-in throttled at 100 burst / 20 per s');
  const e = await ec2Burst.run();
  line('join (ec2) new TLS', e);
  console.log(`  DescribeInstances calls ${e.describeCalls} (throttled ${e.describeThrottled}); wall ${f(e.seconds, 1)} s; server RSS ${f(e.rssMb)} MB`);
  target('EC2 burst failed joins', e.failed, '<=', 0);
  target('EC2 burst DescribeInstances calls', e.describeCalls, '<=', 20);
  target('EC2 burst p99', e.p99, '<=', 5000, ' ms');
  target('server RSS after EC2 burst', e.rssMb, '<=', 200, ' MB');

  console.log(`\nEC2 joins, the same burst with the CA key in KMS: the stand-in answers Sign in ${ec2BurstKms.KMS_LATENCY_MS} ms and allows ${ec2BurstKms.KMS_SIGNS_PER_SECOND}/s (below the signer's own pace, so throttling is met and retried)`);
  const ek = await ec2BurstKms.run();
  line('join (ec2, KMS CA key)', ek);
  console.log(`  kms:Sign calls ${ek.signCalls} (throttled ${ek.signThrottled}); DescribeInstances calls ${ek.describeCalls}; wall ${f(ek.seconds, 1)} s; server RSS ${f(ek.rssMb)} MB`);
  target('EC2 burst, KMS key: failed joins', ek.failed, '<=', 0);

  console.log('\nIAM joins at concurrency 100, fake STS answering in 50 ms (challenge + join per operation, new TLS each)');
  const iam = await iamJoins.run();
  line('join (iam)', iam);
  console.log(`  STS calls ${iam.stsCalls}; server RSS ${f(iam.rssMb)} MB`);
  target('IAM joins failed', iam.failed, '<=', 0);
  target('server RSS after IAM joins', iam.rssMb, '<=', 200, ' MB');

  console.log('\nadmin API, one client, sequential');
  const a = await adminApi();
  console.log(`  token create ${f(a.create.perSec)}/s p99 ${f(a.create.p99, 2)} ms; token get ${f(a.get.perSec)}/s p99 ${f(a.get.p99, 2)} ms; list 1000 tokens p50 ${f(a.list.p50, 1)} ms; server RSS ${f(a.rssMb)} MB`);
  target('token create p99', a.create.p99, '<=', 50, ' ms');
  target('token get p99', a.get.p99, '<=', 20, ' ms');
  target('list 1000 tokens', a.list.p50, '<=', 500, ' ms');

  console.log("\nweb console: the Nodes page's first page over 10,000 hosts in Chromium (navigation to 50 rows, median of 5)");
  const cn = await consoleNodes.run();
  console.log(`  first page ${f(cn.firstPageMs, 0)} ms over ${cn.hosts} hosts; server RSS ${f(cn.rssMb)} MB`);
  target('console Nodes first page', cn.firstPageMs, '<=', 1000, ' ms');

  console.log('\ntwo replicas on one PostgreSQL vs one server on SQLite: token joins, keep-alive, concurrency 32 split between the replicas');
  const rep = await replicas.run();
  line('one server, SQLite', rep.sqlite);
  if (rep.replicas) {
    line('two replicas, PostgreSQL', rep.replicas);
    console.log(`  ratio ${f(rep.replicas.perSec / rep.sqlite.perSec, 2)}x; server RSS SQLite ${f(rep.sqlite.rssMb)} MB, replicas ${rep.replicas.rssMb.map((m) => f(m)).join(' and ')} MB`);
    target('replica joins failed', rep.replicas.failed, '<=', 0);
  } else {
    console.log(`  replicas skipped: ${rep.skipped}`);
  }

  console.log('\nCA signing: one host certificate per signature, by where the CA key lives (issue + verify; sequential, then 32 in flight)');
  const cs = await caSigning.run();
  const signerLine = (name, r) =>
    console.log(r.skipped ? `  ${name.padEnd(24)} skipped: ${r.skipped}` : `  ${name.padEnd(24)} ${f(r.latencyMs, 2).padStart(8)} ms/certificate  ${f(r.perSec, 0).padStart(6)}/s at 32 in flight  ${f(r.latencyMs / cs.file.latencyMs, 1)}x the file key's cost  failed ${r.failed}`);
  signerLine('file (ca.key)', cs.file);
  signerLine(`KMS (stand-in, ${cs.kmsLatencyMs} ms)`, cs.kms);
  signerLine('PKCS#11 (SoftHSM2)', cs.pkcs11);
  target('CA signatures failed', cs.file.failed + cs.kms.failed + (cs.pkcs11.failed ?? 0), '<=', 0);

  console.log(`\n${'target'.padEnd(36)} ${'figure'.padStart(10)}   goal`);
  for (const r of results) console.log(`${r.name.padEnd(36)} ${f(r.value, r.unit === 'x' ? 2 : 1).padStart(10)}${r.unit.padEnd(4)} ${r.op} ${r.goal}${r.unit}  ${r.ok ? 'ok' : 'MISSED'}`);
  console.log(`\nbench took ${f((performance.now() - began) / 1000)} s; load average now ${os.loadavg().map((l) => f(l, 1)).join(' ')}`);
  process.exit(results.every((r) => r.ok) ? 0 : 1);
}

// `npm run bench -- fleet [--hosts N] [--remove M]`: the fleet bench alone (bench/fleet.js);
// `npm run bench -- startup`: the single-file joinery's start alone (bench/sea-startup.js).
const entry = { fleet: () => require('./fleet').main(), startup: seaStartup.main }[process.argv[2]] ?? main;
entry().catch((e) => {
  console.error(e);
  process.exit(1);
});
