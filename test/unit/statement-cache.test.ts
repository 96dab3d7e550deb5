import { Kysely, SqliteDialect, sql } from 'kysely';
import Database, { type SqliteDatabase } from '../../api/store/sqlite-driver';
import { withStatementCache } from '../../api/store/statement-cache';

interface T {
  t: { id: number; v: string };
}

let raw: SqliteDatabase;
let prepare: jest.SpyInstance;
let db: Kysely<T>;

function open(capacity?: number): void {
  raw = new Database(':memory:');
  raw.exec('create table t (id integer primary key, v text not null)');
  prepare = jest.spyOn(raw, 'prepare');
  db = new Kysely<T>({ dialect: new SqliteDialect({ database: withStatementCache(raw, capacity) }) });
}

const byId = (id: number) => db.selectFrom('t').select('v').where('id', '=', id).executeTakeFirst();
const preparedSql = () => prepare.mock.calls.map((c) => c[0] as string);

afterEach(async () => {
  if (raw.open) await db.destroy();
});

test('a repeated query is prepared once and still binds each call its own parameters', async () => {
  open();
  for (let i = 1; i <= 3; i++) await db.insertInto('t').values({ id: i, v: `v${i}` }).execute();
  expect(await byId(1)).toEqual({ v: 'v1' });
  expect(await byId(2)).toEqual({ v: 'v2' });
  expect(await byId(9)).toBeUndefined();
  const selects = preparedSql().filter((s) => s.startsWith('select'));
  const inserts = preparedSql().filter((s) => s.startsWith('insert'));
  expect(selects).toHaveLength(1);
  expect(inserts).toHaveLength(1);
  // run() results still come through (affected rows, insert id).
  const r = await db.updateTable('t').set({ v: 'x' }).where('id', '<', 3).executeTakeFirst();
  expect(r.numUpdatedRows).toBe(2n);
});

test('the cache is bounded: the least recently used statement is dropped first', async () => {
  open(2);
  const q = (n: number) => sql`select ${sql.lit(n)} as n`.execute(db);
  await q(1);
  await q(2);
  await q(1); // 1 is now the most recent
  await q(3); // evicts 2
  await q(1);
  await q(2); // prepared again
  expect(preparedSql()).toEqual(['select 1 as n', 'select 2 as n', 'select 3 as n', 'select 2 as n']);
});

test('a stream iterates on a statement of its own, so the cached one stays usable meanwhile', async () => {
  open();
  await db.insertInto('t').values([{ id: 1, v: 'a' }, { id: 2, v: 'b' }]).execute();
  const query = db.selectFrom('t').select('v').orderBy('id');
  expect(await query.execute()).toEqual([{ v: 'a' }, { v: 'b' }]);
  const seen: unknown[] = [];
  for await (const row of query.stream()) seen.push(row);
  expect(seen).toEqual([{ v: 'a' }, { v: 'b' }]);
  expect(await query.execute()).toEqual([{ v: 'a' }, { v: 'b' }]);
  const text = preparedSql().filter((s) => s.startsWith('select'));
  expect(text).toHaveLength(2); // the cached one, and the stream's own
});

test('statements of a closed database are never handed out again', async () => {
  open();
  await byId(1);
  await db.destroy();
  expect(raw.open).toBe(false);
  await expect(byId(1)).rejects.toThrow();
  const direct = withStatementCache(raw);
  expect(() => direct.prepare('select 1')).toThrow(/not open/);
});
