// `npm run bench -- fleet [--hosts N] [--remove M]`: a fleet on one server (SQLite), seeded through
// the API as an operator would (token-method joins, bounded concurrency), a share of it removed,
// and each figure printed as a ratio against its floor or its peer in the same run:
//   GET /v1/crl (cached)       vs signing a document of the CRL's size once (ECDSA P-256, here)
//   GET /metrics               vs GET /v1/status
//   renewal p99 during bursts of 50 concurrent CRL fetches vs during bursts of 50 /v1/status
//   housekeeping: the longest event-loop stall of a pass over the whole fleet's expired records
//   (every certificate a day past expiry, the audit table cut to 1,000 rows) vs the 50 ms bound,
//   with each batch's own CPU and its wait for a core (this machine is shared) told apart
//   server RSS, and the RSS of `joinery nodes ls` printing the registry, vs 200 MB
//   a CRL of 250,000 entries (seeded straight into the table) answers 200 and openssl reads them all
// and issue 21's retention figure: the whole fleet made to lapse (every date in the database moved
// 40 days back, the server stopped meanwhile: the documented stand-in for a month and a half
// passing), the server started on it, and /healthz polled every 10 ms while its own housekeeping
// prunes the registry back to the live hosts and the retention window (JOINERY_NODE_RETENTION,
// 30 days): the slowest /healthz vs 100 ms, and the rows before and after.
// Loopback only, bounded in count and time.
const { generateKeyPairSync, sign, randomBytes } = require('node:crypto');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const https = require('node:https');
const os = require('node:os');
const path = require('node:path');
const { Worker } = require('node:worker_threads');
const { execFileSync } = require('node:child_process');
const { request } = require('./load');
const { startJoinery, schedMs } = require('./processes');

const ROOT = path.resolve(__dirname, '..');
const SECRET = 'bench-fleet-join-token-0123456789abcdef';
const SEED_CONCURRENCY = 16;
const BURST = 50;
const HARD_LIMIT_MS = 60 * 60_000;
const DAY_MS = 24 * 3600_000;
/** Hosts the retention phase keeps live, and removed ones it leaves inside the retention window. */
const KEEP_LIVE = 1000;
const KEEP_IN_WINDOW = 1000;
const CRL_ENTRIES_AT_MOST = 250_000;

const f = (n, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};
const median = (xs) => pct(xs, 50);

