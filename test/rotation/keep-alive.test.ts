// A TLS connection outlives the trust it was verified with: the server swaps its trusted CAs for
// new connections only, so a keep-alive connection opened while both CAs were trusted still says
// `authorized` after standby. A certificate of the dropped CA must not renew on it.

import * as fs from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import { joinWithToken, startLifecycleServer, type LifecycleServer } from '../lifecycle/support';

jest.mock('../../api/version', () => ({ VERSION: '0.0.0-test' }));
jest.setTimeout(60_000);

let s: LifecycleServer;
beforeAll(async () => {
  s = await startLifecycleServer({ JOINERY_HOST_CERT_TTL_SECONDS: '60', JOINERY_KEEP_ALIVE_TIMEOUT_MS: '30000' });
});
afterAll(() => s?.stop());

function send(agent: https.Agent, ca: string, method: string, p: string, body?: unknown): Promise<{ status: number; json: any; reused: boolean }> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = https.request(`${s.url}${p}`, { method, agent, ca, headers: payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString() || 'null'), reused: req.reusedSocket }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

test('an old-CA certificate on a connection opened before standby is refused as rotated after it', async () => {
  const host = await joinWithToken(s, 'keep-alive-host-token-0123456789');
  const oldPin = s.server.ca.pin;
  const init = await s.server.trust.rotate({ manual: true }, new Date());
  const both = s.caPem + init.cas[1].certificate;
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, cert: host.certificate, key: host.key.privatePem });
  try {
    // The connection is verified now, while the old CA is trusted.
    expect((await send(agent, both, 'GET', '/v1/ca')).status).toBe(200);
    for (const phase of ['update_clients', 'update_servers', 'standby'] as const) await s.server.trust.rotate({ phase }, new Date());
    const r = await send(agent, both, 'POST', '/v1/renew', {});
    expect(r.reused).toBe(true);
    expect([r.status, r.json.error?.code]).toEqual([403, 'certificate_untrusted']);
    expect(r.json.error.message).toMatch(new RegExp(`issued by the CA ${oldPin}, which this cluster no longer trusts: the cluster CA was rotated`));
  } finally {
    agent.destroy();
  }
});

test('ca.crt is replaced whole at each change: a CLI that opened it before reads the complete old bundle, never an empty file', async () => {
  const file = path.join(s.dataDir, 'ca.crt');
  const before = fs.readFileSync(file, 'utf8');
  // Another name for the file as it is now: written in place, it would change (or be empty) under a reader.
  fs.linkSync(file, `${file}.reader`);
  const init = await s.server.trust.rotate({ manual: true }, new Date());
  expect(fs.readFileSync(`${file}.reader`, 'utf8')).toBe(before);
  expect(fs.readFileSync(file, 'utf8')).toBe(init.cas.map((c) => c.certificate).join(''));
  expect(fs.readdirSync(s.dataDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  await s.server.trust.rotate({ rollback: true }, new Date());
  await s.server.trust.rotate({ phase: 'standby' }, new Date());
});
