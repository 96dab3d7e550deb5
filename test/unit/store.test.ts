import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { Client } from 'pg';
import { parseToken } from '../../schema/token';
import { openSqliteStore } from '../../api/store/sqlite';
import { openPostgresStore } from '../../api/store/postgres';
import { startPostgres, type TestPostgres } from '../support/postgres';
import { AlreadyExistsError, ConflictError, NotFoundError, type Store } from '../../api/store/types';

let dir: string;
let store: Store;
const tok = (name: string) => parseToken({ version: 'v2', metadata: { name }, spec: { roles: ['Node'], allow: [{ aws_account: '111111111111' }] } });
const node = (hostId: string) => ({ hostId, joinMethod: 'token', tokenName: 't', role: 'Node', joinedAt: new Date().toISOString(), certSerial: '01', attributes: { a: 'b' } });

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
    expect(db.prepare('select version from schema_migrations').all()).toEqual([{ version: 1 }]);
    db.close();
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
let pg: TestPostgres;
let dbCount = 0;
beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterAll(() => pg?.stop());

const backends: [string, () => Promise<Store>][] = [
  ['sqlite', async () => openSqliteStore(path.join(dir, 'j.db'))],
  [
    'postgres',
    async () => {
      // A fresh database per test.
      const admin = new Client({ connectionString: pg.url });
      await admin.connect();
      const name = `t${++dbCount}`;
      await admin.query(`CREATE DATABASE ${name}`);
      await admin.end();
      return openPostgresStore(pg.url.replace(/\/postgres$/, `/${name}`));
    },
  ],
];

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

  test('node insert is unique under concurrency', async () => {
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => store.nodes.insert(node('h1'))));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason instanceof AlreadyExistsError)).toBe(true);
    expect(await store.nodes.get('h1')).toMatchObject({ hostId: 'h1', attributes: { a: 'b' } });
    expect(await store.nodes.delete('h1')).toBe(true);
    await store.nodes.insert(node('h1'));
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
    expect(await store.challenges.prune(now)).toBe(1);
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
