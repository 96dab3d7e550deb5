// Token-method joins at concurrency 32 against the Express hello-world peer, same load generator,
// with a new TLS connection per request and with keep-alive connections.
const { generateKeyPairSync } = require('node:crypto');
const { runLoad, merge, request } = require('./load');
const { startJoinery, startHello } = require('./processes');

const CONCURRENCY = 32;
const SECRET = 'bench-secret-join-token-0123456789abcdef';

async function createToken(server, token) {
  const res = await request({ port: server.port, path: '/v1/tokens', ca: server.ca, headers: { authorization: `Bearer ${server.adminToken}` } }, undefined, token);
  if (res.status !== 201 && res.status !== 200) throw new Error(`creating token failed: ${res.status} ${res.body}`);
}

/**
 * Both servers run side by side and are measured in alternating rounds, so that a change in the
 * machine's load during the bench (it is often shared) weighs on both alike.
 */
async function run({ rounds = 4, roundSeconds = 2, nodeArgs = [] } = {}) {
  const keys = Array.from({ length: 64 }, () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }));
  const joinBody = (i) => ({ token_name: SECRET, role: 'Node', public_key: keys[i % keys.length] });
  const out = {};
  const hello = await startHello();
  const server = await startJoinery({ JOINERY_JOIN_RATE_PER_MINUTE: '0' }, nodeArgs);
  try {
    await createToken(server, { version: 'v2', metadata: { name: SECRET }, spec: { roles: ['Node'], join_method: 'token' } });
    const helloLoad = { port: hello.port, path: '/', ca: hello.ca, concurrency: CONCURRENCY };
    const joinLoad = { port: server.port, path: '/v1/join/token', ca: server.ca, concurrency: CONCURRENCY, body: joinBody };
    for (const keepAlive of [false, true]) {
      const mode = keepAlive ? 'keep-alive' : 'new TLS';
      await runLoad({ ...helloLoad, total: 200, keepAlive }); // warm-up
      await runLoad({ ...joinLoad, total: 200, keepAlive });
      const h = [];
      const j = [];
      // Server CPU per request: unlike requests per second, hardly moved by other load on a shared machine.
      const cpu = { hello: 0, join: 0 };
      const measured = async (peer, name, load) => {
        const before = peer.cpuMs();
        const r = await runLoad(load);
        cpu[name] += peer.cpuMs() - before;
        return r;
      };
      for (let r = 0; r < rounds; r++) {
        h.push(await measured(hello, 'hello', { ...helloLoad, total: 1e6, maxSeconds: roundSeconds, keepAlive }));
        j.push(await measured(server, 'join', { ...joinLoad, total: 1e6, maxSeconds: roundSeconds, keepAlive }));
      }
      out[`hello ${mode}`] = { ...merge(h), cpuMsPerRequest: cpu.hello / h.reduce((n, x) => n + x.done, 0) };
      out[`join ${mode}`] = { ...merge(j), cpuMsPerRequest: cpu.join / j.reduce((n, x) => n + x.done, 0) };
    }
    out.helloRssMb = hello.rssMb();
    out.joinRssMb = server.rssMb();
  } finally {
    await server.stop();
    await hello.stop();
  }
  return out;
}

module.exports = { run, createToken };

if (require.main === module) {
  // node bench/token-joins.js [node options for the server, e.g. --cpu-prof --cpu-prof-dir=DIR]
  const summary = (r) => {
    for (const [k, v] of Object.entries(r)) {
      if (typeof v === 'object') console.log(`${k.padEnd(18)} ${v.perSec.toFixed(0).padStart(6)}/s  p99 ${v.p99.toFixed(1).padStart(7)} ms  failed ${v.failed}  server CPU ${v.cpuMsPerRequest.toFixed(3)} ms/request`);
    }
    for (const mode of ['new TLS', 'keep-alive']) console.log(`ratio ${mode}: ${(r[`join ${mode}`].perSec / r[`hello ${mode}`].perSec).toFixed(2)}x`);
    console.log(`RSS join ${r.joinRssMb.toFixed(0)} MB, hello ${r.helloRssMb.toFixed(0)} MB`);
  };
  run({ nodeArgs: process.argv.slice(2) }).then(summary, (e) => {
    console.error(e);
    process.exit(1);
  });
}
