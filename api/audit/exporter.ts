// The audit export: every event, once, in id order, as one JSON line, read from the database by a
// cursor so an event is exported only once it is committed (an acknowledged join's event is in the
// database before its answer leaves) and a restart resumes where the last run stopped.
//
// The resume point: for a file, the id of the file's last complete line (file-sink.ts), which makes
// the file exactly-once across kill -9; when the file is missing or empty (just rotated), the
// cursor last stored in the settings table. For stdout nothing can be read back, so the stored
// cursor is the resume point, written after each batch: a crash between the write and that store
// repeats the batch (at-least-once).
//
// Ids are taken in order and a gap in them is waited out: on PostgreSQL a transaction can commit
// after a later one, so an id missing now may appear in a moment. A gap still open after
// `gapWaitMs` is an id that will never come (a rolled-back insert, or events pruned before they
// were exported) and is passed, with a warning and a count.

import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AuditEvent, Store } from '../store/types';
import { auditEventView } from './catalog';
import type { AuditExportTarget } from './export-target';
import { ExportFile, recoverExportFile } from './file-sink';

export interface ExporterOptions {
  /** How often to look for new events when caught up. */
  intervalMs?: number;
  /** Events per read and write. */
  batchSize?: number;
  /** How long an id gap is waited for before it is passed. */
  gapWaitMs?: number;
  /** Where the export's metrics are registered (the server's /metrics). */
  registry?: Registry;
  /** Listen for SIGHUP to reopen the file (the server; tests call reopen()). */
  handleSighup?: boolean;
}

export interface AuditExporter {
  /** The id of the last event exported. */
  cursor(): number;
  /** Reopens the file at its path (after logrotate moved it); a no-op for stdout. */
  reopen(): void;
  /** Runs passes until caught up with what is committed now (tests, shutdown). */
  drain(): Promise<void>;
  /** Exports what is committed, then stops. */
  stop(): Promise<void>;
}

const cursorSetting = (t: AuditExportTarget) => `audit_export_cursor:${t.kind}`;

interface Sink {
  append(text: string): Promise<void>;
  reopen(): Promise<void>;
  close(): Promise<void>;
}

function stdoutSink(): Sink {
  return {
    append: (text) => new Promise<void>((resolve, reject) => process.stdout.write(text, (e) => (e ? reject(e) : resolve()))),
    reopen: async () => undefined,
    close: async () => undefined,
  };
}

