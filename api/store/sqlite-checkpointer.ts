// WAL checkpoints off the event loop. SQLite's automatic checkpoint runs inside the COMMIT that
// crosses 1,000 WAL pages, on the connection that committed: for the server that is the event loop,
// and copying the pages back and syncing the database file took 30–80 ms there. So the server's
// connection has wal_autocheckpoint = 0, and a worker thread with its own connection checkpoints
// instead, every `intervalMs` (a pass with nothing to copy costs nothing).
//
// PASSIVE never waits and never blocks a writer: it copies the frames no reader still needs. Once
// the whole WAL is copied, the server's next write starts the WAL over from its beginning (and
// journal_size_limit trims the file), so the WAL holds about what is written in `intervalMs`. Under writes that
// never pause, the writer always finds a frame PASSIVE has not copied yet, never starts the WAL
// over, and the file keeps growing. So past `maxWalPages` the worker repeats PASSIVE until little
// is left to copy (each pass copies what was written during the one before, so they shorten), then
// runs RESTART: it waits (busy_timeout) for a moment between two of the server's transactions,
// copies the remaining frames while holding the write lock (a server write arriving then waits
// that long, a few milliseconds) and makes the next write start the WAL over. That bounds the file
// at the cost of one such wait every `maxWalPages` pages under such a load, instead of a full
// checkpoint on the event loop every 1,000.
// A reader that pins an old snapshot for long (none in the server: its reads are synchronous)
// would hold the WAL too; RESTART then answers busy and the next interval tries again.
//
// Bulk deletes (housekeeping over a backlog) write the WAL far faster than a timer copies it: one
// batch of 100 certificate records is about 140 pages (their serials are random, so each row sits
// on its own pages of several indexes), and a pass over 100,000 grew the WAL to 550 MB in three
// seconds. The kernel then throttles the writer inside write() on the event loop (dirty pages),
// and the eventual RESTART and the truncation to journal_size_limit hold it 100–500 ms more. So a
// bulk writer asks for a checkpoint now (`checkpointNow`) every few batches and awaits it: PASSIVE
// copies everything while the event loop serves requests, the next write starts the WAL over, and
// the WAL stays a few megabytes whatever the backlog.

import { Worker } from 'node:worker_threads';

export interface CheckpointOptions {
  /** How often the worker looks at the WAL's size (ms). */
  intervalMs?: number;
  /** Past this many pages, the worker checkpoints with RESTART so the WAL starts over. */
  maxWalPages?: number;
  /** The synchronous setting of the server's connection (the checkpoint syncs the database file). */
  synchronous?: 'NORMAL' | 'FULL';
}

/** One checkpoint the worker ran, as `PRAGMA wal_checkpoint` answered it. */
export interface CheckpointResult {
  mode: 'PASSIVE' | 'RESTART';
  /** 1 when the checkpoint could not take the locks it needed (RESTART only). */
  busy: number;
  /** Frames in the WAL. */
  log: number;
  /** Frames copied into the database (all of them when equal to `log`). */
  checkpointed: number;
}

export interface Checkpointer {
  /** Every checkpoint the worker ran, oldest first (the last 100). */
  readonly results: CheckpointResult[];
  /** A PASSIVE checkpoint in the worker now; resolves when it is done (or failed, or the worker stopped). */
  checkpointNow(): Promise<void>;
  /** Stops the timer, closes the worker's connection and ends the thread. */
  stop(): Promise<void>;
}

export const CHECKPOINT_DEFAULTS = { intervalMs: 500, maxWalPages: 16_000 } as const;

/** Defaults when no option says otherwise; the environment may tighten them for tests and benches. */
export function checkpointOptions(o: CheckpointOptions = {}): Required<CheckpointOptions> {
  return {
    intervalMs: o.intervalMs ?? CHECKPOINT_DEFAULTS.intervalMs,
    maxWalPages: o.maxWalPages ?? CHECKPOINT_DEFAULTS.maxWalPages,
    synchronous: o.synchronous ?? 'NORMAL',
  };
}

interface WorkerData extends Required<CheckpointOptions> {
  file: string;
  /** The SQLite driver's module path (the one sqlite-driver.ts chose for this Node). */
  driver: string;
  busyTimeoutMs: number;
}

