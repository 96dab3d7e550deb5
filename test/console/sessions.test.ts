// Console sessions on their own: idle timeout, absolute lifetime, sign-out, the CSRF check.

import type { Request } from 'express';
import { SESSION_COOKIE, SESSION_IDLE_MS, SESSION_LIFETIME_MS, SessionStore, cookieValue } from '../../api/server/console/sessions';

function request(method: string, cookie?: string, csrf?: string): Request {
  const headers: Record<string, string> = {};
  if (cookie !== undefined) headers.cookie = `other=1; ${SESSION_COOKIE}=${cookie}`;
  if (csrf !== undefined) headers['x-csrf-token'] = csrf;
  return { method, headers } as unknown as Request;
}

test('a session ends after the idle timeout, and however busy after its lifetime', () => {
  let now = 1_000_000;
  const store = new SessionStore(() => now);
  const s = store.create();
  now += SESSION_IDLE_MS - 1;
  expect(store.lookup(s.id)).toBeDefined(); // touched: the idle timer restarts
  now += SESSION_IDLE_MS - 1;
  expect(store.lookup(s.id)).toBeDefined();
  now += SESSION_IDLE_MS;
  expect(store.lookup(s.id)).toBeUndefined();

  const busy = store.create();
  for (let t = 0; t < SESSION_LIFETIME_MS; t += SESSION_IDLE_MS / 2) {
    expect(store.lookup(busy.id)).toBeDefined();
    now += SESSION_IDLE_MS / 2;
  }
  expect(store.lookup(busy.id)).toBeUndefined();
});

test('sign-out ends the session on the server', () => {
  const store = new SessionStore();
  const s = store.create();
  expect(store.end(s.id)).toBe(true);
  expect(store.lookup(s.id)).toBeUndefined();
  expect(store.end(s.id)).toBe(false);
});

test('reads need the cookie; changes need the cookie and the session\'s own CSRF token', () => {
  const store = new SessionStore();
  const a = store.create();
  const b = store.create();
  expect(store.authenticate(request('GET'))).toBeUndefined();
  expect(store.authenticate(request('GET', a.id))).toEqual({ ok: true });
  expect(store.authenticate(request('GET', 'forged'))).toMatchObject({ ok: false, status: 401, code: 'session_expired' });
  expect(store.authenticate(request('DELETE', a.id))).toMatchObject({ ok: false, status: 403, code: 'csrf_failed' });
  expect(store.authenticate(request('POST', a.id, b.csrf))).toMatchObject({ ok: false, status: 403 });
  expect(store.authenticate(request('PUT', a.id, a.csrf.slice(1)))).toMatchObject({ ok: false, status: 403 });
  expect(store.authenticate(request('PUT', a.id, a.csrf))).toEqual({ ok: true });
});

test('cookieValue reads one cookie of a header', () => {
  expect(cookieValue('a=1; b=2', 'b')).toBe('2');
  expect(cookieValue('ab=1', 'b')).toBeUndefined();
  expect(cookieValue(undefined, 'b')).toBeUndefined();
});
