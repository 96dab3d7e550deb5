// The exporter against a real SQLite store and against a store whose ids commit out of order (as
// PostgreSQL sequences can): torn last lines, foreign files, the resume point after a rotation,
// id gaps waited for and then passed, and a failed write that leaves nothing torn behind.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { auditEventView } from '../../api/audit/catalog';
import { startAuditExport, type AuditExporter } from '../../api/audit/exporter';
import { ExportFileError, recoverExportFile } from '../../api/audit/file-sink';
import { openSqliteStore } from '../../api/store/sqlite';
import type { AuditEvent, Store } from '../../api/store/types';
import { bundleValidator, readExport } from './support';

const log = pino({ level: 'silent' });
let dir: string;
let store: Store;
let exporters: AuditExporter[] = [];
beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-exporter-'));
  store = await openSqliteStore(path.join(dir, 'j.db'));
});
afterEach(async () => {
  for (const e of exporters) await e.stop();
  exporters = [];
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function appendEvents(n: number, from = 0): Promise<void> {
  for (let i = 0; i < n; i++) {
    await store.audit.append({ time: new Date(Date.UTC(2026, 0, 1, 0, 0, from + i)).toISOString(), type: 'join.token', success: (from + i) % 3 !== 0, ...((from + i) % 3 === 0 ? { code: 'token_not_found', message: 'the join token is not valid' } : { hostId: `h${from + i}` }), tokenName: '************abcd', remoteAddr: '127.0.0.1', details: { role: 'Node' } });
  }
}

async function start(file: string, opts: Parameters<typeof startAuditExport>[3] = {}, s: Store = store): Promise<AuditExporter> {
  const e = await startAuditExport(s, { kind: 'file', path: file }, log, { intervalMs: 50, ...opts });
  exporters.push(e);
  return e;
}

test('the export writes every event once, in id order, valid against its schema; a restart appends only new ones', async () => {
  const file = path.join(dir, 'audit.jsonl');
  await appendEvents(7);
  const first = await start(file, { batchSize: 3 });
  await first.drain();
  await first.stop();
  exporters = [];
  await appendEvents(4, 7);
  const second = await start(file);
  await second.drain();
  const lines = readExport(file);
  expect(lines.map((l) => l.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  const validate = bundleValidator();
  expect(lines.map(validate).filter(Boolean)).toEqual([]);
  expect(lines[0]).toMatchObject({ type: 'join.token', eventCode: 'JJ001W', success: false, code: 'token_not_found' });
  expect(lines[1]).toMatchObject({ eventCode: 'JJ001I', success: true, hostId: 'h1' });
});

test('a torn last line (a crash mid-write) is cut, and its event written again whole', async () => {
  const file = path.join(dir, 'audit.jsonl');
  await appendEvents(5);
  const events = await store.audit.after(0, 10);
  const whole = events.slice(0, 3).map((e) => JSON.stringify(auditEventView(e)) + '\n').join('');
  const torn = JSON.stringify(auditEventView(events[3])).slice(0, 40);
  fs.writeFileSync(file, whole + torn);
  expect(await recoverExportFile(file)).toEqual({ lastId: 3, truncatedBytes: torn.length });
  expect(fs.readFileSync(file, 'utf8')).toBe(whole);

  fs.appendFileSync(file, torn);
  const e = await start(file);
  await e.drain();
  expect(readExport(file).map((l) => l.id)).toEqual([1, 2, 3, 4, 5]);
});

test('a file that is not an audit export stops the start, untouched', async () => {
  const file = path.join(dir, 'syslog');
  fs.writeFileSync(file, 'Dec  4 03:00:00 host kernel: hello\n');
  await expect(startAuditExport(store, { kind: 'file', path: file }, log)).rejects.toThrow(ExportFileError);
  await expect(startAuditExport(store, { kind: 'file', path: file }, log)).rejects.toThrow(/not a Joinery audit event/);
  expect(fs.readFileSync(file, 'utf8')).toBe('Dec  4 03:00:00 host kernel: hello\n');
  // A path that cannot be written is refused at start too.
  await expect(startAuditExport(store, { kind: 'file', path: path.join(dir, 'missing-dir', 'a.jsonl') }, log)).rejects.toThrow(/ENOENT/);
});

test('after a rotation left an empty file, a restart resumes from the stored cursor, not from the beginning', async () => {
  const file = path.join(dir, 'audit.jsonl');
  await appendEvents(4);
  const e = await start(file);
  await e.drain();
  await e.stop();
  exporters = [];
  fs.renameSync(file, `${file}.1`);
  fs.writeFileSync(file, ''); // logrotate's `create`
  await appendEvents(2, 4);
  const again = await start(file);
  await again.drain();
  expect(readExport(`${file}.1`).map((l) => l.id)).toEqual([1, 2, 3, 4]);
  expect(readExport(file).map((l) => l.id)).toEqual([5, 6]);
});

test('reopen (SIGHUP): events before go to the moved file, events after to the new one, none twice', async () => {
  const file = path.join(dir, 'audit.jsonl');
  await appendEvents(3);
  const e = await start(file);
  await e.drain();
  fs.renameSync(file, `${file}.1`);
  e.reopen();
  await appendEvents(3, 3);
  await e.drain();
  expect(readExport(`${file}.1`).map((l) => l.id)).toEqual([1, 2, 3]);
  expect(readExport(file).map((l) => l.id)).toEqual([4, 5, 6]);
});

/** A store whose events become visible out of id order, like PostgreSQL transactions committing. */
function outOfOrderStore(): { store: Store; commit(e: AuditEvent): void } {
  const visible: AuditEvent[] = [];
  const settings = new Map<string, string>();
  const fake = {
    audit: {
      async after(id: number, limit: number) {
        return visible.filter((e) => e.id! > id).sort((a, b) => a.id! - b.id!).slice(0, limit);
      },
      async newestId() {
        return Math.max(0, ...visible.map((e) => e.id!));
      },
    },
    settings: {
      async get(k: string) {
        return settings.get(k);
      },
      async set(k: string, v: string) {
        settings.set(k, v);
      },
    },
  } as unknown as Store;
  return { store: fake, commit: (e) => visible.push(e) };
}

const ev = (id: number): AuditEvent => ({ id, time: '2026-01-01T00:00:00.000Z', type: 'token.create', success: true, tokenName: `t${id}` });

test('an id committed late is waited for, not skipped; an id that never comes is passed after the wait, and counted', async () => {
  const file = path.join(dir, 'audit.jsonl');
  const { store: s, commit } = outOfOrderStore();
  const registry = new Registry();
  commit(ev(1));
  commit(ev(3)); // 2 is still in flight
  const e = await start(file, { gapWaitMs: 60_000, registry }, s);
  await e.drain();
  expect(readExport(file).map((l) => l.id)).toEqual([1]);
  commit(ev(2));
  await e.drain();
  expect(readExport(file).map((l) => l.id)).toEqual([1, 2, 3]);
  await e.stop();
  exporters = [];

  const gone = outOfOrderStore();
  for (const id of [1, 2, 3, 5]) gone.commit(ev(id)); // 4 was rolled back
  const file2 = path.join(dir, 'gap.jsonl');
  const registry2 = new Registry();
  const e2 = await start(file2, { gapWaitMs: 0, registry: registry2 }, gone.store);
  await e2.drain(); // 1..3
  await e2.drain(); // the gap has waited its (zero) time: 5
  expect(readExport(file2).map((l) => l.id)).toEqual([1, 2, 3, 5]);
  const metrics = await registry2.metrics();
  expect(metrics).toMatch(/joinery_audit_export_skipped_ids_total 1/);
  expect(metrics).toMatch(/joinery_audit_exported_events_total 4/);
  expect(metrics).toMatch(/joinery_audit_export_lag_events 0/);
});

test('a failed write is retried from the file: nothing torn, nothing twice', async () => {
  const file = path.join(dir, 'audit.jsonl');
  await appendEvents(3);
  const e = await start(file);
  await e.drain();
  // The directory is replaced by one the process may not write: the reopen fails, the pass is retried.
  fs.renameSync(file, `${file}.1`);
  fs.mkdirSync(file);
  e.reopen();
  await appendEvents(2, 3);
  await e.drain();
  expect(e.cursor()).toBe(3);
  fs.rmdirSync(file);
  e.reopen();
  await e.drain();
  expect(readExport(`${file}.1`).map((l) => l.id)).toEqual([1, 2, 3]);
  expect(readExport(file).map((l) => l.id)).toEqual([4, 5]);
});
