// POST /v1/ca/rotate and GET /v1/ca: hostile and out-of-order requests get clear 4xx answers and
// change nothing; an automatic rotation walks its phases when their time is up (the server's
// clock is moved); a rotation onto a moto KMS key survives a restart, which then opens the CA the
// database records, not the key setting's.

import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { loadConfig } from '../../api/config';
import { startServer } from '../../api/server/server';
import { joinWithToken, startLifecycleServer, type LifecycleServer } from '../lifecycle/support';
import { startMotoKms, type MotoKms } from '../support/moto-kms';

// api/version.ts reads package.json relative to dist/; from the sources that path does not exist.
jest.mock('../../api/version', () => ({ VERSION: '0.0.0-test' }));
jest.setTimeout(120_000);

let motoKms: MotoKms;

beforeAll(async () => {
  motoKms = await startMotoKms();
});
afterAll(() => motoKms?.stop());

const auth = (s: LifecycleServer) => ({ authorization: `Bearer ${s.adminToken}` });

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('the rotate API', () => {
  let s: LifecycleServer;
  beforeAll(async () => {
    s = await startLifecycleServer({ JOINERY_HOST_CERT_TTL_SECONDS: '60' });
  });
  afterAll(() => s?.stop());

  test('refuses bad requests with a field, changes nothing, and needs the admin credential', async () => {
    const before = (await s.request('GET', '/v1/ca')).json();
    expect(before.phase).toBe('standby');
    expect(before.cas).toHaveLength(1);
    expect(before.cas[0]).toMatchObject({ pin: s.server.ca.pin, state: 'current', signs: ['host_certificates', 'server_certificate'] });

    expect((await s.request('POST', '/v1/ca/rotate', { body: {} })).status).toBe(401);
    const cases: [unknown, number, string, string?][] = [
      [{ phase: 'update_clients' }, 409, 'invalid_phase_transition'],
      [{ rollback: true }, 409, 'invalid_phase_transition'],
      [{ phase: 'everything' }, 400, 'invalid_request', 'phase'],
      [{ grace: 'soon' }, 400, 'invalid_request', 'grace'],
      [{ grace: '0s' }, 400, 'invalid_request', 'grace'],
      [{ grace: 48 }, 400, 'invalid_request', 'grace'],
      // Past the end of the calendar: the phase's end was an Invalid Date, every view a 500, and
      // the rotation walked every phase to standby at once.
      [{ grace: '100000000d' }, 400, 'invalid_request', 'grace'],
      [{ grace: '99999999999d' }, 400, 'invalid_request', 'grace'],
      [{ grace: '733d' }, 400, 'invalid_request', 'grace'],
      // Shorter than a host certificate lifetime (60 s here): hosts would miss a phase.
      [{ grace: '59s' }, 400, 'invalid_request', 'grace'],
      [{ manual: 'yes' }, 400, 'invalid_request', 'manual'],
      // A grace that manual would silently ignore.
      [{ manual: true, grace: '2m' }, 400, 'invalid_request', 'grace'],
      [{ new_key: 'vault:x' }, 400, 'invalid_new_key', 'new_key'],
      [{ new_key: 'file:relative.key' }, 400, 'invalid_new_key', 'new_key'],
      [{ new_key: `file:${path.join(s.dataDir, 'ca.key')}` }, 400, 'invalid_new_key', 'new_key'],
      [{ new_key: 'x'.repeat(5000) }, 400, 'invalid_request', 'new_key'],
      [{ phase: 'update_clients', new_key: 'file' }, 400, 'invalid_request', 'new_key'],
      ['{"__proto__": {"manual": true}}', 400, 'invalid_request'],
      [[], 400, 'invalid_request'],
      ['"init"', 400, 'invalid_request'],
    ];
    // Fields in the query (repeated or not) are refused, not ignored: with no body this would start a rotation.
    for (const q of ['phase=standby', 'phase=standby&phase=rollback', 'rollback=true']) {
      const r = await s.request('POST', `/v1/ca/rotate?${q}`, { headers: auth(s) });
      expect([q, r.status, r.json().error.code, r.json().error.field]).toEqual([q, 400, 'invalid_request', q.split('=')[0]]);
    }
    for (const [body, status, code, field] of cases) {
      const r = await s.request('POST', '/v1/ca/rotate', { body, headers: auth(s) });
      expect([JSON.stringify(body).slice(0, 40), r.status, r.json().error.code]).toEqual([JSON.stringify(body).slice(0, 40), status, code]);
      if (field) expect(r.json().error.field).toBe(field);
    }
    // The pinned key's message says why.
    const same = await s.request('POST', '/v1/ca/rotate', { body: { new_key: `file:${path.join(s.dataDir, 'ca.key')}` }, headers: auth(s) });
    expect(same.json().error.message).toMatch(/is the key of a CA the cluster trusts now; a rotation needs another key/);
    const short = await s.request('POST', '/v1/ca/rotate', { body: { grace: '30s' }, headers: auth(s) });
    expect(short.json().error.message).toMatch(/shorter than a host certificate lifetime \(1m\).*give at least 1m \(the default is 2m\), or step the phases yourself with --manual/);
    const long = await s.request('POST', '/v1/ca/rotate', { body: { grace: '100000000d' }, headers: auth(s) });
    expect(long.json().error.message).toMatch(/longer than 732d/);
    expect((await s.request('GET', '/v1/ca')).json()).toEqual(before);
  });

  test('an automatic rotation walks init → update_clients → update_servers → standby as the grace passes, once', async () => {
    const start = await s.request('POST', '/v1/ca/rotate', { body: { grace: '60s' }, headers: auth(s) });
    expect(start.status).toBe(200);
    expect(start.json()).toMatchObject({ phase: 'init', mode: 'auto', next_phase: 'update_clients' });
    const newPin = start.json().cas[1].pin;
    // The admin's answer says where each key is (replicas on key files need a copy); the public list does not.
    expect(start.json().cas.map((c: { key?: string }) => c.key)).toEqual([`file ${path.join(s.dataDir, 'ca.key')}`, expect.stringMatching(new RegExp(`^file ${s.dataDir}/ca-\\d+-[0-9a-f]{8}\\.key$`))]);
    expect((await s.request('GET', '/v1/ca', { ca: s.caPem + start.json().cas[1].certificate })).json().cas.map((c: { key?: string }) => c.key)).toEqual([undefined, undefined]);
    // A second start while one runs is refused.
    const again = await s.request('POST', '/v1/ca/rotate', { body: {}, headers: auth(s) });
    expect([again.status, again.json().error.code]).toEqual([409, 'rotation_in_progress']);

    const trustBoth = s.caPem + start.json().cas[1].certificate;
    const phase = async () => (await s.request('GET', '/v1/ca', { ca: trustBoth })).json().phase as string;
    expect(await phase()).toBe('init');
    for (const next of ['update_clients', 'update_servers', 'standby']) {
      s.advance(61_000);
      await waitFor(next, async () => ((await phase()) === next ? true : undefined));
    }
    const done = (await s.request('GET', '/v1/ca', { ca: trustBoth })).json();
    expect(done.cas.map((c: { pin: string }) => c.pin)).toEqual([newPin]);
    // Automatic steps are not admin actions: one audited change, the start.
    const audit = await s.request('GET', '/v1/audit?type=ca.rotate', { headers: auth(s), ca: trustBoth });
    expect(audit.json().events.map((e: { message: string }) => e.message)).toEqual([expect.stringMatching(/^CA rotation: phase init \(auto\); trusted sha256:[0-9a-f]{64}, sha256:[0-9a-f]{64}$/)]);
    // The status shows it.
    const status = (await s.request('GET', '/v1/status', { ca: trustBoth })).json();
    expect(status).toMatchObject({ ca_pin: newPin, ca_rotation: { phase: 'standby' }, trusted_cas: [{ pin: newPin, state: 'current' }] });
    // The dropped CA's key (ca.key is still on disk) cannot come back: the rotation may have been for it.
    const back = await s.request('POST', '/v1/ca/rotate', { body: { manual: true, new_key: `file:${path.join(s.dataDir, 'ca.key')}` }, headers: auth(s), ca: trustBoth });
    expect([back.status, back.json().error.code, back.json().error.field]).toEqual([400, 'invalid_new_key', 'new_key']);
    expect(back.json().error.message).toMatch(/is the key of a CA an earlier rotation dropped \(sha256:[0-9a-f]{64}\); a rotation needs a key the cluster has not used/);
    expect((await s.request('GET', '/v1/ca', { ca: trustBoth })).json()).toMatchObject({ phase: 'standby', cas: [{ pin: newPin }] });
  });
});

