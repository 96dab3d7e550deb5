// The rotation row's pure rules (api/ca/rotation.ts): what a phase's end is, and which graces an
// automatic rotation can honour.

import { MAX_GRACE_MS, checkGrace, formatDuration, parseDuration, phaseEndsAt, type RotationState } from '../../api/ca/rotation';

const state = (over: Partial<RotationState>): RotationState => ({
  phase: 'init',
  current: { cert_pem: 'old', key: 'file' },
  next: { cert_pem: 'new', key: 'file:/x' },
  mode: 'auto',
  grace_ms: 60_000,
  phase_started_at: '2026-01-01T00:00:00.000Z',
  retired: [],
  ...over,
});

test('a phase ends grace after it started; a row whose end is no date never ends by itself', () => {
  expect(phaseEndsAt(state({}))?.toISOString()).toBe('2026-01-01T00:01:00.000Z');
  expect(phaseEndsAt(state({ mode: 'manual' }))).toBeUndefined();
  // Written by a server that took grace "100000000d": an Invalid Date compares false with any
  // time, so the housekeeping step walked such a rotation through every phase at once.
  expect(phaseEndsAt(state({ grace_ms: 8_640_000_000_000_000 }))).toBeUndefined();
  expect(phaseEndsAt(state({ phase_started_at: 'yesterday' }))).toBeUndefined();
});

test('grace: at least one host certificate lifetime, at most two of the longest', () => {
  const hour = 3_600_000;
  expect(() => checkGrace(hour, hour, '1h')).not.toThrow();
  expect(() => checkGrace(MAX_GRACE_MS, hour, '732d')).not.toThrow();
  expect(() => checkGrace(hour - 1000, hour, '59m59s')).toThrow(/shorter than a host certificate lifetime \(1h\).*give at least 1h \(the default is 2h\)/);
  expect(() => checkGrace(MAX_GRACE_MS + 1000, hour, '732d1s')).toThrow(/longer than 732d/);
  expect(() => parseDuration('99999999999d')).toThrow(/is too long/);
  expect(() => parseDuration('0s')).toThrow(/must be positive/);
  expect(formatDuration(parseDuration('1d2h3m4s'))).toBe('1d2h3m4s');
});
