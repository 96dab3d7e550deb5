// Housekeeping on a timer, off the request path: deleting IAM challenges long expired, audit
// events beyond the retention settings, and host certificate records a day past their expiry. Every replica runs it; the deletes are idempotent, so
// replicas racing each other only repeat work.

import type { Logger } from 'pino';
import type { ServerConfig } from '../config';
import { CHALLENGE_RETENTION_MS } from '../join/iam/join-iam';
import type { Store } from '../store/types';

const DAY_MS = 24 * 3600 * 1000;
export const HOUSEKEEPING_INTERVAL_MS = 60_000;

export interface Housekeeping {
  /** One pass now (also what the timer runs); resolves with how many rows each prune deleted. */
  runOnce(): Promise<{ challenges: number; audit: number; certificates: number }>;
  /** Stops the timer and waits for a pass under way (so the store can be closed after). */
  stop(): Promise<void>;
}

type Settings = Pick<ServerConfig, 'auditRetentionDays' | 'auditMaxRows'>;

export function pruneAudit(store: Store, settings: Settings, now: Date): Promise<number> {
  const cutoff = now.getTime() - settings.auditRetentionDays * DAY_MS;
  // A retention longer than dates reach keeps everything rather than failing every pass.
  const before = settings.auditRetentionDays > 0 && cutoff >= -8.64e15 ? new Date(cutoff) : undefined;
  const keepRows = settings.auditMaxRows > 0 ? settings.auditMaxRows : undefined;
  if (!before && keepRows === undefined) return Promise.resolve(0);
  return store.audit.prune({ before, keepRows });
}

export function startHousekeeping(store: Store, settings: Settings, log: Logger, opts: { now?: () => Date; intervalMs?: number } = {}): Housekeeping {
  const now = opts.now ?? (() => new Date());
  let running: Promise<{ challenges: number; audit: number; certificates: number }> | undefined;
  const runOnce = () =>
    (running ??= (async () => {
      try {
        const t = now();
        const challenges = await store.challenges.prune(new Date(t.getTime() - CHALLENGE_RETENTION_MS));
        const audit = await pruneAudit(store, settings, t);
        // A day's margin: an expired certificate still presented is told "expired" by its own
        // validity, and nothing about it is needed for the CRL.
        const certificates = await store.nodes.pruneCertificates(new Date(t.getTime() - DAY_MS));
        if (challenges || audit || certificates) log.info({ challenges, audit, certificates }, 'housekeeping deleted expired rows');
        return { challenges, audit, certificates };
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