test('a rotation onto a moto KMS key: after standby and a restart, the server signs with the KMS key, whatever JOINERY_CA_KEY says', async () => {
  const kms = motoKms.kms;
  const key = (await motoKms.createKey()).id;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rotate-kms-'));
  const config = loadConfig({ dataDir, listen: '127.0.0.1:0' }, { JOINERY_CLUSTER_NAME: 'kms-move', JOINERY_ADMIN_TOKEN: 'kms-move-admin-token-0123456789' });
  const log = pino({ level: 'silent' });
  let server = await startServer(config, { log, caSigner: { kmsClient: kms } });
  try {
    const oldPin = server.ca.pin;
    const rotated = await server.trust.rotate({ manual: true, newKey: `awskms:${key}` }, new Date());
    expect(rotated.cas[1].pin).not.toBe(oldPin);
    for (const phase of ['update_clients', 'update_servers', 'standby'] as const) await server.trust.rotate({ phase }, new Date());
    expect(server.trust.trusted.map((c) => c.signer.describe())).toEqual([expect.stringMatching(/^awskms /)]);
    const newPin = server.ca.pin;
    expect(newPin).toBe(rotated.cas[1].pin);
    // The CLI's CA file follows.
    expect(new X509Certificate(fs.readFileSync(path.join(dataDir, 'ca.crt'))).subject).toMatch(/OU=rotated /);
    await server.close();

    server = await startServer(config, { log, caSigner: { kmsClient: kms } });
    expect(server.ca.pin).toBe(newPin);
    expect(server.trust.phase).toBe('standby');
    // A join against the restarted server gets a KMS-signed certificate and the one-CA bundle.
    const life: LifecycleServer = {
      server,
      url: server.url,
      dataDir,
      adminToken: 'kms-move-admin-token-0123456789',
      caPem: server.ca.certPem,
      advance: () => undefined,
      now: () => new Date(),
      request: (method, p, opts = {}) => import('../lifecycle/support').then((m) => m.httpsRequest(`${server.url}${p}`, method, { ...opts, ca: server.ca.certPem })),
      admin: async (method, p, body) => {
        const m = await import('../lifecycle/support');
        const r = await m.httpsRequest(`${server.url}${p}`, method, { body, ca: server.ca.certPem, headers: { authorization: 'Bearer kms-move-admin-token-0123456789' } });
        if (r.status >= 300) throw new Error(`${r.status} ${r.body.toString()}`);
        return (r.body.length ? r.json() : undefined) as never;
      },
      stop: () => server.close(),
    };
    const id = await joinWithToken(life, `kms-move-${Math.random().toString(36).slice(2)}-0123456789abcdef`);
    expect(new X509Certificate(id.certificate).verify(server.ca.publicKey)).toBe(true);
    expect(id.ca_certificates).toEqual([server.ca.certPem]);
  } finally {
    await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
