// The server's SQLite connection never checkpoints inside its commits (they run on the event loop):
// a worker thread with its own connection does, and stops with the store; a bulk delete asks it
// for a checkpoint every few batches and waits, so the WAL stays short whatever the backlog. Asserted on the WAL
// file and on what the worker reports, never on a time.

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inBatches } from '../../api/server/housekeeping';
import { CATCH_UP_EVERY_BATCHES, openSqliteStore, type SqliteStore } from '../../api/store/sqlite';

const PAGE = 4096;
/** Pages in the WAL file (header 32 bytes, frames of 24 bytes and a page). */
const walPages = (file: string): number => (fs.existsSync(`${file}-wal`) ? Math.floor((fs.statSync(`${file}-wal`).size - 32) / (PAGE + 24)) : 0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
let file: string;
let store: SqliteStore | undefined;
/** The pages the writes of the first test fill when nothing checkpoints. */
let unbounded = 0;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-wal-'));
  file = path.join(dir, 'j.db');
});
afterEach(async () => {
  await store?.close();
  store = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * Appends `n` audit events of about one page each (with their index, about 4.5 pages in the WAL),
 * each a task of its own as a server's requests are, with a pause every `pauseEvery`.
 */
async function write(s: SqliteStore, n: number, pauseEvery = 0): Promise<void> {
  for (let i = 0; i < n; i++) {
    await s.audit.append({ time: new Date().toISOString(), type: 'test.pad', success: true, details: { pad: 'x'.repeat(3000), i } });
    await new Promise((r) => setImmediate(r));
    if (pauseEvery && i % pauseEvery === pauseEvery - 1) await sleep(30);
  }
}

test('the server connection never checkpoints on its own: with no worker the WAL holds every page written', async () => {
  store = await openSqliteStore(file, { checkpoint: false });
  await write(store, 1500);
  unbounded = walPages(file);
  // SQLite's default would have checkpointed at 1,000 pages and started the WAL over.
  expect(unbounded).toBeGreaterThan(1500);
});

test('the worker checkpoints the WAL, so it is reused instead of growing', async () => {
  store = await openSqliteStore(file, { checkpoint: { intervalMs: 10 } });
  await write(store, 1500, 50);
  const complete = store.checkpoints.filter((c) => c.mode === 'PASSIVE' && c.log > 0 && c.checkpointed === c.log);
  expect(complete.length).toBeGreaterThan(0);
  // The file keeps its high-water mark (up to journal_size_limit); the WAL started over many times.
  expect(walPages(file)).toBeLessThan(unbounded / 2);
});

test('under writes that never pause, the worker bounds the WAL with a RESTART past maxWalPages', async () => {
  store = await openSqliteStore(file, { checkpoint: { intervalMs: 5, maxWalPages: 200 } });
  // No pause: the worker's checkpoints run while the writes go on.
  await write(store, 1500);
  expect(store.checkpoints.some((c) => c.mode === 'RESTART' && c.busy === 0)).toBe(true);
  expect(walPages(file)).toBeLessThan(unbounded / 2);
});

test('closing the store stops the worker and its connection first, so the last close removes the WAL', async () => {
  store = await openSqliteStore(file, { checkpoint: { intervalMs: 10 } });
  await write(store, 100);
  await store.close();
  store = undefined;
  expect(fs.existsSync(`${file}-wal`)).toBe(false);
  // Everything written is in the database.
  const again = await openSqliteStore(file, { checkpoint: false });
  try {
    expect((await again.audit.list({ limit: 1000, type: 'test.pad' })).length).toBe(100);
  } finally {
    await again.close();
  }
});

test("transactions that read and then write never fail busy while the worker checkpoints (they begin IMMEDIATE)", async () => {
  store = await openSqliteStore(file, { checkpoint: { intervalMs: 1 } });
  const s = store;
  const failures: string[] = [];
  let next = 0;
  // Joins as a server runs them: 16 at a time, each a node row and its audit event in one transaction.
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < 8000 && failures.length === 0) {
        const i = next++;
        const at = new Date();
        const node = { hostId: `h${i}`, joinMethod: 'token', tokenName: 't', role: 'Node', joinedAt: at.toISOString(), certSerial: i.toString(16).padStart(8, '0'), certNotAfter: new Date(at.getTime() + 3600_000).toISOString(), attributes: { pad: 'x'.repeat(500) } };
        await s.nodes.insert(node, at, { time: at.toISOString(), type: 'join.token', success: true, hostId: `h${i}` }).catch((e: { code?: string }) => failures.push(e.code ?? String(e)));
        await new Promise((r) => setImmediate(r));
      }
    }),
  );
  expect(failures).toEqual([]);
  expect(s.checkpoints.some((c) => c.log > 0)).toBe(true);
});

test('a bulk delete that lets the store catch up between batches keeps the WAL a few batches long; without it the WAL holds the whole pass', async () => {
  // 3,000 expired certificate records with random serials (each on its own index pages, as in a fleet).
  const seeded = await openSqliteStore(file, { checkpoint: false });
  const long = new Date(Date.now() - 10 * 24 * 3600_000);
  for (let i = 0; i < 3000; i++) {
    const node = { hostId: `h${i}`, joinMethod: 'token', tokenName: 't', role: 'Node', joinedAt: long.toISOString(), certSerial: randomBytes(16).toString('hex'), certNotAfter: long.toISOString(), attributes: {} };
    await seeded.nodes.insert(node, long);
  }
  await seeded.close();
  const copy = path.join(dir, 'copy.db');
  fs.copyFileSync(file, copy);
  const before = new Date();
  /** The pass, batch by batch; the WAL file's size (its high-water mark) at the end. */
  const prune = async (s: SqliteStore, f: string, catchUp: boolean) => {
    const batches: number[] = [];
    const deleted = await inBatches(catchUp ? s : {}, async (limit) => {
      const n = await s.nodes.pruneCertificates(before, limit);
      batches.push(n);
      return n;
    }, 50);
    expect(deleted).toBe(3000);
    expect(batches.length).toBe(61);
    return walPages(f);
  };
  // The worker's own timer never fires during the pass: only the pass's requests checkpoint.
  store = await openSqliteStore(file, { checkpoint: { intervalMs: 3600_000 } });
  const caughtUp = await prune(store, file, true);
  // Between batches 8, 16, ... 56 and the next: seven checkpoints, each of what at most 8 batches wrote.
  const asked = store.checkpoints.filter((c) => c.mode === 'PASSIVE' && c.log > 0);
  expect(asked.length).toBe(Math.floor(60 / CATCH_UP_EVERY_BATCHES));
  for (const c of asked) expect(c.checkpointed).toBe(c.log);
  await store.close();
  store = await openSqliteStore(copy, { checkpoint: { intervalMs: 3600_000 } });
  const unboundedPass = await prune(store, copy, false);
  expect(store.checkpoints).toEqual([]);
  expect(caughtUp).toBeLessThan(unboundedPass / 4);
});
