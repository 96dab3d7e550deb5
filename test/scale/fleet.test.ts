// A fleet on one server: the CRL published from the revoked serials alone (its content, number and
// agreement across replicas, 250,000 entries), housekeeping in bounded batches, and status counts
// kept by the writes. Figures (times, memory) live in `npm run bench -- fleet`, not here.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import Database from '../../api/store/sqlite-driver';
import { ClusterCA } from '../../api/ca/ca';
import { CrlPublisher, crlNumber, matchesEtag } from '../../api/ca/crl-publisher';
import { startHousekeeping } from '../../api/server/housekeeping';
import { loadConfig } from '../../api/config';
import { openSqliteStore } from '../../api/store/sqlite';
import type { NodeRecord, Store } from '../../api/store/types';
import { storeBackends } from '../support/store-backends';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const T0 = new Date('2030-06-01T00:00:00Z');
const silent = pino({ level: 'silent' });

let dir: string;
let serials = 0;
function node(hostId: string, at: Date, ttlMs = HOUR): NodeRecord {
  const certSerial = (0x1000 + ++serials).toString(16);
  return { hostId, joinMethod: 'token', tokenName: 't', role: 'Node', joinedAt: at.toISOString(), certSerial, certNotAfter: new Date(at.getTime() + ttlMs).toISOString(), attributes: {} };
}

/** The serials, the count and the number of a DER CRL, as openssl reads it. */
function opensslCrl(der: Buffer): { serials: string[]; number: bigint } {
  const text = execFileSync('openssl', ['crl', '-inform', 'DER', '-noout', '-text'], { input: der, maxBuffer: 512 << 20 }).toString();
  const serialsRead = [...text.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => m[1].toLowerCase().replace(/^0+(?=.)/, ''));
  const number = /crlNumber=(?:0x)?([0-9A-F]+)/i.exec(execFileSync('openssl', ['crl', '-inform', 'DER', '-noout', '-crlnumber'], { input: der }).toString());
  return { serials: serialsRead, number: BigInt(`0x${number![1]}`) };
}

const backends = storeBackends(() => dir, 'f');

describe.each(backends)('%s', (_name, open) => {
  let store: Store;
  let ca: ClusterCA;
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-fleet-'));
    store = await open();
    ca = await ClusterCA.loadOrCreate(dir, 'fleet', store);
  });
  afterEach(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the CRL lists exactly the revoked, unexpired serials, read in pages; replicas agree on its number; a revocation moves it', async () => {
    let clock = T0;
    const publisher = (s: Store) => new CrlPublisher(s, ca, { now: () => clock, hostCertTtlMs: DAY, pageSize: 3 });
    const first = publisher(store);
    const empty = await first.current();
    expect(opensslCrl(empty.der).serials).toEqual([]);
    for (let i = 0; i < 10; i++) await store.nodes.insert(node(`h${i}`, T0), T0);
    const revokedSerials: string[] = [];
    for (let i = 0; i < 7; i++) {
      revokedSerials.push((await store.nodes.get(`h${i}`))!.certSerial);
      expect(await store.nodes.remove(`h${i}`, new Date(T0.getTime() + i * 1000))).toBe('removed');
    }
    const pages = jest.spyOn(store.nodes, 'revokedCertificates');
    const crl = await first.current();
    // Seven entries in pages of three: three reads, the last one short.
    expect(pages.mock.calls.map(([, page]) => page.limit)).toEqual([3, 3, 3]);
    const read = opensslCrl(crl.der);
    expect(read.serials.sort()).toEqual(revokedSerials.sort());
    expect(crl.entries).toBe(7);
    expect(read.number).toBe(crl.number);
    expect(crl.number).toBe(crlNumber(Math.floor(T0.getTime() / 1800_000) * 1800_000, 7));
    expect(crl.number).toBeGreaterThan(empty.number);
    // Served from the cache while nothing changes: no page is read again.
    pages.mockClear();
    expect(await first.current()).toBe(crl);
    expect(pages).not.toHaveBeenCalled();
    // A second replica on the same database publishes the same number and the same serials.
    const replica = await publisher(store).current();
    expect(replica.number).toBe(crl.number);
    expect(opensslCrl(replica.der).serials.sort()).toEqual(read.serials.sort());
    // Removing an already removed host revokes nothing and changes nothing.
    expect(await store.nodes.remove('h0', T0)).toBe('already_removed');
    expect((await first.current()).number).toBe(crl.number);
    // A new revocation reaches the cache at the next request, with a higher number.
    await store.nodes.remove('h9', T0);
    const next = await first.current();
    expect(next.number).toBeGreaterThan(crl.number);
    expect(opensslCrl(next.der).serials).toContain((await store.nodes.get('h9'))!.certSerial);
    // The next window (before nextUpdate) rebuilds with a higher number; once the certificates
    // expire the serials leave it.
    clock = new Date(T0.getTime() + 2 * HOUR);
    const later = await first.current();
    expect(later.number).toBeGreaterThan(next.number);
    expect(opensslCrl(later.der).serials).toEqual([]);
  });

  test('housekeeping deletes in batches of the size it is given until nothing expired is left; live rows stay', async () => {
    for (let i = 0; i < 12; i++) await store.nodes.insert(node(`old${i}`, new Date(T0.getTime() - 3 * DAY)), new Date(T0.getTime() - 3 * DAY));
    for (let i = 0; i < 3; i++) await store.nodes.insert(node(`live${i}`, T0), T0);
    for (let i = 0; i < 23; i++) await store.audit.append({ time: new Date(T0.getTime() - 40 * DAY + i).toISOString(), type: 't', success: true, message: `old ${i}` });
    for (let i = 0; i < 4; i++) await store.audit.append({ time: T0.toISOString(), type: 't', success: true, message: `new ${i}` });
    const certBatches = jest.spyOn(store.nodes, 'pruneCertificates');
    const auditBatches = jest.spyOn(store.audit, 'prune');
    const config = loadConfig({}, { JOINERY_AUDIT_RETENTION_DAYS: '30', JOINERY_AUDIT_MAX_ROWS: '0' });
    const hk = startHousekeeping(store, config, silent, { now: () => T0, intervalMs: HOUR, batchSize: 5 });
    try {
      await hk.runOnce();
      // The timer's first pass may be the one runOnce joined; a second finds nothing.
      expect(await hk.runOnce()).toEqual({ challenges: 0, audit: 0, certificates: 0, hosts: 0, locks: 0 });
    } finally {
      await hk.stop();
    }
    const certResults = await Promise.all(certBatches.mock.results.map((r) => r.value as Promise<number>));
    expect(certBatches.mock.calls.every(([, limit]) => limit === 5)).toBe(true);
    expect(certResults.slice(0, 4)).toEqual([5, 5, 2, 0]);
    const auditResults = await Promise.all(auditBatches.mock.results.map((r) => r.value as Promise<number>));
    expect(auditBatches.mock.calls.every(([opts]) => opts.limit === 5)).toBe(true);
    expect(auditResults.slice(0, 6)).toEqual([5, 5, 5, 5, 3, 0]);
    for (let i = 0; i < 12; i++) expect(await store.nodes.countLiveCertificates(`old${i}`, new Date(0))).toBe(0);
    for (let i = 0; i < 3; i++) expect(await store.nodes.countLiveCertificates(`live${i}`, T0)).toBe(1);
    expect((await store.audit.list({ limit: 100 })).map((e) => e.message).sort()).toEqual(['new 0', 'new 1', 'new 2', 'new 3']);
    // Pruning certificate records never touches the hosts or their counts.
    expect(await store.nodes.countByStatus(T0)).toEqual({ active: 3, expired: 12, removed: 0 });
  });
});