function args() {
  const a = process.argv.slice(2).filter((x) => x !== 'fleet');
  const get = (name, dflt) => {
    const i = a.indexOf(name);
    if (i < 0) return dflt;
    const n = Number(a[i + 1]);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name} needs a whole number`);
    return n;
  };
  const hosts = get('--hosts', 100_000);
  const remove = get('--remove', Math.floor(hosts * 0.75));
  if (remove > hosts) throw new Error('--remove cannot exceed --hosts');
  return { hosts, remove };
}

/** Runs fn(i) for i < total with `concurrency` workers; prints progress every 10%. */
async function pool(total, concurrency, label, fn) {
  let next = 0;
  let done = 0;
  const started = performance.now();
  const step = Math.max(1, Math.floor(total / 10));
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= total) return;
      await fn(i);
      if (++done % step === 0) process.stderr.write(`  ${label} ${done}/${total} (${f(done / ((performance.now() - started) / 1000))}/s)\n`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return (performance.now() - started) / 1000;
}

async function ok(res, what) {
  if (res.status < 200 || res.status >= 300) throw new Error(`${what}: ${res.status} ${res.body.slice(0, 300)}`);
  return res;
}

async function main() {
  const { hosts, remove } = args();
  setTimeout(() => {
    console.error(`bench fleet: over ${HARD_LIMIT_MS / 60_000} minutes, stopping`);
    process.exit(2);
  }, HARD_LIMIT_MS).unref();
  console.log(`machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, load average ${os.loadavg().map((l) => f(l, 1)).join(' ')}`);
  console.log(`fleet: ${hosts} hosts joined through the API, ${remove} removed`);
  // JOINERY_BENCH_SERVER_NODE_ARGS: Node flags for the server, e.g. `--cpu-prof --cpu-prof-dir=DIR`
  // (summarise with bench/profile-summary.js) or `--trace-gc`.
  const nodeArgs = (process.env.JOINERY_BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const server = await startJoinery({ JOINERY_JOIN_RATE_PER_MINUTE: '0', JOINERY_AUDIT_MAX_ROWS: '0' }, nodeArgs);
  const results = [];
  const target = (name, value, goal, unit = 'x') => results.push({ name, value, goal, unit, ok: value <= goal });
  try {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 64, ca: server.ca });
    const base = { port: server.port, ca: server.ca };
    const adminHeaders = { authorization: `Bearer ${server.adminToken}` };
    const get = (p, headers = {}) => request({ ...base, path: p, headers }, agent);
    await ok(await request({ ...base, path: '/v1/tokens', headers: adminHeaders }, agent, { version: 'v2', metadata: { name: SECRET }, spec: { roles: ['Node'], join_method: 'token' } }), 'token');

    const times = async (p, n, headers) => {
      const xs = [];
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        await ok(await get(p, headers), p);
        xs.push(performance.now() - t0);
      }
      return xs;
    };
    // /metrics and /v1/status on the empty server: what a scrape costs whatever the fleet.
    await times('/metrics', 5);
    const emptyMetrics = [];
    const emptyStatus = [];
    for (let r = 0; r < 5; r++) {
      emptyMetrics.push(...(await times('/metrics', 10)));
      emptyStatus.push(...(await times('/v1/status', 10)));
    }

    // Seed. A few keys serve the whole fleet (the server does not care); the identities of the
    // first 64 hosts are kept to renew with.
    const keys = Array.from({ length: 64 }, () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }));
    const publicPems = keys.map((k) => k.publicKey.export({ type: 'spki', format: 'pem' }));
    const hostIds = new Array(hosts);
    const identities = [];
    const seedSeconds = await pool(hosts, SEED_CONCURRENCY, 'joined', async (i) => {
      const res = await ok(await request({ ...base, path: '/v1/join/token' }, agent, { token_name: SECRET, role: 'Node', public_key: publicPems[i % 64] }), 'join');
      const body = JSON.parse(res.body);
      hostIds[i] = body.host_id;
      if (i < 64) identities[i] = { cert: body.certificate, key: keys[i].privateKey.export({ type: 'pkcs8', format: 'pem' }) };
    });
    console.log(`seeded ${hosts} hosts in ${f(seedSeconds)} s (${f(hosts / seedSeconds)}/s)`);
    // Remove from the end, so the kept identities stay live.
    const removeSeconds = await pool(remove, SEED_CONCURRENCY, 'removed', async (i) => {
      await ok(await request({ ...base, method: 'DELETE', path: `/v1/nodes/${encodeURIComponent(hostIds[hosts - 1 - i])}`, headers: adminHeaders }, agent), 'remove');
    });
    console.log(`removed ${remove} hosts in ${f(removeSeconds)} s`);

    // CRL: the first fetch builds it; the rest are served from the cache.
    let t = performance.now();
    const first = await fetchRaw(base, agent, '/v1/crl');
    const coldMs = performance.now() - t;
    const crlBytes = first.bytes.length;
    const warm = [];
    for (let i = 0; i < 30; i++) {
      t = performance.now();
      await fetchRaw(base, agent, '/v1/crl');
      warm.push(performance.now() - t);
    }
    const revalidate = [];
    for (let i = 0; i < 30; i++) {
      t = performance.now();
      const r = await fetchRaw(base, agent, '/v1/crl', { 'if-none-match': first.headers.etag });
      if (r.status !== 304) throw new Error(`If-None-Match answered ${r.status}`);
      revalidate.push(performance.now() - t);
    }
    // The floor: signing a document of the CRL's size once, with the same kind of key.
    const doc = randomBytes(Math.max(crlBytes, 1));
    const caKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    const signs = [];
    for (let i = 0; i < 9; i++) {
      t = performance.now();
      sign('sha256', doc, { key: caKey, dsaEncoding: 'der' });
      signs.push(performance.now() - t);
    }
    const signMs = median(signs);
    console.log(`\nCRL: ${remove} entries, ${f(crlBytes / 1024)} KiB; first fetch (builds it) ${f(coldMs, 1)} ms, cached p50 ${f(median(warm), 2)} ms, 304 p50 ${f(median(revalidate), 2)} ms; signing ${f(crlBytes / 1024)} KiB once ${f(signMs, 2)} ms`);
    console.log(`  ratio cached/sign ${f(median(warm) / signMs, 1)}x, first/sign ${f(coldMs / signMs, 1)}x`);
    target('GET /v1/crl (cached) / signing once', median(warm) / signMs, 20);

    // /metrics vs /v1/status.
    await times('/metrics', 5);
    await times('/v1/status', 5);
    const metrics = [];
    const status = [];
    for (let r = 0; r < 5; r++) {
      metrics.push(...(await times('/metrics', 10)));
      status.push(...(await times('/v1/status', 10)));
    }
    console.log(`\n/metrics p50 ${f(median(metrics), 2)} ms vs /v1/status p50 ${f(median(status), 2)} ms: ${f(median(metrics) / median(status), 2)}x`);
    console.log(`  on the empty server before seeding: /metrics ${f(median(emptyMetrics), 2)} ms vs /v1/status ${f(median(emptyStatus), 2)} ms (${f(median(emptyMetrics) / median(emptyStatus), 2)}x); /metrics at ${hosts} hosts / empty: ${f(median(metrics) / median(emptyMetrics), 2)}x`);
    target('/metrics / /v1/status', median(metrics) / median(status), 5);

    // Renewal p99 during bursts of 50 concurrent CRL fetches vs during 50 /v1/status.
    const renewAgents = identities.map((id) => new https.Agent({ keepAlive: true, maxSockets: 1, ca: server.ca, cert: id.cert, key: id.key }));
    let nextIdentity = 0;
    const renewOnce = async () => {
      const i = nextIdentity++ % identities.length;
      const res = await request({ ...base, path: '/v1/renew', method: 'POST' }, renewAgents[i], {});
      if (res.status !== 200) throw new Error(`renew: ${res.status} ${res.body}`);
      const body = JSON.parse(res.body);
      identities[i].cert = body.certificate;
      renewAgents[i].destroy();
      renewAgents[i] = new https.Agent({ keepAlive: true, maxSockets: 1, ca: server.ca, cert: identities[i].cert, key: identities[i].key });
    };
    const duringBurst = async (p) => {
      const latencies = [];
      let stop = false;
      const renewer = async () => {
        while (!stop) {
          const t0 = performance.now();
          await renewOnce();
          latencies.push(performance.now() - t0);
        }
      };
      const renewers = Array.from({ length: 4 }, renewer);
      await new Promise((r) => setTimeout(r, 20));
      await burst(server, p);
      stop = true;
      await Promise.all(renewers);
      return latencies;
    };
    for (let i = 0; i < 20; i++) await renewOnce(); // warm-up
    const renewCrl = [];
    const renewStatus = [];
    for (let r = 0; r < 10; r++) {
      renewStatus.push(...(await duringBurst('/v1/status')));
      renewCrl.push(...(await duringBurst('/v1/crl')));
    }
    console.log(`\nrenewal p99 during bursts of ${BURST} CRL fetches ${f(pct(renewCrl, 99), 1)} ms (p50 ${f(median(renewCrl), 1)}, ${renewCrl.length} renewals) vs during ${BURST} /v1/status ${f(pct(renewStatus, 99), 1)} ms (p50 ${f(median(renewStatus), 1)}, ${renewStatus.length}): ${f(pct(renewCrl, 99) / pct(renewStatus, 99), 2)}x`);
    target('renewal p99 in CRL burst / in status burst', pct(renewCrl, 99) / pct(renewStatus, 99), 2);

    // nodes ls: the CLI printing the registry, its peak RSS.
    const cliRss = await cliPeakRssMb(server);
    const serverRss = server.rssMb();
    const serverPeakRss = server.peakRssMb();
    await new Promise((r) => setTimeout(r, 3000));
    const serverRssLater = server.rssMb();
    const scrape = (await get('/metrics')).body;
    const gauge = (name) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(scrape)?.[1]) / 2 ** 20;
    console.log(`\nserver memory: heap used ${f(gauge('joinery_process_nodejs_heap_size_used_bytes'))} MB of ${f(gauge('joinery_process_nodejs_heap_size_total_bytes'))} MB, external ${f(gauge('joinery_process_nodejs_external_memory_bytes'))} MB`);
    console.log(`\nserver RSS ${f(serverRss)} MB (3 s later ${f(serverRssLater)} MB; peak over the whole run ${f(serverPeakRss)} MB); \`joinery nodes ls\` of ${hosts} hosts: peak RSS ${f(cliRss.mb)} MB, ${cliRss.lines} lines`);
    target('server RSS', serverRss, 200, ' MB');
    target('nodes ls peak RSS', cliRss.mb, 200, ' MB');
  } finally {
    await server.stop({ keepData: true });
  }
  // The retention phase starts from the fleet as the server left it; the housekeeping phase prunes its own copy.
  const retentionDir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-bench-retention-'));
  fs.cpSync(server.dataDir, retentionDir, { recursive: true });

  // Housekeeping over the whole fleet's records, on a copy of the server's database, with the
  // clock two days past every expiry: the worst backlog a pass can meet.
  const hk = await housekeepingStall(server.dataDir);
  fs.rmSync(server.dataDir, { recursive: true, force: true });
  console.log(`\nhousekeeping of ${hk.certificates} certificate records and ${hk.audit} audit rows in ${hk.batches} batches over ${f(hk.seconds, 1)} s: longest event-loop delay ${f(hk.maxStallMs, 1)} ms (idle, same process: ${f(hk.idleStallMs, 1)} ms); longest batch ${f(hk.maxBatchMs, 1)} ms, of which it waited ${f(hk.maxBatchWaitMs, 1)} ms for a core; longest batch less its wait for a core ${f(hk.maxBatchOwnMs, 1)} ms; most CPU of the event-loop thread in one batch ${f(hk.maxBatchCpuMs, 1)} ms`);
  target('housekeeping longest event-loop delay', hk.maxStallMs, 50, ' ms');
  target('housekeeping longest batch (event loop held)', hk.maxBatchMs, 50, ' ms');
  target('  the same, less its wait for a core', hk.maxBatchOwnMs, 50, ' ms');
  target('  event-loop thread CPU in one batch', hk.maxBatchCpuMs, 50, ' ms');

  // Issue 21: the fleet lapses and the server's own housekeeping prunes it while /healthz is polled.
  const retention = await retentionPrune(retentionDir);
  console.log(`\nretention: ${retention.before} hosts, ${retention.expected} of them live or inside the 30-day window; the server's housekeeping left ${retention.after} in ${f(retention.seconds, 1)} s (${retention.certificatesAfter} certificate records left); /healthz polled ${retention.polls} times meanwhile: p50 ${f(retention.p50, 1)} ms, p99 ${f(retention.p99, 1)} ms, slowest ${f(retention.maxMs, 1)} ms (poll ${retention.slowestPoll}, ${f(retention.slowestAt, 1)} s after the server started listening), during which the server's event loop ran ${f(retention.slowestServerRanMs, 1)} ms and it and the bench waited ${f(retention.slowestWaitedMs, 1)} ms for a core; slowest less those waits ${f(retention.maxOwnMs, 1)} ms; the server's own longest event-loop delay meanwhile ${f(retention.serverLagMaxMs, 1)} ms`);
  target('retention: hosts left other than live + window', Math.abs(retention.after - retention.expected), 0, '');
  target('retention: slowest /healthz while pruning', retention.maxMs, 100, ' ms');
  target('  the same, less waits for a core', retention.maxOwnMs, 100, ' ms');
  target("  the server's longest event-loop delay", retention.serverLagMaxMs, 100, ' ms');
  console.log(`\nCRL of ${retention.crl.entries} entries: ${retention.crl.status}, ${f(retention.crl.bytes / 2 ** 20, 1)} MiB, openssl read ${retention.crl.read} serials; first fetch ${f(retention.crl.firstMs)} ms, cached ${f(retention.crl.cachedMs)} ms`);
  target(`CRL of ${CRL_ENTRIES_AT_MOST} entries: entries not served`, CRL_ENTRIES_AT_MOST - (retention.crl.status === 200 ? retention.crl.read : 0), 0, '');

  console.log(`\n${'target'.padEnd(44)} ${'figure'.padStart(9)}   goal`);
  for (const r of results) console.log(`${r.name.padEnd(44)} ${f(r.value, r.unit === 'x' ? 2 : r.unit === '' ? 0 : 1).padStart(9)}${r.unit.padEnd(4)} <= ${r.goal}${r.unit}  ${r.ok ? 'ok' : 'MISSED'}`);
  process.exit(results.every((r) => r.ok) ? 0 : 1);
}