/**
 * The worker's code. It runs as an `eval` worker (from its source text) so that the same code runs
 * from dist/ and from the TypeScript sources under the test runner; it therefore takes everything
 * it needs from `require` and workerData, never from this module's scope.
 */
function checkpointWorker(): void {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { parentPort, workerData } = require('node:worker_threads') as typeof import('node:worker_threads');
  const d = workerData as WorkerData;
  const Database = require(d.driver) as typeof import('better-sqlite3');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const db = new Database(d.file);
  db.pragma(`busy_timeout = ${d.busyTimeoutMs}`);
  db.pragma(`synchronous = ${d.synchronous}`);
  db.pragma('wal_autocheckpoint = 0');
  const checkpoint = (mode: 'PASSIVE' | 'RESTART'): { log: number; checkpointed: number } => {
    const [r] = db.pragma(`wal_checkpoint(${mode})`) as { busy: number; log: number; checkpointed: number }[];
    // A pass that found nothing to copy is not worth a message.
    if (r.log > 0) parentPort!.postMessage({ mode, ...r });
    return r;
  };
  const tick = (): void => {
    try {
      // Copies nothing (and syncs nothing) when every frame is already in the database.
      let r = checkpoint('PASSIVE');
      // Past the bound, catch up with further passes while the writer runs ahead, then RESTART:
      // it copies the little left and makes the next write start the WAL over.
      for (let i = 0; i < 10 && r.log >= d.maxWalPages && r.log - r.checkpointed > 200; i++) r = checkpoint('PASSIVE');
      if (r.log >= d.maxWalPages) checkpoint('RESTART');
    } catch (e) {
      // A busy or locked database is retried at the next tick; anything else is reported.
      const code = (e as { code?: string }).code ?? '';
      if (code !== 'SQLITE_BUSY' && code !== 'SQLITE_LOCKED') parentPort!.postMessage({ error: String((e as Error).message ?? e) });
    }
  };
  const timer = setInterval(tick, d.intervalMs);
  parentPort!.on('message', (m: unknown) => {
    if (typeof m === 'object' && m !== null && 'now' in m) {
      // Asked for by a bulk writer that waits for it: a busy or failed pass only ends the wait.
      try {
        checkpoint('PASSIVE');
      } catch {
        // retried by the timer
      }
      parentPort!.postMessage({ done: (m as { now: number }).now });
      return;
    }
    if (m !== 'stop') return;
    clearInterval(timer);
    db.close();
    parentPort!.close();
  });
}

/** Starts the worker that checkpoints the WAL of `file` (the server's connection must already have made it a WAL database). */
export function startCheckpointer(
  file: string,
  driver: string,
  busyTimeoutMs: number,
  options: CheckpointOptions,
  warn: (m: string) => void = () => undefined,
): Checkpointer {
  const data: WorkerData = { ...checkpointOptions(options), file, driver, busyTimeoutMs };
  const worker = new Worker(`(${checkpointWorker.toString()})()`, { eval: true, workerData: data });
  // The worker never holds the process open: the server's own handles decide when it exits.
  worker.unref();
  const results: CheckpointResult[] = [];
  const record = (r: CheckpointResult): void => {
    if (results.push(r) > 100) results.shift();
  };
  // Callers of checkpointNow waiting for the worker's answer, by request number.
  const waiting = new Map<number, () => void>();
  let asked = 0;
  worker.on('message', (m: CheckpointResult | { error: string } | { done: number }) => {
    if ('done' in m) {
      waiting.get(m.done)?.();
      waiting.delete(m.done);
    } else if ('error' in m) warn(`WAL checkpoint: ${m.error}`);
    else record(m);
  });
  worker.on('error', (e) => warn(`WAL checkpoint worker: ${e.message}`));
  const exited = new Promise<void>((resolve) =>
    worker.once('exit', () => {
      for (const done of waiting.values()) done();
      waiting.clear();
      resolve();
    }),
  );
  let stopping: Promise<void> | undefined;
  return {
    results,
    checkpointNow() {
      if (stopping) return Promise.resolve();
      const id = ++asked;
      return new Promise<void>((resolve) => {
        waiting.set(id, resolve);
        worker.postMessage({ now: id });
      });
    },
    stop() {
      stopping ??= (async () => {
        worker.postMessage('stop');
        // A worker that is stuck (it never should be) is ended after a grace period.
        const timer = setTimeout(() => void worker.terminate(), 5_000);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}