test('a CRL of 250,000 revoked serials: every serial listed once, its number, 35 bytes an entry (no reason code)', async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-fleet-crl-'));
  const file = path.join(dir, 'j.db');
  const store = await openSqliteStore(file);
  try {
    const ca = await ClusterCA.loadOrCreate(dir, 'fleet', store);
    // Seeded straight into the table (a quarter of a million removals through the API is the bench's job).
    const raw = new Database(file);
    const N = 250_000;
    const serialOf = (i: number) => (0x40000000000000000000000000000000n + BigInt(i) * 7919n).toString(16);
    const insert = raw.prepare('INSERT INTO host_certificates (serial, host_id, issued_at, not_after, revoked_at) VALUES (?, ?, ?, ?, ?)');
    raw.transaction(() => {
      for (let i = 0; i < N; i++) insert.run(serialOf(i), `h${i}`, T0.toISOString(), new Date(T0.getTime() + DAY).toISOString(), new Date(T0.getTime() + (i % 1000)).toISOString());
      raw.prepare("UPDATE counters SET value = ? WHERE name = 'crl_revision'").run(N);
    })();
    raw.close();
    const crl = await new CrlPublisher(store, ca, { now: () => T0, hostCertTtlMs: DAY }).current();
    expect(crl.entries).toBe(N);
    const read = opensslCrl(crl.der);
    expect(read.serials.length).toBe(N);
    expect(new Set(read.serials).size).toBe(N);
    expect(read.serials.sort()).toEqual(Array.from({ length: N }, (_, i) => serialOf(i)).sort());
    expect(read.number).toBe(crlNumber(T0.getTime(), N));
    // The size per entry the docs state.
    const emptyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-fleet-empty-'));
    const emptyStore = await openSqliteStore(path.join(emptyDir, 'j.db'));
    try {
      const empty = await new CrlPublisher(emptyStore, ca, { now: () => T0, hostCertTtlMs: DAY }).current();
      const perEntry = (crl.der.length - empty.der.length) / N;
      expect(Math.round(perEntry)).toBe(35);
    } finally {
      await emptyStore.close();
      fs.rmSync(emptyDir, { recursive: true, force: true });
    }
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 180_000);

test('If-None-Match: a weak or strong spelling of the ETag, a list, or * matches; another number does not', () => {
  expect(matchesEtag('W/"abc-der"', 'W/"abc-der"')).toBe(true);
  expect(matchesEtag('"abc-der"', 'W/"abc-der"')).toBe(true);
  expect(matchesEtag('"x", W/"abc-der"', 'W/"abc-der"')).toBe(true);
  expect(matchesEtag('*', 'W/"abc-der"')).toBe(true);
  expect(matchesEtag('W/"abd-der"', 'W/"abc-der"')).toBe(false);
  expect(matchesEtag('W/"abc-pem"', 'W/"abc-der"')).toBe(false);
  expect(matchesEtag(undefined, 'W/"abc-der"')).toBe(false);
});
