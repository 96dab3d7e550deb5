// Unauthenticated work stays bounded: outstanding IAM challenges are capped and counted without
// pruning on the request path; audit events are pruned by age and rows on a timer; strings that
// clients control are truncated before they are stored. Each on SQLite and PostgreSQL.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import type { JoinServices } from '../../api/join/admit';
import { JoinError } from '../../api/join/errors';
import { issueIamChallenge } from '../../api/join/iam/join-iam';
import { startHousekeeping } from '../../api/server/housekeeping';
import { AUDIT_LIMITS, boundAuditEvent, truncate } from '../../api/store/audit-bounds';
import type { AuditEvent, Store } from '../../api/store/types';
import { loadConfig } from '../../api/config';
import { storeBackends } from '../support/store-backends';

const DAY = 24 * 3600 * 1000;
const T0 = new Date('2030-06-01T12:00:00.000Z');
const silent = pino({ level: 'silent' });

let dir: string;
let store: Store;

const backends = storeBackends(() => dir, 'b');

function event(time: Date, n: number): AuditEvent {
  return { time: time.toISOString(), type: 'join.token', success: false, code: 'token_not_found', message: `attempt ${n}` };
}

function svcFor(s: Store, env: Record<string, string>, now: Date): JoinServices {
  return { store: s, config: loadConfig({}, env), log: silent, now: () => now } as unknown as JoinServices;
}

describe.each(backends)('%s', (_name, open) => {
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-bounds-'));
    store = await open();
  });
  afterEach(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('countActive counts unused, unexpired challenges, up to atMost', async () => {
    await store.challenges.create('live1', new Date(T0.getTime() + 60_000));
    await store.challenges.create('live2', new Date(T0.getTime() + 60_000));
    await store.challenges.create('live3', new Date(T0.getTime() + 60_000));
    await store.challenges.create('expired', new Date(T0.getTime() - 1));
    expect(await store.challenges.consume('live3', T0)).toBe('ok');
    expect(await store.challenges.countActive(T0)).toBe(2);
    expect(await store.challenges.countActive(T0, 1)).toBe(1);
    expect(await store.challenges.countActive(new Date(T0.getTime() + 120_000))).toBe(0);
  });

  test('the challenge cap: beyond it 429 iam_challenges_exhausted with a retry time; used or expired ones free room', async () => {
    const svc = svcFor(store, { JOINERY_IAM_MAX_OUTSTANDING_CHALLENGES: '3', JOINERY_IAM_CHALLENGE_TTL_SECONDS: '300' }, T0);
    const issued = [];
    for (let i = 0; i < 3; i++) issued.push(await issueIamChallenge(svc));
    const err = await issueIamChallenge(svc).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(JoinError);
    expect(err).toMatchObject({ status: 429, code: 'iam_challenges_exhausted', details: { retryAfterSeconds: 30 } });
    // Using one frees its place.
    expect(await store.challenges.consume(issued[0].challenge, T0)).toBe('ok');
    await expect(issueIamChallenge(svc)).resolves.toHaveProperty('challenge');
    await expect(issueIamChallenge(svc)).rejects.toMatchObject({ code: 'iam_challenges_exhausted' });
    // Once they expire, there is room again.
    const later = svcFor(store, { JOINERY_IAM_MAX_OUTSTANDING_CHALLENGES: '3' }, new Date(T0.getTime() + 301_000));
    await expect(issueIamChallenge(later)).resolves.toHaveProperty('challenge');
  });

  test('issuing a challenge never prunes (no table scan on the request path)', async () => {
    await store.challenges.create('old', new Date(T0.getTime() - 10 * DAY));
    const prune = jest.spyOn(store.challenges, 'prune');
    await issueIamChallenge(svcFor(store, {}, T0));
    expect(prune).not.toHaveBeenCalled();
    expect(await store.challenges.consume('old', T0)).toBe('expired');
  });

  test('audit prune by age removes old rows and keeps recent ones', async () => {
    for (let d = 0; d < 5; d++) await store.audit.append(event(new Date(T0.getTime() - d * 30 * DAY), d));
    expect(await store.audit.prune({ before: new Date(T0.getTime() - 45 * DAY), limit: 100 })).toBe(3);
    const kept = await store.audit.list({ limit: 100 });
    expect(kept.map((e) => e.message).sort()).toEqual(['attempt 0', 'attempt 1']);
  });

  test('audit prune by rows keeps the newest keepRows', async () => {
    for (let i = 0; i < 10; i++) await store.audit.append(event(new Date(T0.getTime() + i), i));
    expect(await store.audit.prune({ keepRows: 4, limit: 100 })).toBe(6);
    expect((await store.audit.list({ limit: 100 })).map((e) => e.message)).toEqual(['attempt 9', 'attempt 8', 'attempt 7', 'attempt 6']);
    expect(await store.audit.prune({ keepRows: 4, limit: 100 })).toBe(0);
    expect(await store.audit.prune({ keepRows: 0, limit: 100 })).toBe(4);
  });

  test('housekeeping prunes old challenges and audit events by the configured retention', async () => {
    const config = loadConfig({}, { JOINERY_AUDIT_RETENTION_DAYS: '7', JOINERY_AUDIT_MAX_ROWS: '3' });
    await store.audit.append(event(new Date(T0.getTime() - 30 * DAY), 99));
    for (let d = 3; d >= 0; d--) await store.audit.append(event(new Date(T0.getTime() - d * DAY), d));
    await store.challenges.create('long-expired', new Date(T0.getTime() - DAY));
    await store.challenges.create('just-expired', new Date(T0.getTime() - 1000));
    const hk = startHousekeeping(store, config, silent, { now: () => T0, intervalMs: 3_600_000 });
    try {
      // runOnce may join the first pass the timer already started; run until nothing is left.
      await hk.runOnce();
      expect(await hk.runOnce()).toEqual({ challenges: 0, audit: 0, certificates: 0, hosts: 0, locks: 0 });
    } finally {
      await hk.stop();
    }
    expect((await store.audit.list()).map((e) => e.message)).toEqual(['attempt 0', 'attempt 1', 'attempt 2']);
    // Kept a while so a late join hears "expired", not "unknown".
    expect(await store.challenges.consume('just-expired', T0)).toBe('expired');
    expect(await store.challenges.consume('long-expired', T0)).toBe('missing');
  });

  test('attacker-controlled audit strings are stored truncated', async () => {
    const huge = 'x'.repeat(100_000);
    await store.audit.append({
      time: T0.toISOString(),
      type: 'join.iam',
      success: false,
      code: 'iam_arn_not_allowed',
      message: `caller ${huge} is not allowed`,
      tokenName: huge,
      remoteAddr: '192.0.2.1',
      details: { aws_arn: huge, many: Array.from({ length: 1000 }, (_, i) => i), deep: { a: { b: { c: { d: { e: huge } } } } } },
    });
    const [stored] = await store.audit.list();
    expect(stored.message!.length).toBeLessThanOrEqual(AUDIT_LIMITS.message);
    expect(stored.message).toMatch(/^caller xxx.*…\[truncated\]$/);
    expect(stored.tokenName!.length).toBeLessThanOrEqual(AUDIT_LIMITS.field);
    expect(JSON.stringify(stored.details).length).toBeLessThan(4096);
    expect((stored.details!.aws_arn as string).length).toBeLessThanOrEqual(AUDIT_LIMITS.detailString);
    expect(stored.remoteAddr).toBe('192.0.2.1');
    expect(stored.code).toBe('iam_arn_not_allowed');
  });
});