/**
 * Issue 21's figure. With the server stopped, every date of the fleet moves 40 days back (so every
 * host lapsed, or was removed, 40 days ago: ten past JOINERY_NODE_RETENTION's 30), except
 * KEEP_LIVE live hosts left as they are and KEEP_IN_WINDOW removed ones moved only 10 days back.
 * Then the server starts on it; its housekeeping's first pass (at start, then each minute) prunes,
 * while /healthz is asked every 10 ms over a kept-alive connection until the registry holds what
 * is expected. Then 250,000 revoked serials are written straight into the table and the CRL fetched.
 */
async function retentionPrune(dataDir) {
  const Database = require(path.join(ROOT, 'node_modules', 'better-sqlite3'));
  const file = path.join(dataDir, 'joinery.db');
  const now = Date.now();
  const back = (days) => (iso) => (iso === null ? null : new Date(Date.parse(iso) - days * DAY_MS).toISOString());
  const db = new Database(file);
  db.function('back40', back(40));
  db.function('back10', back(10));
  const live = db.prepare('SELECT host_id FROM nodes WHERE removed_at IS NULL ORDER BY host_id LIMIT ?').all(KEEP_LIVE).map((r) => r.host_id);
  const inWindow = db.prepare('SELECT host_id FROM nodes WHERE removed_at IS NOT NULL ORDER BY host_id LIMIT ?').all(KEEP_IN_WINDOW).map((r) => r.host_id);
  db.transaction(() => {
    db.exec('CREATE TEMP TABLE keep (host_id TEXT PRIMARY KEY, days INTEGER)');
    const keep = db.prepare('INSERT INTO keep VALUES (?, ?)');
    for (const id of live) keep.run(id, 0);
    for (const id of inWindow) keep.run(id, 10);
    const shift = (days) => (days === 0 ? null : `back${days}`);
    for (const [where, fn] of [['host_id NOT IN (SELECT host_id FROM keep)', shift(40)], ['host_id IN (SELECT host_id FROM keep WHERE days = 10)', shift(10)]]) {
      db.exec(`UPDATE nodes SET joined_at = ${fn}(joined_at), cert_not_after = ${fn}(cert_not_after), removed_at = ${fn}(removed_at), last_seen = ${fn}(last_seen), last_renewed_at = ${fn}(last_renewed_at) WHERE ${where}`);
      db.exec(`UPDATE host_certificates SET issued_at = ${fn}(issued_at), not_after = ${fn}(not_after), revoked_at = ${fn}(revoked_at) WHERE ${where}`);
    }
  })();
  const count = (table) => db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get().n;
  const before = count('nodes');
  db.close();
  const expected = live.length + inWindow.length;

  const server = await startJoinery({ JOINERY_JOIN_RATE_PER_MINUTE: '0' }, [], { dataDir });
  const latencies = [];
  const own = [];
  let slowest = { ms: 0, waited: 0, serverRan: 0, poll: 0, at: 0 };
  let started;
  let after;
  try {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: server.ca });
    // The registry's size, read by the bench's own connection (a primary-key read: the counter the writes keep).
    const watch = new Database(file, { readonly: true });
    const hosts = () => watch.prepare("SELECT value FROM counters WHERE name = 'nodes'").get().value;
    // The server's own event-loop delay histogram (prom-client's, reset at each scrape): scraped
    // once now and once after the pruning, the second gives the longest stall of the server's loop meanwhile.
    const lagMax = async () => Number(/^joinery_process_nodejs_eventloop_lag_max_seconds (\S+)$/m.exec((await request({ port: server.port, ca: server.ca, path: '/metrics' }, agent)).body)?.[1]) * 1000;
    await lagMax();
    started = performance.now();
    let nextCheck = 0;
    while (performance.now() - started < 10 * 60_000) {
      const t0 = performance.now();
      const s0 = schedMs(server.pid);
      const b0 = schedMs(process.pid);
      const res = await request({ port: server.port, ca: server.ca, path: '/healthz' }, agent);
      const ms = performance.now() - t0;
      if (res.status !== 200) throw new Error(`/healthz answered ${res.status}`);
      latencies.push(ms);
      // The time the server's event loop or this bench waited for a core (this machine is shared).
      const s1 = schedMs(server.pid);
      const waited = Math.min(ms, s1.wait - s0.wait + (schedMs(process.pid).wait - b0.wait));
      if (ms > slowest.ms) slowest = { ms, waited, serverRan: s1.run - s0.run, poll: latencies.length, at: (t0 - started) / 1000 };
      own.push(ms - waited);
      if (t0 >= nextCheck) {
        nextCheck = t0 + 250;
        if (hosts() <= expected) break;
      }
      await new Promise((r) => setTimeout(r, Math.max(0, 10 - ms)));
    }
    const seconds = (performance.now() - started) / 1000;
    const serverLagMaxMs = await lagMax();
    watch.close();
    agent.destroy();
    const crl = await bigCrl(server, file, now);
    await server.stop({ keepData: true });
    const check = new Database(file, { readonly: true });
    after = { nodes: check.prepare('SELECT COUNT(*) AS n FROM nodes').get().n, certificates: check.prepare("SELECT COUNT(*) AS n FROM host_certificates WHERE host_id NOT LIKE 'bench-crl-%'").get().n };
    check.close();
    return { before, expected, after: after.nodes, certificatesAfter: after.certificates, seconds, polls: latencies.length, p50: median(latencies), p99: pct(latencies, 99), maxMs: Math.max(...latencies), slowestWaitedMs: slowest.waited, slowestServerRanMs: slowest.serverRan, slowestPoll: slowest.poll, slowestAt: slowest.at, serverLagMaxMs, maxOwnMs: Math.max(...own), crl };
  } finally {
    await server.stop();
  }
}

