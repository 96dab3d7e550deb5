// A burst of concurrent GETs from a worker thread, so that reading the responses (50 CRLs are tens
// of megabytes to decrypt) does not slow the event loop that times the renewals in the bench.
const https = require('node:https');
const { parentPort, workerData } = require('node:worker_threads');

const { port, path, ca, count } = workerData;
const agent = new https.Agent({ keepAlive: false, maxCachedSessions: 0, ca });
const one = () =>
  new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port, path, agent, servername: 'localhost' }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`GET ${path}: ${res.statusCode}`))));
      })
      .on('error', reject);
  });
Promise.all(Array.from({ length: count }, one)).then(
  () => parentPort.postMessage({ ok: true }),
  (e) => parentPort.postMessage({ ok: false, error: String(e) }),
);