describe('audit bounds', () => {
  test('short strings are untouched; long ones end with a marker and never split a surrogate pair', () => {
    expect(truncate('abc', 10)).toBe('abc');
    const emoji = '😀'.repeat(100);
    const cut = truncate(emoji, 50);
    expect(cut.length).toBeLessThanOrEqual(50);
    expect(cut.endsWith('…[truncated]')).toBe(true);
    expect(Buffer.from(cut, 'utf8').toString('utf8')).toBe(cut); // no lone surrogate
  });
  test('details keep their shape within bounds; __proto__ keys stay plain data', () => {
    const details = JSON.parse(`{"__proto__": {"polluted": true}, ${Array.from({ length: 100 }, (_, i) => `"k${i}": ${i}`).join(',')}}`);
    const bounded = boundAuditEvent({ time: T0.toISOString(), type: 't', success: false, details }).details!;
    expect(Object.keys(bounded).length).toBe(AUDIT_LIMITS.detailKeys + 1);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(bounded)).toBe(Object.prototype);
  });
  test('nested details that multiply within the per-level bounds are cut as a whole', () => {
    const level = (child: unknown) => Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`k${i}`, child]));
    const details = level(level(level('y'.repeat(400))));
    const bounded = boundAuditEvent({ time: T0.toISOString(), type: 't', success: false, details }).details!;
    expect(JSON.stringify(bounded).length).toBeLessThanOrEqual(AUDIT_LIMITS.detailsJson);
    expect(bounded.truncated).toMatch(/^\{"k0":\{"k0":.*…\[truncated\]$/);
  });
});

test('a retention longer than dates reach keeps everything instead of failing', async () => {
  const { pruneAudit } = await import('../../api/server/housekeeping');
  const prune = jest.fn(async () => 0);
  const fake = { audit: { prune } } as unknown as Store;
  await pruneAudit(fake, { auditRetentionDays: 1e12, auditMaxRows: 0 }, T0);
  expect(prune).not.toHaveBeenCalled();
  await pruneAudit(fake, { auditRetentionDays: 1e12, auditMaxRows: 5 }, T0);
  expect(prune).toHaveBeenCalledWith(expect.objectContaining({ before: undefined, keepRows: 5 }));
});

test('details full of characters JSON escapes still fit the bound', () => {
  const details = { a: Array.from({ length: 16 }, () => '"\u0001'.repeat(200)), b: Array.from({ length: 16 }, () => '\\'.repeat(500)) };
  const bounded = boundAuditEvent({ time: T0.toISOString(), type: 't', success: false, details }).details!;
  expect(JSON.stringify(bounded).length).toBeLessThanOrEqual(AUDIT_LIMITS.detailsJson);
  expect(String(bounded.truncated).endsWith('…[truncated]')).toBe(true);
});
