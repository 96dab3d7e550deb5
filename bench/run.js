#!/usr/bin/env node
// Benchmarks (npm run bench): token writes and reads, token-method joins (key check, node insert,
// certificate signing), listing many tokens, and the server's memory. Prints figures against
// targets; exits 1 when a target is missed. Loopback only, bounded in count and time.
const { generateKeyPairSync } = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { loadConfig } = require('../dist/api/config');
const { startServer } = require('../dist/api/server/server');
const { JoineryClient } = require('../dist/client/api-client');

const TARGETS = {
  'token create p99 ms': 50,
  'token get p99 ms': 20,
  'join (token method) p99 ms': 80,
  'list 2000 tokens ms': 500,
  'server RSS after run MB': 300,
};

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function timed(n, fn) {
  const times = [];
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await fn(i);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  const total = Number(process.hrtime.bigint() - start) / 1e9;
  times.sort((a, b) => a - b);
  return { p50: pct(times, 50), p99: pct(times, 99), perSec: n / total };
}

async function main() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-bench-'));
  const admin = 'bench-admin-credential-0123456789';
  const config = loadConfig({ dataDir, listen: '127.0.0.1:0' }, { ...process.env, JOINERY_ADMIN_TOKEN: admin, JOINERY_LOG_LEVEL: 'warn' });
  const server = await startServer(config);
  const client = new JoineryClient({ addr: `127.0.0.1:${server.port}`, adminToken: admin, caFile: path.join(dataDir, 'ca.crt') });
  const results = {};
  try {
    const ec2 = (name) => ({ version: 'v2', metadata: { name }, spec: { roles: ['Node'], allow: [{ aws_account: '111111111111', aws_regions: ['us-west-2'] }] } });
    const create = await timed(2000, (i) => client.createToken(ec2(`bench-${i}`)));
    results['token create p99 ms'] = create.p99;
    console.log(`token create: ${create.perSec.toFixed(0)}/s, p50 ${create.p50.toFixed(2)} ms, p99 ${create.p99.toFixed(2)} ms`);

    const get = await timed(2000, (i) => client.getToken(`bench-${i}`));
    results['token get p99 ms'] = get.p99;
    console.log(`token get:    ${get.perSec.toFixed(0)}/s, p50 ${get.p50.toFixed(2)} ms, p99 ${get.p99.toFixed(2)} ms`);

    const list = await timed(5, () => client.listTokens());
    results['list 2000 tokens ms'] = list.p50;
    console.log(`list 2000 tokens: p50 ${list.p50.toFixed(1)} ms`);

    const secret = 'bench-secret-join-token-0123456789abcdef';
    await client.createToken({ version: 'v2', metadata: { name: secret }, spec: { roles: ['Node'] } });
    const keys = Array.from({ length: 300 }, () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }));
    const join = await timed(300, (i) => client.post('/v1/join/token', { token_name: secret, role: 'Node', public_key: keys[i] }));
    results['join (token method) p99 ms'] = join.p99;
    console.log(`join (token): ${join.perSec.toFixed(0)}/s, p50 ${join.p50.toFixed(2)} ms, p99 ${join.p99.toFixed(2)} ms`);

    results['server RSS after run MB'] = process.memoryUsage().rss / 1024 / 1024;
    console.log(`server RSS: ${results['server RSS after run MB'].toFixed(0)} MB (server and client share this process)`);
  } finally {
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  let missed = 0;
  console.log('\ntarget                          figure    target   ');
  for (const [name, target] of Object.entries(TARGETS)) {
    const ok = results[name] <= target;
    if (!ok) missed++;
    console.log(`${name.padEnd(30)} ${results[name].toFixed(1).padStart(8)} <= ${String(target).padStart(6)}  ${ok ? 'ok' : 'MISSED'}`);
  }
  process.exit(missed ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
