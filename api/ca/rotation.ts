// CA rotation as Teleport's `tctl auth rotate` does it, in phases every replica reads from one
// database row (settings `ca_rotation`):
//
//   standby         one CA: it is trusted and signs everything
//   init            a new CA exists and is trusted (published in every bundle) but signs nothing
//   update_clients  host certificates (joins, renewals) come from the new CA; both CAs' renew
//   update_servers  the server's own TLS certificate comes from the new CA too
//   standby         the old CA is dropped: its certificates renew no more
//   rollback        (from init, update_clients or update_servers) the old CA signs everything
//                   again while both stay trusted, so hosts holding new-CA certificates renew back;
//                   then standby drops the new CA
//
// Each phase must last long enough for every renewing host to pass through it (a host picks up
// the new bundle, then a new-CA certificate, at its renewals): two host certificate lifetimes by
// default. Without --manual a housekeeping step advances the phase when its time is up; a
// conditional update on the row makes that happen once across replicas.

export const ROTATION_PHASES = ['standby', 'init', 'update_clients', 'update_servers', 'rollback'] as const;
export type RotationPhase = (typeof ROTATION_PHASES)[number];

export const ROTATION_SETTING = 'ca_rotation';

/** A CA as the row keeps it: the certificate and where its key is (a CA key setting's value). */
export interface CaRecord {
  cert_pem: string;
  key: string;
}

export interface RotationState {
  phase: RotationPhase;
  /** The CA of standby; during a rotation, the old one. */
  current: CaRecord;
  /** The new CA, from init until standby (or until a rollback ends). */
  next?: CaRecord;
  mode: 'manual' | 'auto';
  /** How long each phase lasts in auto mode. */
  grace_ms: number;
  phase_started_at: string;
  /** Certificates of CAs a rotation dropped (the newest few): a host still holding one is told why. */
  retired: string[];
}

const RETIRED_KEPT = 4;

export function isRotating(state: RotationState): boolean {
  return state.phase !== 'standby';
}

/** The CAs trusted in a phase, in bundle order. */
export function trustedRecords(state: RotationState): CaRecord[] {
  return state.next ? [state.current, state.next] : [state.current];
}

/** The CA that signs host certificates (joins, renewals) and the CRL served by default. */
export function hostIssuerRecord(state: RotationState): CaRecord {
  return state.next && (state.phase === 'update_clients' || state.phase === 'update_servers') ? state.next : state.current;
}

/** The CA that signs the server's TLS certificate. */
export function serverIssuerRecord(state: RotationState): CaRecord {
  return state.next && state.phase === 'update_servers' ? state.next : state.current;
}

/** The phase after `phase` when a rotation goes on (not rolled back). */
export function nextPhase(phase: RotationPhase): RotationPhase | undefined {
  switch (phase) {
    case 'init':
      return 'update_clients';
    case 'update_clients':
      return 'update_servers';
    case 'update_servers':
    case 'rollback':
      return 'standby';
    case 'standby':
      return undefined;
  }
}

export class RotationError extends Error {
  constructor(
    readonly code: 'invalid_phase_transition' | 'rotation_in_progress' | 'rotation_not_followed' | 'new_key_required' | 'invalid_new_key',
    message: string,
  ) {
    super(message);
  }
}

/**
 * The state after moving to `target` (a later phase or rollback). Standby from update_servers
 * makes the new CA the current one; standby from rollback drops the new CA.
 */
export function advance(state: RotationState, target: RotationPhase, now: Date): RotationState {
  const legal = target === 'rollback' ? ['init', 'update_clients', 'update_servers'].includes(state.phase) : nextPhase(state.phase) === target;
  if (!legal) {
    const allowed = [nextPhase(state.phase), ...(['init', 'update_clients', 'update_servers'].includes(state.phase) ? ['rollback'] : [])].filter(Boolean);
    throw new RotationError(
      'invalid_phase_transition',
      state.phase === 'standby'
        ? `no rotation is in progress (phase standby); start one with joinery ca rotate (POST /v1/ca/rotate without phase)`
        : `the rotation is in phase ${state.phase}; it can move to ${allowed.join(' or ')}, not ${target}`,
    );
  }
  const started = now.toISOString();
  if (target !== 'standby') return { ...state, phase: target, phase_started_at: started };
  const [kept, dropped] = state.phase === 'rollback' ? [state.current, state.next] : [state.next!, state.current];
  return {
    phase: 'standby',
    current: kept,
    mode: state.mode,
    grace_ms: state.grace_ms,
    phase_started_at: started,
    retired: [dropped!.cert_pem, ...state.retired].slice(0, RETIRED_KEPT),
  };
}

