// GET /v1/crl of a large fleet through the real server: the body is written in slices
// (api/server/paced-body.ts), and arrives complete and byte-identical whoever asks and however
// many ask at once, in DER and PEM, with the headers it always had. Figures (renewals during a
// burst of CRL fetches) live in `npm run bench -- fleet`.

import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import * as tls from 'node:tls';
import Database from '../../api/store/sqlite-driver';
import { toPem } from '../../api/ca/der';
import { SLICE_BYTES } from '../../api/server/paced-body';
import { startLifecycleServer, type LifecycleServer } from '../lifecycle/support';

const N = 100_000;
/** A response not read for this long is dropped (the server's request timeout). */
const STALL_MS = 2000;
let s: LifecycleServer;
const serialOf = (i: number) => (0x50000000000000000000000000000000n + BigInt(i) * 104729n).toString(16);

beforeAll(async () => {
  s = await startLifecycleServer({ JOINERY_HEADERS_TIMEOUT_MS: String(STALL_MS), JOINERY_REQUEST_TIMEOUT_MS: String(STALL_MS) });
  // Seeded straight into the table, as a removal would leave them (100,000 removals through the API are the bench's job).
  const raw = new Database(path.join(s.dataDir, 'joinery.db'));
  try {
    raw.pragma('busy_timeout = 10000');
    const now = s.now();
    const insert = raw.prepare('INSERT INTO host_certificates (serial, host_id, issued_at, not_after, revoked_at) VALUES (?, ?, ?, ?, ?)');
    raw.transaction(() => {
      for (let i = 0; i < N; i++) insert.run(serialOf(i), `h${i}`, now.toISOString(), new Date(now.getTime() + 24 * 3600_000).toISOString(), new Date(now.getTime() - 60_000 + (i % 1000)).toISOString());
      raw.prepare("UPDATE counters SET value = value + ? WHERE name = 'crl_revision'").run(N);
    })();
  } finally {
    raw.close();
  }
});
afterAll(() => s?.stop());

function opensslSerials(der: Buffer): string[] {
  const text = execFileSync('openssl', ['crl', '-inform', 'DER', '-noout', '-text'], { input: der, maxBuffer: 256 << 20 }).toString();
  // Entries carry no extension: a reason code would be the same for every entry (api/ca/crl.ts says why).
  expect(text).not.toMatch(/CRL entry extensions|Reason Code/);
  return [...text.matchAll(/Serial Number: ([0-9A-F]+)/gi)].map((m) => m[1].toLowerCase().replace(/^0+(?=.)/, ''));
}

test('a CRL of 100,000 entries (many slices) arrives whole: the DER parses and lists every serial, with its length, type and cache headers', async () => {
  const r = await s.request('GET', '/v1/crl');
  expect(r.status).toBe(200);
  expect(r.body.length).toBeGreaterThan(10 * SLICE_BYTES);
  expect(r.headers['content-length']).toBe(String(r.body.length));
  expect(r.headers['content-type']).toBe('application/pkix-crl');
  expect(r.headers['cache-control']).toBe('public, max-age=60');
  expect(r.headers['x-content-type-options']).toBe('nosniff');
  const serials = opensslSerials(r.body);
  expect(serials.length).toBe(N);
  expect(serials.sort()).toEqual(Array.from({ length: N }, (_, i) => serialOf(i)).sort());
});

test('ten fetches at once get the same bytes; PEM is the same CRL armoured; HEAD and If-None-Match send no body', async () => {
  const first = await s.request('GET', '/v1/crl');
  const all = await Promise.all(Array.from({ length: 10 }, (_, i) => s.request('GET', i % 2 ? '/v1/crl' : '/v1/crl?format=pem')));
  for (const [i, r] of all.entries()) {
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe(String(r.body.length));
    if (i % 2) expect(r.body.equals(first.body)).toBe(true);
    else {
      expect(r.headers['content-type']).toBe('application/x-pem-file; charset=utf-8');
      expect(r.body.toString('ascii')).toBe(toPem(first.body, 'X509 CRL'));
    }
  }
  const head = await s.request('HEAD', '/v1/crl');
  expect(head.status).toBe(200);
  expect(head.headers['content-length']).toBe(String(first.body.length));
  expect(head.headers.etag).toBe(first.headers.etag);
  expect(head.body.length).toBe(0);
  const notModified = await s.request('GET', '/v1/crl', { headers: { 'if-none-match': String(first.headers.etag) } });
  expect(notModified.status).toBe(304);
  expect(notModified.body.length).toBe(0);
});

test('a client that asks for the CRL and stops reading holds nobody else up, and is dropped after the request timeout', async () => {
  const url = new URL(s.url);
  const stalled = tls.connect({ host: url.hostname, port: Number(url.port), ca: s.caPem, servername: 'localhost' });
  let received = 0;
  let failed: Error | undefined;
  stalled.on('error', (e) => (failed = e));
  const closed = new Promise<void>((r) => stalled.once('close', () => r()));
  try {
    await new Promise<void>((r) => stalled.once('secureConnect', () => r()));
    // The PEM form (6.6 MB) is more than the loopback socket buffers take, so the server's writes stall.
    stalled.write('GET /v1/crl?format=pem HTTP/1.1\r\nHost: localhost\r\n\r\n');
    stalled.pause();
    const [health, crl] = await Promise.all([s.request('GET', '/healthz'), s.request('GET', '/v1/crl')]);
    expect(health.status).toBe(200);
    expect(crl.status).toBe(200);
    expect(opensslSerials(crl.body).length).toBe(N);
    const pemLength = toPem(crl.body, 'X509 CRL').length;
    // Well past the stall bound, read what the kernel holds: the answer ends before its length.
    await new Promise((r) => setTimeout(r, 3 * STALL_MS));
    stalled.on('data', (d: Buffer) => (received += d.length));
    stalled.resume();
    await closed;
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(pemLength);
    expect(failed === undefined || /ECONNRESET|EPIPE/.test(String(failed))).toBe(true);
  } finally {
    stalled.destroy();
  }
});
