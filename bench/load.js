// A small HTTPS load generator for the bench: a fixed number of workers send requests back to
// back, over keep-alive connections or over a new TLS connection (full handshake) per request.
// The same generator drives Joinery and the hello-world peer, so their ratio is fair.
const https = require('node:https');

function pct(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function request(opts, agent, body) {
  return new Promise((resolve) => {
    const data = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const req = https.request(
      {
        host: opts.host ?? '127.0.0.1',
        port: opts.port,
        path: opts.path,
        method: opts.method ?? (data ? 'POST' : 'GET'),
        ca: opts.ca,
        servername: 'localhost',
        agent,
        headers: { ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}), ...(opts.headers ?? {}) },
        timeout: opts.timeoutMs ?? 30_000,
        localAddress: opts.localAddress,
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (e) => resolve({ status: 0, body: String(e) }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, body: String(e) }));
    req.end(data);
  });
}

/**
 * Runs `total` requests (or until `maxSeconds`) with `concurrency` workers. body(i) makes the i-th
 * request body (may be async); flow(i, send) replaces the single request by several;
 * sourceAddress(i) the loopback address the i-th request comes from (a fleet of distinct hosts
 * rather than one client holding every connection). Returns throughput, latency percentiles and
 * the failures by status.
 */
async function runLoad(opts) {
  const { concurrency, total, keepAlive } = opts;
  const maxMs = (opts.maxSeconds ?? 60) * 1000;
  // Without keep-alive every request opens a new connection, and no TLS session is resumed.
  const agent = keepAlive
    ? new https.Agent({ keepAlive: true, maxSockets: concurrency, ca: opts.ca })
    : new https.Agent({ keepAlive: false, maxCachedSessions: 0, ca: opts.ca });
  const latencies = [];
  const failures = {};
  let next = 0;
  let ok = 0;
  const start = performance.now();
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= total || performance.now() - start > maxMs) return;
      const t0 = performance.now();
      const body = opts.body ? await opts.body(i) : undefined;
      // A flow (several requests for one operation, as an IAM join) is timed whole.
      const t = opts.flow ? t0 : performance.now();
      const from = { ...opts, localAddress: opts.sourceAddress?.(i) };
      const res = opts.flow ? await opts.flow(i, (o, b) => request({ ...from, ...o }, agent, b)) : await request(from, agent, body);
      latencies.push(performance.now() - t);
      if (res.status >= 200 && res.status < 300) ok++;
      else {
        let code = String(res.status);
        try {
          code += ' ' + JSON.parse(res.body).error.code;
        } catch {
          if (res.status === 0) code += ' ' + res.body.slice(0, 60);
        }
        failures[code] = (failures[code] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - start) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const done = latencies.length;
  return { done, ok, failed: done - ok, failures, seconds, perSec: done / seconds, p50: pct(latencies, 50), p99: pct(latencies, 99), max: latencies[done - 1], latencies };
}

/** Several runs of one workload as one: throughput over their summed time, percentiles over all requests. */
function merge(runs) {
  const latencies = runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const done = latencies.length;
  const seconds = runs.reduce((a, r) => a + r.seconds, 0);
  const ok = runs.reduce((a, r) => a + r.ok, 0);
  const failures = {};
  for (const r of runs) for (const [k, v] of Object.entries(r.failures)) failures[k] = (failures[k] ?? 0) + v;
  return { done, ok, failed: done - ok, failures, seconds, perSec: done / seconds, p50: pct(latencies, 50), p99: pct(latencies, 99), max: latencies[done - 1], latencies };
}

module.exports = { runLoad, merge, request, pct };