export async function startAuditExport(store: Store, target: AuditExportTarget, log: Logger, opts: ExporterOptions = {}): Promise<AuditExporter> {
  const intervalMs = opts.intervalMs ?? 1000;
  const batchSize = opts.batchSize ?? 500;
  const gapWaitMs = opts.gapWaitMs ?? 5000;
  const stored = Number((await store.settings.get(cursorSetting(target))) ?? 0);

  let cursor: number;
  let sink: Sink;
  if (target.kind === 'file') {
    const recovered = await recoverExportFile(target.path);
    if (recovered.truncatedBytes) log.warn({ file: target.path, bytes: recovered.truncatedBytes }, 'audit export: cut a torn last line (a crash mid-write); its event is written again');
    cursor = recovered.lastId ?? (Number.isSafeInteger(stored) ? stored : 0);
    const file = new ExportFile(target.path);
    await file.open(); // a path that cannot be written stops the start, not the first event
    sink = { append: (t) => file.append(t), reopen: () => file.open(), close: () => file.close() };
  } else {
    cursor = Number.isSafeInteger(stored) ? stored : 0;
    sink = stdoutSink();
  }
  log.info({ target: target.kind === 'file' ? target.path : 'stdout', after: cursor }, 'audit export started');
  const newest = await store.audit.newestId();
  if (newest > 0 && newest < cursor) {
    // Not a prune (that never removes the newest event): the database is older than the export,
    // restored from a backup say, and its next events reuse ids the export has passed.
    log.error({ exportedUpTo: cursor, newestInDatabase: newest }, 'audit export: the export is ahead of the database (restored from a backup?); events with ids up to the exported one will not be exported. Move the export file aside (and delete the audit_export_cursor settings) to export them');
  }

  const exported = opts.registry && new Counter({ name: 'joinery_audit_exported_events_total', help: 'Audit events written to the export', registers: [opts.registry] });
  const errors = opts.registry && new Counter({ name: 'joinery_audit_export_errors_total', help: 'Failed export passes (retried at the next interval)', registers: [opts.registry] });
  const skipped = opts.registry && new Counter({ name: 'joinery_audit_export_skipped_ids_total', help: 'Event ids passed without an event: rolled back, or pruned before they were exported', registers: [opts.registry] });
  if (opts.registry) {
    new Gauge({
      name: 'joinery_audit_export_lag_events',
      help: 'Audit events stored but not yet exported (by id); pruning does not wait for the export',
      registers: [opts.registry],
      async collect() {
        this.set(Math.max(0, (await store.audit.newestId()) - cursor));
      },
    });
  }

  let gap: { after: number; since: number } | undefined;
  let reopenWanted = false;
  let broken = false;

  /** The events of a batch that may be written now: contiguous ids from the cursor. */
  function contiguous(events: AuditEvent[]): AuditEvent[] {
    let expected = cursor + 1;
    // The first export of all starts wherever the retained history starts.
    if (cursor > 0 && events[0].id !== expected) {
      const now = Date.now();
      if (gap?.after !== cursor) gap = { after: cursor, since: now };
      if (now - gap.since < gapWaitMs) return [];
      const missing = events[0].id! - expected;
      skipped?.inc(missing);
      log.warn({ after: cursor, next: events[0].id, missing }, 'audit export: ids missing (rolled back, or pruned before export); passing them');
    }
    gap = undefined;
    expected = events[0].id!;
    let end = 0;
    while (end < events.length && events[end].id === expected) {
      end++;
      expected++;
    }
    return events.slice(0, end);
  }

  /** One read and write; true when a full batch went out (more may be waiting). */
  async function pass(): Promise<boolean> {
    if (reopenWanted || broken) {
      if (broken && target.kind === 'file') {
        // A write failed part-way: cut what it left and resume from the file's last whole line.
        await sink.close();
        const recovered = await recoverExportFile(target.path);
        if (recovered.lastId !== undefined) cursor = recovered.lastId;
      }
      reopenWanted = false;
      await sink.reopen();
      broken = false;
    }
    const events = await store.audit.after(cursor, batchSize);
    if (events.length === 0) return false;
    const ready = contiguous(events);
    if (ready.length === 0) return false;
    const text = ready.map((e) => JSON.stringify(auditEventView(e)) + '\n').join('');
    try {
      await sink.append(text);
    } catch (e) {
      broken = true;
      throw e;
    }
    cursor = ready[ready.length - 1].id!;
    exported?.inc(ready.length);
    await store.settings.set(cursorSetting(target), String(cursor));
    return ready.length === events.length && events.length === batchSize;
  }

  let running: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  /** Passes until caught up, yielding to requests between batches. */
  const run = () =>
    (running ??= (async () => {
      try {
        while (await pass()) await new Promise((r) => setImmediate(r));
      } catch (err) {
        errors?.inc();
        log.error({ err }, 'audit export failed; retrying at the next interval');
      } finally {
        running = undefined;
      }
    })());
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => void run().then(schedule), intervalMs);
    timer.unref();
  };
  const onHup = () => {
    reopenWanted = true;
    log.info({ file: target.kind === 'file' ? target.path : undefined }, 'audit export: SIGHUP, reopening the file');
    void run();
  };
  if (opts.handleSighup && target.kind === 'file') process.on('SIGHUP', onHup);
  void run().then(schedule);

  return {
    cursor: () => cursor,
    reopen: onHup,
    async drain() {
      await running;
      await run();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      process.off('SIGHUP', onHup);
      await running;
      await run();
      await sink.close();
    },
  };
}
