// The inventory at scale: 100,000 hosts that joined and lapsed (or were removed) are pruned back to
// the live hosts plus the retention window, in batches of the size housekeeping gives, with the
// counts kept right; filters and keyset paging agree on both backends. Figures live in bench/.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from '../../api/store/sqlite-driver';
import { pruneHosts } from '../../api/server/housekeeping';
import { openSqliteStore } from '../../api/store/sqlite';
import type { NodeRecord, Store } from '../../api/store/types';
import { storeBackends } from '../support/store-backends';

jest.setTimeout(300_000);

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const T0 = new Date('2030-06-01T00:00:00Z');
const RETENTION = 30 * DAY;
let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-inventory-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test('100,000 lapsed and removed hosts are pruned to the live ones plus the retention window, in bounded batches, counts kept', async () => {
  const file = path.join(dir, 'j.db');
  await (await openSqliteStore(file)).close();
  const N = 100_000;
  const raw = new Database(file);
  const node = raw.prepare(
    'INSERT INTO nodes (host_id, join_method, token_name, role, joined_at, cert_serial, attributes, cert_not_after, removed_at, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const cert = raw.prepare('INSERT INTO host_certificates (serial, host_id, issued_at, not_after, revoked_at) VALUES (?, ?, ?, ?, ?)');
  const iso = (ms: number) => new Date(T0.getTime() + ms).toISOString();
  let removed = 0;
  let serials = 0;
  const add = (id: string, joinedMs: number, notAfterMs: number, removedMs?: number) => {
    const serial = (0x100000 + ++serials).toString(16);
    node.run(id, 'token', 't', 'Node', iso(joinedMs), serial, '{}', iso(notAfterMs), removedMs === undefined ? null : iso(removedMs), iso(joinedMs));
    cert.run(serial, id, iso(joinedMs), iso(notAfterMs), removedMs === undefined ? null : iso(removedMs));
    if (removedMs !== undefined) removed++;
  };
  raw.transaction(() => {
    // Lapsed long ago; every tenth removed (its certificate expired too, so the CRL loses nothing).
    for (let i = 0; i < N; i++) add(`gone${i}`, -90 * DAY, -90 * DAY + HOUR, i % 10 === 0 ? -80 * DAY : undefined);
    // Inside the retention window: lapsed 10 days ago, or removed 10 days ago.
    for (let i = 0; i < 50; i++) add(`keep${i}`, -10 * DAY, -10 * DAY + HOUR, i % 2 === 0 ? -10 * DAY : undefined);
    // Removed long ago, but with a revoked certificate still unexpired: it stays (and on the CRL).
    add('keep-revoked1', -60 * DAY, 300 * DAY, -60 * DAY);
    for (let i = 0; i < 20; i++) add(`live${i}`, -HOUR, DAY);
    raw.prepare("UPDATE counters SET value = ? WHERE name = 'nodes'").run(N + 71);
    raw.prepare("UPDATE counters SET value = ? WHERE name = 'nodes_removed'").run(removed);
  })();
  raw.close();

  const store = await openSqliteStore(file);
  try {
    const batches = jest.spyOn(store.nodes, 'pruneHosts');
    const BATCH = 500;
    expect(await pruneHosts(store, RETENTION, T0, BATCH)).toBe(N);
    // Bounded: every statement asked for at most BATCH hosts, and got at most that many.
    const results = await Promise.all(batches.mock.results.map((r) => r.value as Promise<number>));
    expect(batches.mock.calls.every(([, , limit]) => limit === BATCH)).toBe(true);
    expect(results.every((n) => n <= BATCH)).toBe(true);
    expect(results).toHaveLength(N / BATCH + 1);
    expect(results[results.length - 1]).toBe(0);

    // Left: the live hosts, the retention window, and the removed host whose certificate is still on the CRL.
    const left: string[] = [];
    let after: string | undefined;
    do {
      const page = await store.nodes.list({ limit: 1000, after });
      left.push(...page.items.map((n) => n.hostId));
      after = page.next;
    } while (after);
    expect(left).toHaveLength(71);
    expect(left.filter((h) => h.startsWith('gone'))).toEqual([]);
    expect(left).toContain('keep-revoked1');
    expect((await store.nodes.revokedCertificates(T0, { limit: 10 })).map((r) => r.serial)).toHaveLength(1);
    // The counts the writes keep agree with the rows.
    expect(await store.nodes.countByStatus(T0)).toEqual({ active: 20, expired: 25, removed: 26 });
    // A second pass finds nothing.
    expect(await pruneHosts(store, RETENTION, T0, BATCH)).toBe(0);
  } finally {
    await store.close();
  }
});

const backends = storeBackends(() => dir, 'inv');

describe.each(backends)('%s: filters and paging', (_name, open) => {
  let store: Store;
  beforeEach(async () => {
    store = await open();
  });
  afterEach(() => store.close());

  function host(i: number, over: Partial<NodeRecord> = {}): NodeRecord {
    return {
      hostId: `h${String(i).padStart(3, '0')}`,
      joinMethod: i % 2 ? 'ec2' : 'token',
      tokenName: i % 2 ? 'ec2-prod' : 'secret-token-abcdefghijklmnop',
      role: 'Node',
      joinedAt: new Date(T0.getTime() - (i % 3) * HOUR).toISOString(),
      certSerial: (0x5000 + i).toString(16),
      certNotAfter: new Date(T0.getTime() + DAY).toISOString(),
      attributes: i % 2 ? { account: '123456789012', region: 'us-west-2', instance_id: `i-${i}` } : {},
      labels: i % 2 ? { 'aws/Team': i % 4 === 1 ? 'payments' : 'search', 'aws/Odd%_': 'x"y' } : {},
      ...over,
    };
  }

  test('status, method, token, label and stale filters combine with keyset paging', async () => {
    for (let i = 0; i < 40; i++) await store.nodes.insert(host(i), T0);
    await store.nodes.remove('h003', T0);
    const all = async (filter: Parameters<Store['nodes']['list']>[1], limit = 7) => {
      const ids: string[] = [];
      let after: string | undefined;
      do {
        const page = await store.nodes.list({ limit, after }, filter, T0);
        expect(page.items.length).toBeLessThanOrEqual(limit);
        ids.push(...page.items.map((n) => n.hostId));
        after = page.next;
      } while (after);
      return ids;
    };
    expect(await all({ method: 'ec2' })).toHaveLength(20);
    expect(await all({ token: 'ec2-prod', status: 'active' })).toHaveLength(19);
    expect(await all({ status: 'removed' })).toEqual(['h003']);
    const payments = await all({ labels: { 'aws/Team': 'payments' } });
    expect(payments).toEqual(Array.from({ length: 40 }, (_, i) => i).filter((i) => i % 4 === 1).map((i) => `h${String(i).padStart(3, '0')}`));
    // LIKE's wildcards and JSON quoting in keys and values are taken literally.
    expect(await all({ labels: { 'aws/Odd%_': 'x"y' } })).toHaveLength(20);
    expect(await all({ labels: { 'aws/Odd__': 'x"y' } })).toEqual([]);
    expect(await all({ labels: { 'aws/Team': 'pay%' } })).toEqual([]);
    expect(await all({ labels: { 'aws/Team': 'payments', 'aws/Odd%_': 'x"y' }, method: 'ec2' })).toEqual(payments);
    // Last seen two hours before T0 (joined then): stale for 90 minutes.
    expect((await all({ seenBefore: new Date(T0.getTime() - 90 * 60_000) })).length).toBe(13);
    const h = (await store.nodes.get('h001'))!;
    expect(h.labels).toEqual({ 'aws/Odd%_': 'x"y', 'aws/Team': 'payments' });
  });

  test('pruning deletes hosts removed or lapsed before the window with their certificates, keeps counts, and keeps a host that re-joined', async () => {
    const old = new Date(T0.getTime() - 60 * DAY);
    for (let i = 0; i < 5; i++) await store.nodes.insert(host(i, { joinedAt: old.toISOString(), certNotAfter: new Date(old.getTime() + HOUR).toISOString() }), old);
    await store.nodes.remove('h000', new Date(old.getTime() + 60_000));
    // h001 lapsed long ago but joined again now: it stays.
    await store.nodes.insert(host(1, { certSerial: 'abc1' }), T0);
    await store.nodes.insert(host(9), T0);
    expect(await pruneHosts(store, RETENTION, T0, 2)).toBe(4);
    const left = (await store.nodes.list({ limit: 100 })).items.map((n) => n.hostId);
    expect(left).toEqual(['h001', 'h009']);
    expect(await store.nodes.countByStatus(T0)).toEqual({ active: 2, expired: 0, removed: 0 });
    expect(await store.nodes.certificate((0x5000 + 2).toString(16))).toBeUndefined();
  });

  test('a lock revokes the matched hosts\' unexpired certificates and moves the CRL revision; an ARN glob matches as LIKE', async () => {
    for (let i = 0; i < 6; i++) await store.nodes.insert(host(i), T0);
    await store.nodes.insert({ ...host(50), attributes: { account: '210987654321', arn: 'arn:aws:sts::210987654321:assumed-role/ci_role/x' }, joinMethod: 'iam' }, T0);
    await store.nodes.insert({ ...host(51), attributes: { account: '210987654321', arn: 'arn:aws:sts::210987654321:assumed-roleX/ci_role/x' }, joinMethod: 'iam' }, T0);
    const rev0 = await store.nodes.crlRevision();
    const audit = { time: T0.toISOString(), type: 'lock.create', success: true };
    expect(await store.locks.create({ id: 'l1', kind: 'account', target: '123456789012', createdAt: T0.toISOString() }, T0, audit)).toBe(3);
    expect(await store.nodes.crlRevision()).toBe(rev0 + 1);
    expect(await store.locks.create({ id: 'l2', kind: 'arn', target: 'arn:aws:sts::*:assumed-role/ci_role/*', createdAt: T0.toISOString() }, T0, audit)).toBe(1);
    expect(await store.locks.create({ id: 'l3', kind: 'host_id', target: 'nobody', createdAt: T0.toISOString(), expiresAt: new Date(T0.getTime() + HOUR).toISOString() }, T0, audit)).toBe(0);
    expect(await store.nodes.crlRevision()).toBe(rev0 + 2);
    expect((await store.locks.active(T0, 10)).map((l) => l.id)).toEqual(['l1', 'l2', 'l3']);
    // A join reads its own exact targets by index, and the ARN globs.
    expect((await store.locks.candidates([{ kind: 'account', target: '123456789012' }], false, T0, 10)).map((l) => l.id)).toEqual(['l1']);
    expect((await store.locks.candidates([{ kind: 'host_id', target: 'nobody' }], true, T0, 10)).map((l) => l.id)).toEqual(['l2', 'l3']);
    expect(await store.locks.candidates([{ kind: 'token', target: '123456789012' }], false, T0, 10)).toEqual([]);
    expect(await store.locks.candidates([], false, T0, 10)).toEqual([]);
    const later = new Date(T0.getTime() + 2 * HOUR);
    expect((await store.locks.active(later, 10)).map((l) => l.id)).toEqual(['l1', 'l2']);
    expect((await store.locks.pruneExpired(later, 10)).map((l) => l.id)).toEqual(['l3']);
    expect(await store.locks.delete('l1', { ...audit, type: 'lock.delete' })).toBe(true);
    expect(await store.locks.delete('l1', { ...audit, type: 'lock.delete' })).toBe(false);
  });
});
