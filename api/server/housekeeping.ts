// Housekeeping on a timer, off the request path: deleting IAM challenges long expired, audit
// events beyond the retention settings, host certificate records a day past their expiry, hosts
// removed or lapsed longer than JOINERY_NODE_RETENTION ago, and locks past their TTL.
// Every replica runs it; the deletes are idempotent, so replicas racing each other only repeat
// work. Each prune is indexed and goes in batches of a bounded size with a yield to the event
// loop between them: SQLite answers on the event loop, so one pass over a backlog of 100,000
// rows as one statement held every request for a second.

import type { Logger } from 'pino';
import type { ServerConfig } from '../config';
import { CHALLENGE_RETENTION_MS } from '../join/iam/join-iam';
import type { Store } from '../store/types';

const DAY_MS = 24 * 3600 * 1000;
export const HOUSEKEEPING_INTERVAL_MS = 60_000;
/**
 * Rows one statement deletes. Certificate records are the dearest: their serials are random, so
 * each row sits on its own pages of four indexes; 500 a batch took 19 ms typically and up to 74 ms
 * on a loaded machine (WAL writes), 100 take a few milliseconds.
 */
export const HOUSEKEEPING_BATCH = 100;
/** A pass stops after this many batches (5 million rows) and the next pass goes on. */
const MAX_BATCHES_PER_PRUNE = 10_000;

export interface Housekeeping {
  /** One pass now (also what the timer runs); resolves with how many rows each prune deleted. */
  runOnce(): Promise<PassResult>;
  /** Stops the timer and waits for a pass under way (so the store can be closed after). */
  stop(): Promise<void>;
}

/** Rows each prune of one pass deleted. */
export interface PassResult {
  challenges: number;
  audit: number;
  certificates: number;
  hosts: number;
  locks: number;
}

type Settings = Pick<ServerConfig, 'auditRetentionDays' | 'auditMaxRows'> & Partial<Pick<ServerConfig, 'nodeRetentionMs'>>;

/** Lets timers and sockets run between two batches. */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Runs one batch after another until a batch comes back short, yielding between them and letting
 * the store catch up with the writes (`store.catchUp`: SQLite checkpoints its WAL off the event loop).
 */
export async function inBatches(store: Pick<Store, 'catchUp'>, batch: (limit: number) => Promise<number>, limit: number): Promise<number> {
  let total = 0;
  for (let i = 0; i < MAX_BATCHES_PER_PRUNE; i++) {
    const n = await batch(limit);
    total += n;
    if (n < limit) break;
    await store.catchUp?.();
    await yieldToEventLoop();
  }
  return total;
}

export function pruneAudit(store: Store, settings: Settings, now: Date, batchSize = HOUSEKEEPING_BATCH): Promise<number> {
  const cutoff = now.getTime() - settings.auditRetentionDays * DAY_MS;
  // A retention longer than dates reach keeps everything rather than failing every pass.
  const before = settings.auditRetentionDays > 0 && cutoff >= -8.64e15 ? new Date(cutoff) : undefined;
  const keepRows = settings.auditMaxRows > 0 ? settings.auditMaxRows : undefined;
  if (!before && keepRows === undefined) return Promise.resolve(0);
  return inBatches(store, (limit) => store.audit.prune({ before, keepRows, limit }), batchSize);
}

/** Hosts removed, or lapsed, longer than the retention ago (0 keeps them), in batches. */
export function pruneHosts(store: Store, retentionMs: number, now: Date, batchSize = HOUSEKEEPING_BATCH): Promise<number> {
  if (!(retentionMs > 0)) return Promise.resolve(0);
  const before = new Date(now.getTime() - retentionMs);
  return inBatches(store, (limit) => store.nodes.pruneHosts(before, now, limit), batchSize);
}

/** Locks past their TTL, each deletion audited as lock.expire. */
export function expireLocks(store: Store, now: Date, batchSize = HOUSEKEEPING_BATCH): Promise<number> {
  return inBatches(store, async (limit) => {
    const gone = await store.locks.pruneExpired(now, limit);
    for (const lock of gone) {
      await store.audit.append({ time: now.toISOString(), type: 'lock.expire', success: true, message: `lock ${lock.id} expired at ${lock.expiresAt}`, details: { lock_id: lock.id } });
    }
    return gone.length;
  }, batchSize);
}

export function startHousekeeping(store: Store, settings: Settings, log: Logger, opts: { now?: () => Date; intervalMs?: number; batchSize?: number } = {}): Housekeeping {
  const now = opts.now ?? (() => new Date());
  const batch = opts.batchSize ?? HOUSEKEEPING_BATCH;
  let running: Promise<PassResult> | undefined;
  const runOnce = () =>
    (running ??= (async () => {
      try {
        const t = now();
        const challengesBefore = new Date(t.getTime() - CHALLENGE_RETENTION_MS);
        const challenges = await inBatches(store, (limit) => store.challenges.prune(challengesBefore, limit), batch);
        const audit = await pruneAudit(store, settings, t, batch);
        // A day's margin: an expired certificate still presented is told "expired" by its own
        // validity, and nothing about it is needed for the CRL.
        const certificatesBefore = new Date(t.getTime() - DAY_MS);
        const certificates = await inBatches(store, (limit) => store.nodes.pruneCertificates(certificatesBefore, limit), batch);
        const hosts = await pruneHosts(store, settings.nodeRetentionMs ?? 0, t, batch);
        const locks = await expireLocks(store, t, batch);
        if (challenges || audit || certificates || hosts || locks) log.info({ challenges, audit, certificates, hosts, locks }, 'housekeeping deleted expired rows');
        return { challenges, audit, certificates, hosts, locks };
      } finally {
        running = undefined;
      }
    })());
  const tick = () => void runOnce().catch((err) => log.warn({ err }, 'housekeeping failed; retrying at the next interval'));
  const first = setTimeout(tick, 0);
  const timer = setInterval(tick, opts.intervalMs ?? HOUSEKEEPING_INTERVAL_MS);
  first.unref();
  timer.unref();
  return {
    runOnce,
    async stop() {
      clearTimeout(first);
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
