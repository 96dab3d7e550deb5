// Token-method joins at concurrency 32 against the Express hello-world peer, same load generator,
// with a new TLS connection per request and with keep-alive connections.
const { generateKeyPairSync } = require('node:crypto');
const { runLoad, request } = require('./load');
const { startJoinery, startHello } = require('./processes');

const CONCURRENCY = 32;
const SECRET = 'bench-secret-join-token-0123456789abcdef';

async function createToken(server, token) {
  const res = await request({ port: server.port, path: '/v1/tokens', ca: server.ca, headers: { authorization: `Bearer ${server.adminToken}` } }, undefined, token);
  if (res.status !== 201 && res.status !== 200) throw new Error(`creating token failed: ${res.status} ${res.body}`);
}

async function run({ total = 4000, maxSeconds = 8, nodeArgs = [] } = {}) {
  const keys = Array.from({ length: 64 }, () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }));
  const joinBody = (i) => ({ token_name: SECRET, role: 'Node', public_key: keys[i % keys.length] });
  const out = {};
  const hello = await startHello();
  try {
    for (const keepAlive of [false, true]) {
      await runLoad({ port: hello.port, path: '/', ca: hello.ca, concurrency: CONCURRENCY, total: 200, keepAlive }); // warm-up
      out[`hello ${keepAlive ? 'keep-alive' : 'new TLS'}`] = await runLoad({ port: hello.port, path: '/', ca: hello.ca, concurrency: CONCURRENCY, total, maxSeconds, keepAlive });
    }
    out.helloRssMb = hello.rssMb();
  } finally {
    await hello.stop();
  }
  const server = await startJoinery({ JOINERY_JOIN_RATE_PER_MINUTE: '0' }, nodeArgs);
  try {
    await createToken(server, { version: 'v2', metadata: { name: SECRET }, spec: { roles: ['Node'], join_method: 'token' } });
    for (const keepAlive of [false, true]) {
      await runLoad({ port: server.port, path: '/v1/join/token', ca: server.ca, concurrency: CONCURRENCY, total: 200, keepAlive, body: joinBody });
      out[`join ${keepAlive ? 'keep-alive' : 'new TLS'}`] = await runLoad({ port: server.port, path: '/v1/join/token', ca: server.ca, concurrency: CONCURRENCY, total, maxSeconds, keepAlive, body: joinBody });
    }
    out.joinRssMb = server.rssMb();
  } finally {
    await server.stop();
  }
  return out;
}

module.exports = { run, createToken };

if (require.main === module) {
  run({ nodeArgs: process.argv.slice(2) }).then((r) => console.log(JSON.stringify(r, null, 1)), (e) => {
    console.error(e);
    process.exit(1);
  });
}