/** 250,000 revoked, unexpired serials written straight into the table (for hosts named bench-crl-*), then GET /v1/crl. */
async function bigCrl(server, file, now) {
  const Database = require(path.join(ROOT, 'node_modules', 'better-sqlite3'));
  const db = new Database(file);
  db.pragma('busy_timeout = 10000');
  const insert = db.prepare('INSERT INTO host_certificates (serial, host_id, issued_at, not_after, revoked_at) VALUES (?, ?, ?, ?, ?)');
  const issued = new Date(now - 3600_000).toISOString();
  const notAfter = new Date(now + DAY_MS).toISOString();
  db.transaction(() => {
    for (let i = 0; i < CRL_ENTRIES_AT_MOST; i++) insert.run(`b${i.toString(16).padStart(31, '0')}`, `bench-crl-${i}`, issued, notAfter, new Date(now - 3600_000 + (i % 1000)).toISOString());
    db.prepare("UPDATE counters SET value = value + ? WHERE name = 'crl_revision'").run(CRL_ENTRIES_AT_MOST);
  })();
  db.close();
  const agent = new https.Agent({ keepAlive: true, ca: server.ca });
  let t = performance.now();
  const first = await fetchRaw({ port: server.port }, agent, '/v1/crl');
  const firstMs = performance.now() - t;
  t = performance.now();
  await fetchRaw({ port: server.port }, agent, '/v1/crl');
  const cachedMs = performance.now() - t;
  agent.destroy();
  const text = execFileSync('openssl', ['crl', '-inform', 'DER', '-noout', '-text'], { input: first.bytes, maxBuffer: 1 << 30 }).toString();
  // The registry's own revoked certificates have expired by now (pruned, or removed 10 days ago): every entry is one of these.
  const read = (text.match(/Serial Number:/g) ?? []).length;
  return { status: first.status, bytes: first.bytes.length, entries: CRL_ENTRIES_AT_MOST, read, firstMs, cachedMs };
}

