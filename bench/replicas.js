// Two Joinery replicas on one PostgreSQL database (sharing the CA files) against one server on
// SQLite, under the same load: token-method joins over keep-alive connections at concurrency 32,
// split evenly between the replicas.
const { generateKeyPairSync } = require('node:crypto');
const { runLoad } = require('./load');
const { startJoinery } = require('./processes');
const { startPostgres } = require('./postgres');
const { createToken } = require('./token-joins');

const SECRET = 'bench-secret-join-token-0123456789abcdef';
const CONCURRENCY = 32;

async function load(servers, { total, maxSeconds, keys }) {
  const body = (i) => ({ token_name: SECRET, role: 'Node', public_key: keys[i % keys.length] });
  const start = performance.now();
  const parts = await Promise.all(
    servers.map((s) => runLoad({ port: s.port, path: '/v1/join/token', ca: s.ca, concurrency: CONCURRENCY / servers.length, total: Math.ceil(total / servers.length), maxSeconds, keepAlive: true, body })),
  );
  const seconds = (performance.now() - start) / 1000;
  const done = parts.reduce((a, p) => a + p.done, 0);
  return { done, failed: parts.reduce((a, p) => a + p.failed, 0), failures: Object.assign({}, ...parts.map((p) => p.failures)), perSec: done / seconds, p50: Math.max(...parts.map((p) => p.p50)), p99: Math.max(...parts.map((p) => p.p99)) };
}

async function run({ total = 3000, maxSeconds = 8 } = {}) {
  const keys = Array.from({ length: 32 }, () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }));
  const token = { version: 'v2', metadata: { name: SECRET }, spec: { roles: ['Node'], join_method: 'token' } };
  const out = {};
  const sqlite = await startJoinery({ JOINERY_JOIN_RATE_PER_MINUTE: '0' });
  try {
    await createToken(sqlite, token);
    await load([sqlite], { total: 200, maxSeconds, keys });
    out.sqlite = await load([sqlite], { total, maxSeconds, keys });
    out.sqlite.rssMb = sqlite.rssMb();
  } finally {
    await sqlite.stop();
  }
  const pg = await startPostgres();
  if (!pg) return { ...out, skipped: 'no PostgreSQL server binaries (/usr/lib/postgresql/*/bin); scripts/install-test-deps.sh installs them' };
  try {
    const env = { JOINERY_JOIN_RATE_PER_MINUTE: '0', JOINERY_DATABASE_URL: pg.url };
    const a = await startJoinery(env);
    const b = await startJoinery(env, [], { caFrom: a.dataDir });
    try {
      await createToken(a, token);
      await load([a, b], { total: 200, maxSeconds, keys });
      out.replicas = await load([a, b], { total, maxSeconds, keys });
      out.replicas.rssMb = [a.rssMb(), b.rssMb()];
    } finally {
      await b.stop();
      await a.stop();
    }
  } finally {
    await pg.stop();
  }
  return out;
}

module.exports = { run };

if (require.main === module) {
  run().then((r) => console.log(JSON.stringify(r, null, 1)), (e) => {
    console.error(e);
    process.exit(1);
  });
}
