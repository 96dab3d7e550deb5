import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from '../../api/store/sqlite-driver';
import { parseToken } from '../../schema/token';
import { openSqliteStore } from '../../api/store/sqlite';
import { storeBackends } from '../support/store-backends';
import { AlreadyExistsError, ConflictError, NotFoundError, type Store } from '../../api/store/types';

let dir: string;
let store: Store;
const tok = (name: string) => parseToken({ version: 'v2', metadata: { name }, spec: { roles: ['Node'], allow: [{ aws_account: '111111111111' }] } });
const HOUR = 3600_000;
let serialCount = 0;
const node = (hostId: string, o: { at?: Date; ttlMs?: number } = {}) => {
  const at = o.at ?? new Date();
  return { hostId, joinMethod: 'token', tokenName: 't', role: 'Node', joinedAt: at.toISOString(), certSerial: (++serialCount).toString(16).padStart(4, '0'), certNotAfter: new Date(at.getTime() + (o.ttlMs ?? HOUR)).toISOString(), attributes: { a: 'b' } };
};

describe('sqlite specifics', () => {
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-store-'));
    store = await openSqliteStore(path.join(dir, 'j.db'));
  });
  afterEach(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  test('WAL mode and migrations recorded once', async () => {
    await store.close();
    store = await openSqliteStore(path.join(dir, 'j.db')); // second open: migrations are not re-run
    const db = new Database(path.join(dir, 'j.db'), { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.prepare('select version from schema_migrations').all()).toEqual([{ version: 1 }, { version: 2 }, { version: 3 }, { version: 4 }, { version: 5 }, { version: 6 }]);
    expect(db.prepare('select name from kysely_migration order by name').all()).toHaveLength(6);
    expect(db.prepare("select name from sqlite_master where type = 'index' and tbl_name = 'iam_challenges' and sql like '%expires_at%'").all()).toHaveLength(1);
    db.close();
  });
  test('upgrading a version 1 database records legacy hosts with the old 30-day lifetime, renewable and countable', async () => {
    await store.close();
    const file = path.join(dir, 'v1.db');
    const db = new Database(file);
    db.exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);
      CREATE TABLE tokens (name TEXT PRIMARY KEY, resource TEXT NOT NULL, revision TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
      CREATE TABLE nodes (host_id TEXT PRIMARY KEY, join_method TEXT NOT NULL, token_name TEXT NOT NULL, role TEXT NOT NULL, joined_at TEXT NOT NULL, cert_serial TEXT NOT NULL, attributes TEXT NOT NULL);
      CREATE TABLE iam_challenges (challenge TEXT PRIMARY KEY, expires_at TEXT NOT NULL, used_at TEXT);
      CREATE TABLE audit_events (id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, type TEXT NOT NULL, success INTEGER NOT NULL, code TEXT, message TEXT, token_name TEXT, host_id TEXT, remote_addr TEXT, details TEXT);
      CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      INSERT INTO schema_migrations VALUES (1, 'v1', '2026-01-01T00:00:00.000Z');
      INSERT INTO nodes VALUES ('legacy', 'ec2', 'ec2-token', 'Node', '2026-01-01T00:00:00.000Z', '0A1B2C', '{}');`);
    db.close();
    store = await openSqliteStore(file);
    expect(await store.nodes.get('legacy')).toMatchObject({ certSerial: 'a1b2c', certNotAfter: '2026-01-31T00:00:00.000Z' });
    expect(await store.nodes.certificate('0a1b2c')).toMatchObject({ certificate: { hostId: 'legacy', notAfter: '2026-01-31T00:00:00.000Z' } });
    expect(await store.nodes.countByStatus(new Date('2026-01-15T00:00:00Z'))).toEqual({ active: 1, expired: 0, removed: 0 });
  });

  test('a database from a newer release is refused', async () => {
    await store.close();
    const db = new Database(path.join(dir, 'j.db'));
    db.prepare("insert into schema_migrations values (99, 'future', '2030-01-01')").run();
    db.close();
    await expect(openSqliteStore(path.join(dir, 'j.db'))).rejects.toThrow(/newer than this Joinery release/);
    store = await openSqliteStore(path.join(dir, 'other.db'));
  });
});

// The same behaviour from both backends: callers cannot tell them apart.
const backends = storeBackends(() => dir, 't');

describe.each(backends)('%s store', (_name, open) => {
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-store-'));
    store = await open();
  });
  afterEach(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('token create/put/delete with revisions', async () => {
    const a = await store.tokens.create(tok('a'));
    await expect(store.tokens.create(tok('a'))).rejects.toBeInstanceOf(AlreadyExistsError);
    const b = await store.tokens.put(tok('a'), a.token.metadata.revision);
    expect(b.created).toBe(false);
    await expect(store.tokens.put(tok('a'), a.token.metadata.revision)).rejects.toBeInstanceOf(ConflictError);
    await expect(store.tokens.put(tok('zzz'), 'some-revision')).rejects.toBeInstanceOf(NotFoundError);
    expect((await store.tokens.put(tok('new'))).created).toBe(true);
    expect(await store.tokens.delete('a')).toBe(true);
    expect(await store.tokens.delete('a')).toBe(false);
  });

  test('node insert is unique under concurrency; removal lets the host join again', async () => {
    const now = new Date();
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => store.nodes.insert(node('h1'), now)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason instanceof AlreadyExistsError)).toBe(true);
    expect(await store.nodes.get('h1')).toMatchObject({ hostId: 'h1', attributes: { a: 'b' } });
    expect(await store.nodes.remove('h1', now)).toBe('removed');
    expect(await store.nodes.remove('h1', now)).toBe('already_removed');
    expect(await store.nodes.remove('nope', now)).toBe('not_found');
    expect((await store.nodes.get('h1'))?.removedAt).toBe(now.toISOString());
    await store.nodes.insert(node('h1'), now);
    expect((await store.nodes.get('h1'))?.removedAt).toBeUndefined();
  });

  test('a lapsed node is replaced by exactly one of many concurrent joins; a live one by none', async () => {
    const t0 = new Date('2030-01-01T00:00:00Z');
    await store.nodes.insert(node('h2', { at: t0 }), t0);
    const live = await Promise.allSettled(Array.from({ length: 5 }, () => store.nodes.insert(node('h2', { at: t0 }), t0)));
    expect(live.every((r) => r.status === 'rejected' && r.reason instanceof AlreadyExistsError)).toBe(true);
    const later = new Date(t0.getTime() + 2 * HOUR);
    const racers = Array.from({ length: 8 }, () => node('h2', { at: later }));
    const results = await Promise.allSettled(racers.map((n) => store.nodes.insert(n, later)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const winner = racers[results.findIndex((r) => r.status === 'fulfilled')];
    expect(await store.nodes.get('h2')).toMatchObject({ joinedAt: later.toISOString(), certSerial: winner.certSerial.replace(/^0+/, '') });
    // Only the winner's certificate was recorded.
    for (const [i, n] of racers.entries()) expect(!!(await store.nodes.certificate(n.certSerial))).toBe(results[i].status === 'fulfilled');
  });

  test('renewal updates the current certificate; removal revokes unexpired ones and stops renewal; counts by status', async () => {
    const t0 = new Date('2030-01-01T00:00:00Z');
    const first = node('r1', { at: t0 });
    await store.nodes.insert(first, t0);
    await store.nodes.insert(node('r2', { at: t0, ttlMs: 1000 }), t0);
    await store.nodes.insert(node('r3', { at: t0 }), t0);
    const t1 = new Date(t0.getTime() + 10_000);
    const renewed = await store.nodes.renew('r1', { serial: '00ab', issuedAt: t1.toISOString(), notAfter: new Date(t1.getTime() + HOUR).toISOString() });
    expect(renewed).toMatchObject({ certSerial: 'ab', lastRenewedAt: t1.toISOString(), certNotAfter: new Date(t1.getTime() + HOUR).toISOString() });
    expect(await store.nodes.certificate('AB')).toMatchObject({ certificate: { hostId: 'r1', serial: 'ab' }, node: { hostId: 'r1' } });
    expect(await store.nodes.countByStatus(t1)).toEqual({ active: 2, expired: 1, removed: 0 });

    expect(await store.nodes.remove('r1', t1)).toBe('removed');
    await expect(store.nodes.renew('r1', { serial: 'cd', issuedAt: t1.toISOString(), notAfter: t1.toISOString() })).rejects.toBeInstanceOf(NotFoundError);
    await expect(store.nodes.renew('ghost', { serial: 'ce', issuedAt: t1.toISOString(), notAfter: t1.toISOString() })).rejects.toBeInstanceOf(NotFoundError);
    expect((await store.nodes.revokedCertificates(t1, { limit: 10 })).map((c) => c.serial).sort()).toEqual([first.certSerial.replace(/^0+/, ''), 'ab'].sort());
    // Expired certificates drop off the list.
    expect((await store.nodes.revokedCertificates(new Date(t1.getTime() + 2 * HOUR), { limit: 10 })).map((c) => c.serial)).toEqual([]);
    expect(await store.nodes.countByStatus(t1)).toEqual({ active: 1, expired: 1, removed: 1 });
    // The counts are kept by the writes: a removed host that joins again is active, not a new host.
    await store.nodes.insert(node('r1', { at: t1 }), t1);
    expect(await store.nodes.countByStatus(t1)).toEqual({ active: 2, expired: 1, removed: 0 });
    expect(await store.nodes.remove('r1', t1)).toBe('removed');
    expect(await store.nodes.remove('r1', t1)).toBe('already_removed');
    // A lapsed host that joins again moves from expired to active.
    const t2 = new Date(t1.getTime() + 2000);
    await store.nodes.insert(node('r2', { at: t2 }), t2);
    expect(await store.nodes.countByStatus(t2)).toEqual({ active: 2, expired: 0, removed: 1 });
    expect(await store.tokens.count()).toBe(0);
    await store.tokens.create(tok('x'));
    expect(await store.tokens.count()).toBe(1);
  });

  test('a renewal supersedes only the current certificate (exactly one of two racing wins); live certificates are counted; expired records are pruned', async () => {
    const t0 = new Date('2031-01-01T00:00:00Z');
    const n = node('s1', { at: t0 });
    await store.nodes.insert(n, t0);
    const t1 = new Date(t0.getTime() + 1000);
    const next = (serial: string) => ({ serial, issuedAt: t1.toISOString(), notAfter: new Date(t1.getTime() + HOUR).toISOString() });
    const racing = await Promise.allSettled([store.nodes.renew('s1', next('e1'), n.certSerial), store.nodes.renew('s1', next('e2'), n.certSerial)]);
    expect(racing.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of racing) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ConflictError);
    await expect(store.nodes.renew('s1', next('e3'), n.certSerial)).rejects.toBeInstanceOf(ConflictError);
    expect(await store.nodes.countLiveCertificates('s1', t1)).toBe(2);
    // A day after everything expired, the records go; the node stays.
    expect(await store.nodes.pruneCertificates(new Date(t1.getTime() + 2 * HOUR), 1)).toBe(1);
    expect(await store.nodes.pruneCertificates(new Date(t1.getTime() + 2 * HOUR), 1000)).toBeGreaterThanOrEqual(1);
    expect(await store.nodes.countLiveCertificates('s1', t0)).toBe(0);
    expect(await store.nodes.get('s1')).toBeDefined();
  });

  test('a join\'s node and its audit event commit together: a refused insert writes no event', async () => {
    const t0 = new Date('2032-01-01T00:00:00Z');
    const event = (hostId: string) => ({ time: t0.toISOString(), type: 'join.ec2', success: true, hostId, details: { account: '111111111111' } });
    await store.nodes.insert(node('a1', { at: t0 }), t0, event('a1'));
    await expect(store.nodes.insert(node('a1', { at: t0 }), t0, event('a1'))).rejects.toBeInstanceOf(AlreadyExistsError);
    const events = (await store.audit.list({ type: 'join.ec2' })).filter((e) => e.hostId === 'a1');
    expect(events).toEqual([expect.objectContaining({ success: true, hostId: 'a1', details: { account: '111111111111' } })]);
  });

  test('a renewal and its audit event commit together: a renewal that loses writes no event', async () => {
    const t0 = new Date('2032-02-01T00:00:00Z');
    const n = node('ra1', { at: t0 });
    await store.nodes.insert(n, t0);
    const event = (serial: string) => ({ time: t0.toISOString(), type: 'renew', success: true, hostId: 'ra1', details: { new_serial: serial } });
    const cert = (serial: string) => ({ serial, issuedAt: t0.toISOString(), notAfter: new Date(t0.getTime() + HOUR).toISOString() });
    await store.nodes.renew('ra1', cert('f1'), n.certSerial, event('f1'));
    await expect(store.nodes.renew('ra1', cert('f2'), n.certSerial, event('f2'))).rejects.toBeInstanceOf(ConflictError);
    const events = (await store.audit.list({ type: 'renew' })).filter((e) => e.hostId === 'ra1');
    expect(events).toEqual([expect.objectContaining({ success: true, details: { new_serial: 'f1' } })]);
  });

  test('IAM challenges: single use, expiry, unknown; concurrent consumers get one ok', async () => {
    const now = new Date();
    await store.challenges.create('c1', new Date(now.getTime() + 60_000));
    await store.challenges.create('c2', new Date(now.getTime() - 1));
    await store.challenges.create('c3', new Date(now.getTime() + 60_000));
    expect(await store.challenges.consume('c1', now)).toBe('ok');
    expect(await store.challenges.consume('c1', now)).toBe('used');
    expect(await store.challenges.consume('c2', now)).toBe('expired');
    expect(await store.challenges.consume('nope', now)).toBe('missing');
    const racers = await Promise.all(Array.from({ length: 8 }, () => store.challenges.consume('c3', now)));
    expect(racers.filter((r) => r === 'ok')).toHaveLength(1);
    expect(await store.challenges.prune(now, 10)).toBe(1);
  });

  test('token pages: keyset by name, every token once, limit clamped, next only while more remain', async () => {
    const names = Array.from({ length: 25 }, (_, i) => `p-${String(i).padStart(2, '0')}`);
    for (const n of [...names].reverse()) await store.tokens.create(tok(n));
    const seen: string[] = [];
    let after: string | undefined;
    for (let i = 0; i < 10; i++) {
      const page = await store.tokens.list({ limit: 7, after });
      seen.push(...page.items.map((t) => t.token.metadata.name));
      expect(page.items.length).toBe(page.next === undefined ? 25 % 7 : 7);
      if (page.next === undefined) break;
      expect(page.next).toBe(seen[seen.length - 1]);
      after = page.next;
    }
    expect(seen).toEqual(names);
    // Exactly a full last page: no next, no empty page after it.
    expect((await store.tokens.list({ limit: 5, after: 'p-19' })).next).toBeUndefined();
    expect((await store.tokens.list({ limit: 25 })).next).toBeUndefined();
    expect((await store.tokens.list({ limit: 24 })).next).toBe('p-23');
    // A key that no longer exists still places the page: deletion of the last key seen loses nothing.
    await store.tokens.delete('p-10');
    expect((await store.tokens.list({ limit: 2, after: 'p-10' })).items.map((t) => t.token.metadata.name)).toEqual(['p-11', 'p-12']);
    expect((await store.tokens.list({ limit: 5000 })).items).toHaveLength(24);
    expect((await store.tokens.list({ limit: 0 })).items).toHaveLength(1);
  });

  test('node pages: ordered by host ID, stable when a host re-joins mid-way', async () => {
    const t0 = new Date('2030-01-01T00:00:00Z');
    for (const id of ['n-c', 'n-a', 'n-e', 'n-b', 'n-d']) await store.nodes.insert(node(id, { at: t0, ttlMs: 1000 }), t0);
    const first = await store.nodes.list({ limit: 2 });
    expect(first.items.map((n) => n.hostId)).toEqual(['n-a', 'n-b']);
    // n-a lapses and joins again (a newer joined_at): it is not seen twice.
    const later = new Date(t0.getTime() + 2 * HOUR);
    await store.nodes.insert(node('n-a', { at: later }), later);
    const rest = await store.nodes.list({ limit: 10, after: first.next });
    expect(rest.items.map((n) => n.hostId)).toEqual(['n-c', 'n-d', 'n-e']);
    expect(rest.next).toBeUndefined();
  });

  test('settings setIfAbsent keeps the first value', async () => {
    expect(await store.settings.setIfAbsent('k', 'one')).toBe('one');
    expect(await store.settings.setIfAbsent('k', 'two')).toBe('one');
    await store.settings.set('k', 'three');
    expect(await store.settings.get('k')).toBe('three');
  });

  test('audit events round-trip, newest first, filtered by type', async () => {
    await store.audit.append({ time: 't1', type: 'join.token', success: false, code: 'token_expired', details: { role: 'Node' } });
    await store.audit.append({ time: 't2', type: 'token.create', success: true, tokenName: 'x' });
    expect((await store.audit.list()).map((e) => e.time)).toEqual(['t2', 't1']);
    expect(await store.audit.list({ type: 'join.token' })).toEqual([expect.objectContaining({ success: false, code: 'token_expired', details: { role: 'Node' } })]);
  });
});