/** BURST concurrent GETs of `p`, each on a new TLS connection, from a worker thread. */
function burst(server, p) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(path.join(__dirname, 'burst-worker.js'), { workerData: { port: server.port, path: p, ca: server.ca, count: BURST } });
    worker.once('message', (m) => (m.ok ? resolve() : reject(new Error(m.error))));
    worker.once('error', reject);
  }).finally(() => undefined);
}

/** A GET whose body is kept as bytes (the CRL is binary). */
function fetchRaw(base, agent, p, headers = {}) {
  return new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port: base.port, path: p, agent, servername: 'localhost', headers }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          if (res.statusCode !== 200 && res.statusCode !== 304) reject(new Error(`GET ${p}: ${res.statusCode}`));
          else resolve({ status: res.statusCode, headers: res.headers, bytes: Buffer.concat(chunks) });
        });
      })
      .on('error', reject);
  });
}

/** Runs `joinery nodes ls` against the server; its peak RSS from the child itself (getrusage). */
function cliPeakRssMb(server) {
  const preload = path.join(os.tmpdir(), `joinery-bench-maxrss-${process.pid}.js`);
  fs.writeFileSync(preload, "process.on('exit', () => require('node:fs').writeSync(2, `maxrss ${process.resourceUsage().maxRSS}\\n`));\n");
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', preload, path.join(ROOT, 'dist', 'cli', 'main.js'), 'nodes', 'ls', '--addr', `127.0.0.1:${server.port}`, '--ca-file', server.caFile], {
      env: { ...process.env, JOINERY_ADMIN_TOKEN: server.adminToken },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let lines = 0;
    let err = '';
    child.stdout.on('data', (d) => {
      for (const b of d) if (b === 10) lines++;
    });
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => {
      fs.rmSync(preload, { force: true });
      const m = /maxrss (\d+)/.exec(err);
      if (code !== 0 || !m) reject(new Error(`nodes ls exited ${code}: ${err}`));
      else resolve({ mb: Number(m[1]) / 1024, lines });
    });
  });
}