export function rotationInProgress(state: RotationState): RotationError {
  return new RotationError('rotation_in_progress', `a rotation is already in phase ${state.phase}; move it on (--phase) or roll it back (--rollback) first`);
}

/** A rotation's first phase: `next` becomes trusted. */
export function begin(state: RotationState, next: CaRecord, opts: { mode: 'manual' | 'auto'; graceMs: number }, now: Date): RotationState {
  if (isRotating(state)) throw rotationInProgress(state);
  return { ...state, phase: 'init', next, mode: opts.mode, grace_ms: opts.graceMs, phase_started_at: now.toISOString() };
}

/**
 * When an automatic rotation leaves its phase; undefined in manual mode and standby. A row whose
 * end is no time at all (a grace past the end of the calendar, written before grace was bounded)
 * never ends by itself: `now < Invalid Date` is false, which would walk every phase at once.
 */
export function phaseEndsAt(state: RotationState): Date | undefined {
  if (state.mode !== 'auto' || !isRotating(state)) return undefined;
  const end = new Date(Date.parse(state.phase_started_at) + state.grace_ms);
  return Number.isFinite(end.getTime()) ? end : undefined;
}

/**
 * The longest grace: two of the longest host certificate lifetimes (JOINERY_HOST_CERT_TTL_SECONDS
 * allows 366 days), the default grace at that setting. Longer would leave a rotation open for
 * years, and past about 270,000 years the phase's end is no date at all.
 */
export const MAX_GRACE_MS = 2 * 366 * 24 * 3600 * 1000;

/**
 * Refuses a grace an automatic rotation cannot honour: shorter than one host certificate lifetime,
 * a host that renews once per lifetime would miss a phase (and be refused after standby); longer
 * than MAX_GRACE_MS, the rotation would outlast anything it is for.
 */
export function checkGrace(graceMs: number, hostCertTtlMs: number, text: string): void {
  if (graceMs < hostCertTtlMs) {
    throw new Error(
      `grace ${JSON.stringify(text)} is shorter than a host certificate lifetime (${formatDuration(hostCertTtlMs)}): a host that renews once per lifetime would miss a phase and be refused after standby; ` +
        `give at least ${formatDuration(hostCertTtlMs)} (the default is ${formatDuration(2 * hostCertTtlMs)}), or step the phases yourself with --manual`,
    );
  }
  if (graceMs > MAX_GRACE_MS) throw new Error(`grace ${JSON.stringify(text)} is longer than ${formatDuration(MAX_GRACE_MS)} (two of the longest host certificate lifetimes)`);
}

/** A duration as parseDuration reads it back: 1d2h, 90s. */
export function formatDuration(ms: number): string {
  let s = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86_400], ['h', 3_600], ['m', 60], ['s', 1]] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  return parts.join('') || '0s';
}

export function parseRotationState(text: string): RotationState {
  const s = JSON.parse(text) as RotationState;
  if (!ROTATION_PHASES.includes(s.phase) || typeof s.current?.cert_pem !== 'string') throw new Error(`the database's ${ROTATION_SETTING} row is not a rotation state`);
  return { ...s, retired: s.retired ?? [] };
}

/** Durations as the CLI and API take them: 90s, 30m, 2h, 1d, or a sum like 1h30m. */
export function parseDuration(text: string, what = 'grace'): number {
  const m = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text.trim());
  if (!m || text.trim() === '' || m.slice(1).every((g) => g === undefined)) throw new Error(`${what} ${JSON.stringify(text)} is not a duration (e.g. 90s, 30m, 2h, 1d, 1h30m)`);
  const [d, h, min, s] = m.slice(1).map((g) => Number(g ?? 0));
  const ms = (((d * 24 + h) * 60 + min) * 60 + s) * 1000;
  if (!Number.isSafeInteger(ms)) throw new Error(`${what} ${JSON.stringify(text)} is too long`);
  if (ms <= 0) throw new Error(`${what} ${JSON.stringify(text)} must be positive`);
  return ms;
}
