// Console sessions on both store backends: idle timeout, absolute lifetime, sign-out, the CSRF
// check, and a session any replica (any ConsoleSessions over the same database) recognises.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Request } from 'express';
import { ConsoleSessions, SESSION_COOKIE, SESSION_IDLE_MS, SESSION_LIFETIME_MS, cookieValue } from '../../api/server/console/sessions';
import type { Store } from '../../api/store/types';
import { storeBackends } from '../support/store-backends';

function request(method: string, cookie?: string, csrf?: string): Request {
  const headers: Record<string, string> = {};
  if (cookie !== undefined) headers.cookie = `other=1; ${SESSION_COOKIE}=${cookie}`;
  if (csrf !== undefined) headers['x-csrf-token'] = csrf;
  return { method, headers } as unknown as Request;
}

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-sessions-'));
});

describe.each(storeBackends(() => dir, 'sessions'))('%s', (_name, open) => {
  let store: Store;
  let now: number;
  beforeEach(async () => {
    store = await open();
    now = Date.parse('2026-06-01T00:00:00Z');
  });
  afterEach(() => store.close());

  test('a session ends after the idle timeout, and however busy after its lifetime', async () => {
    const sessions = new ConsoleSessions(store.consoleSessions, () => now);
    const s = await sessions.create();
    now += SESSION_IDLE_MS - 1;
    expect(await sessions.lookup(s.id)).toBeDefined(); // used: the idle timer restarts
    now += SESSION_IDLE_MS - 1;
    expect(await sessions.lookup(s.id)).toBeDefined();
    now += SESSION_IDLE_MS;
    expect(await sessions.lookup(s.id)).toBeUndefined();

    const busy = await sessions.create();
    for (let t = 0; t < SESSION_LIFETIME_MS; t += SESSION_IDLE_MS / 2) {
      expect(await sessions.lookup(busy.id)).toBeDefined();
      now += SESSION_IDLE_MS / 2;
    }
    expect(await sessions.lookup(busy.id)).toBeUndefined();
  });

  test('sign-out ends the session for every replica; only the ID\'s hash is stored', async () => {
    const a = new ConsoleSessions(store.consoleSessions, () => now);
    const b = new ConsoleSessions(store.consoleSessions, () => now);
    const s = await a.create();
    expect(await b.lookup(s.id)).toMatchObject({ csrf: s.csrf });
    expect(await store.consoleSessions.get(s.id)).toBeUndefined();
    expect(await b.end(s.id)).toBe(true);
    expect(await a.lookup(s.id)).toBeUndefined();
    expect(await a.end(s.id)).toBe(false);
  });

  test('signing in sweeps ended sessions', async () => {
    const sessions = new ConsoleSessions(store.consoleSessions, () => now);
    const old = await sessions.create();
    now += SESSION_IDLE_MS;
    await sessions.create();
    expect(await store.consoleSessions.prune({ idleBefore: new Date(0), createdBefore: new Date(0) })).toBe(0);
    expect(await sessions.lookup(old.id)).toBeUndefined();
  });

  test('reads need the cookie; changes need the cookie and the session\'s own CSRF token', async () => {
    const sessions = new ConsoleSessions(store.consoleSessions, () => now);
    const a = await sessions.create();
    const b = await sessions.create();
    expect(await sessions.authenticate(request('GET'))).toBeUndefined();
    expect(await sessions.authenticate(request('GET', a.id))).toEqual({ ok: true });
    expect(await sessions.authenticate(request('GET', 'forged'))).toMatchObject({ ok: false, status: 401, code: 'session_expired' });
    expect(await sessions.authenticate(request('DELETE', a.id))).toMatchObject({ ok: false, status: 403, code: 'csrf_failed' });
    expect(await sessions.authenticate(request('POST', a.id, b.csrf))).toMatchObject({ ok: false, status: 403 });
    expect(await sessions.authenticate(request('PUT', a.id, a.csrf.slice(1)))).toMatchObject({ ok: false, status: 403 });
    expect(await sessions.authenticate(request('PUT', a.id, a.csrf))).toEqual({ ok: true });
  });
});

test('cookieValue reads one cookie of a header', () => {
  expect(cookieValue('a=1; b=2', 'b')).toBe('2');
  expect(cookieValue('ab=1', 'b')).toBeUndefined();
  expect(cookieValue(undefined, 'b')).toBeUndefined();
});