async function housekeepingStall(dataDir) {
  const { openSqliteStore } = require(path.join(ROOT, 'dist', 'api', 'store', 'sqlite'));
  const { startHousekeeping } = require(path.join(ROOT, 'dist', 'api', 'server', 'housekeeping'));
  const pino = require('pino');
  const store = await openSqliteStore(path.join(dataDir, 'joinery.db'));
  const batchSizes = [];
  let maxBatchMs = 0;
  let maxBatchCpuMs = 0;
  let maxBatchWaitMs = 0;
  let maxBatchOwnMs = 0;
  // Each batch's own time (SQLite answers on the event loop, so this is how long it held it), the
  // CPU the event-loop thread used in it, and how long that thread waited for a core: on a shared
  // machine a batch may wait for a core well past its work (Linux schedstat: run time, run-queue
  // wait, in ns). What is left after the wait is the batch's own: its work and its waits on disk.
  const schedstat = `/proc/${process.pid}/task/${process.pid}/schedstat`;
  const thread = () => {
    try {
      const [run, wait] = fs.readFileSync(schedstat, 'utf8').split(' ').map(Number);
      return { run: run / 1e6, wait: wait / 1e6 };
    } catch {
      return { run: NaN, wait: NaN };
    }
  };
  const timeBatches = (obj, method) => {
    const inner = obj[method].bind(obj);
    obj[method] = async (...a) => {
      const t0 = performance.now();
      const s0 = thread();
      const n = await inner(...a);
      const ms = performance.now() - t0;
      const s1 = thread();
      maxBatchCpuMs = Math.max(maxBatchCpuMs, s1.run - s0.run);
      if (ms > maxBatchMs) {
        maxBatchMs = ms;
        maxBatchWaitMs = s1.wait - s0.wait;
      }
      maxBatchOwnMs = Math.max(maxBatchOwnMs, ms - (s1.wait - s0.wait));
      batchSizes.push(n);
      return n;
    };
  };
  timeBatches(store.nodes, 'pruneCertificates');
  timeBatches(store.audit, 'prune');
  timeBatches(store.challenges, 'prune');
  const future = new Date(Date.now() + 40 * 24 * 3600_000);
  // How late a 1 ms timer fires: the stall a request would have waited. The peer is the same
  // measurement over an idle second (this machine's own scheduling noise).
  const lateness = () => {
    let max = 0;
    let expected = performance.now() + 1;
    const timer = setInterval(() => {
      const now = performance.now();
      max = Math.max(max, now - expected);
      expected = now + 1;
    }, 1);
    return () => {
      clearInterval(timer);
      return max;
    };
  };
  const idle = lateness();
  await new Promise((r) => setTimeout(r, 1000));
  const idleStallMs = idle();
  const delay = lateness();
  const started = performance.now();
  const hk = startHousekeeping(store, { auditRetentionDays: 90, auditMaxRows: 1000 }, pino({ level: 'silent' }), { now: () => future, intervalMs: 3600_000 });
  let counts = await hk.runOnce();
  const again = await hk.runOnce();
  counts = { certificates: counts.certificates + again.certificates, audit: counts.audit + again.audit };
  const seconds = (performance.now() - started) / 1000;
  const maxStallMs = delay();
  await hk.stop();
  await store.close();
  return { ...counts, maxStallMs, idleStallMs, maxBatchMs, maxBatchCpuMs, maxBatchWaitMs, maxBatchOwnMs, seconds, batches: batchSizes.length };
}

module.exports = { main };

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
