// A lock as a declared resource needs: GET /v1/locks/{id} (404 with a JSON error once it is
// removed or has expired), an absolute `expires` (a TTL would move at every apply), and PATCH of
// its end and message, so that extending an incident lock never opens a moment unlocked. Every
// change is audited.

import { joinWithToken, startLifecycleServer, type LifecycleServer } from './support';

jest.setTimeout(60_000);

let s: LifecycleServer;
const auth = () => ({ authorization: `Bearer ${s.adminToken}` });
const inHours = (h: number) => new Date(s.now().getTime() + h * 3600_000).toISOString();

beforeAll(async () => {
  s = await startLifecycleServer();
});
afterAll(() => s?.stop());

test('GET /v1/locks/{id} answers the lock; 404 with a JSON error once removed or expired', async () => {
  const expires = inHours(2);
  const lock = await s.admin<any>('POST', '/v1/locks', { kind: 'host_id', target: 'host-get', expires, message: 'incident 7' });
  expect(lock).toMatchObject({ kind: 'host_id', target: 'host-get', message: 'incident 7', expires_at: expires });
  expect(await s.admin<any>('GET', `/v1/locks/${lock.id}`)).toEqual({ id: lock.id, kind: 'host_id', target: 'host-get', message: 'incident 7', created_at: lock.created_at, expires_at: expires });

  s.advance(2 * 3600_000 + 1000);
  const lapsed = await s.request('GET', `/v1/locks/${lock.id}`, { headers: auth() });
  expect(lapsed.status).toBe(404);
  expect(lapsed.json().error).toMatchObject({ code: 'not_found' });

  const other = await s.admin<any>('POST', '/v1/locks', { kind: 'host_id', target: 'host-gone' });
  await s.admin('DELETE', `/v1/locks/${other.id}`);
  const gone = await s.request('GET', `/v1/locks/${other.id}`, { headers: auth() });
  expect(gone.status).toBe(404);
  expect(gone.json().error.code).toBe('not_found');
  expect((await s.request('GET', `/v1/locks/${other.id}`)).status).toBe(401);
});

test('expires is an absolute RFC 3339 end, stored and answered in UTC', async () => {
  const utc = new Date(Math.floor(s.now().getTime() / 1000) * 1000 + 3 * 3600_000);
  const local = new Date(utc.getTime() + 2 * 3600_000).toISOString().replace(/\.\d{3}Z$/, '+02:00');
  const lock = await s.admin<any>('POST', '/v1/locks', { kind: 'account', target: '111122223333', expires: local });
  expect(lock.expires_at).toBe(utc.toISOString());
  await s.admin('DELETE', `/v1/locks/${lock.id}`);
});

test('bad expires and changes are 400 invalid_lock naming the field', async () => {
  const cases: [unknown, string][] = [
    [{ kind: 'host_id', target: 'h', expires: 'tomorrow' }, 'expires'],
    [{ kind: 'host_id', target: 'h', expires: '2020-01-01T00:00:00Z' }, 'expires'],
    [{ kind: 'host_id', target: 'h', expires: inHours(24 * 400) }, 'expires'],
    [{ kind: 'host_id', target: 'h', expires: inHours(1), ttl: '1h' }, 'expires'],
    [{ kind: 'host_id', target: 'h', expires: 12 }, 'expires'],
  ];
  for (const [body, field] of cases) {
    const r = await s.request('POST', '/v1/locks', { body, headers: auth() });
    expect([r.status, r.json().error]).toEqual([400, expect.objectContaining({ code: 'invalid_lock', field })]);
  }
  const lock = await s.admin<any>('POST', '/v1/locks', { kind: 'host_id', target: 'host-bad-patch' });
  const patches: [unknown, string][] = [
    [{ target: 'other' }, 'target'],
    [{ kind: 'account' }, 'kind'],
    [{ expires: '2020-01-01T00:00:00Z' }, 'expires'],
    [{ message: 'x'.repeat(300) }, 'message'],
    [[1], 'body'],
  ];
  for (const [body, field] of patches) {
    const r = await s.request('PATCH', `/v1/locks/${lock.id}`, { body, headers: auth() });
    expect([r.status, r.json().error]).toEqual([400, expect.objectContaining({ code: 'invalid_lock', field })]);
  }
  const missing = await s.request('PATCH', '/v1/locks/nope', { body: { message: 'x' }, headers: auth() });
  expect([missing.status, missing.json().error.code]).toEqual([404, 'not_found']);
  // An ID from the URL is quoted back only when a terminal can show it safely.
  const rlo = await s.request('GET', '/v1/locks/a%E2%80%AEb', { headers: auth() });
  expect([rlo.status, rlo.json().error.message]).toEqual([404, 'lock (the ID given) not found (removed, or expired)']);
});

test('PATCH changes the end and message in place (the lock never lapses), audited as lock.update', async () => {
  const host = await joinWithToken(s, 'lock-api-token-0123456789abcdef');
  const lock = await s.admin<any>('POST', '/v1/locks', { kind: 'token', target: 'lock-api-token-0123456789abcdef', ttl: '1h', message: 'first' });
  expect(lock.target).not.toContain('lock-api-token'); // a token-method name is a secret
  const later = inHours(5);
  const changed = await s.admin<any>('PATCH', `/v1/locks/${lock.id}`, { expires: later, message: 'second' });
  expect(changed).toMatchObject({ id: lock.id, target: lock.target, message: 'second', expires_at: later, created_at: lock.created_at });
  s.advance(2 * 3600_000); // past the first end: the lock still holds
  const refused = await s.request('POST', '/v1/join/token', { body: { token_name: 'lock-api-token-0123456789abcdef', role: 'Node', public_key: host.key.publicPem } });
  expect([refused.status, refused.json().error.code, refused.json().error.message]).toEqual([403, 'locked', 'locked: second']);

  const cleared = await s.admin<any>('PATCH', `/v1/locks/${lock.id}`, { expires: null, message: null });
  expect(cleared).toMatchObject({ message: null, expires_at: null });
  const events = (await s.admin<any>('GET', '/v1/audit?type=lock.update')).events;
  expect(events).toHaveLength(2);
  expect(events[1]).toMatchObject({ eventCode: 'JL004I', success: true, details: { lock: { id: lock.id, message: 'second', expires_at: later } } });
  expect(JSON.stringify(events)).not.toContain('lock-api-token-0123');
  await s.admin('DELETE', `/v1/locks/${lock.id}`);
});
