// The export survives kill -9: 1,000 joins sent concurrently, the server killed part-way, restarted
// on the same data; afterwards the file holds every event exactly once (ids 1..N, in order), every
// acknowledged join among them, each line valid against the shipped schema, and no token secret.

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { startTestServer, type TestServer } from '../support/server';
import { bundleValidator, postJson, publicKeyPem, readExport, waitFor } from './support';

jest.setTimeout(300_000);

const JOINS = 1000;
const CONCURRENCY = 16;
const KILL_AFTER = 400;

let dir: string;
const servers: TestServer[] = [];
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-audit-crash-'));
});
afterAll(async () => {
  for (const s of servers) await s.stop({ keepDataDir: true }).catch(() => undefined);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('kill -9 during 1,000 joins: every acknowledged join exported exactly once, valid, with no secret', async () => {
  const dataDir = path.join(dir, 'data');
  const file = path.join(dir, 'audit.jsonl');
  const adminToken = randomBytes(24).toString('hex');
  const env = { JOINERY_ADMIN_TOKEN: adminToken, JOINERY_AUDIT_EXPORT: `file:${file}`, JOINERY_JOIN_RATE_PER_MINUTE: '0' };
  const start = async () => {
    const s = await startTestServer({ dataDir, env });
    servers.push(s);
    return s;
  };
  let server = await start();

  // Five token-method tokens (their names are the secrets), and secrets of no token at all.
  const secrets = Array.from({ length: 5 }, () => randomBytes(16).toString('hex'));
  const bogus = Array.from({ length: 3 }, () => randomBytes(16).toString('hex'));
  for (const name of secrets) await server.client().createToken({ version: 'v2', metadata: { name }, spec: { roles: ['Node'], join_method: 'token' } });

  const acknowledged = new Set<string>();
  let refused = 0;
  let attempted = 0;
  let killed = false;
  const ca = fs.readFileSync(server.caFile, 'utf8');

  /** Sends attempts [from, to) against `s` with bounded concurrency; stops a worker at the first connection failure. */
  async function send(s: TestServer, to: number, onAck?: () => void): Promise<void> {
    const agent = new https.Agent({ keepAlive: true, maxSockets: CONCURRENCY, ca });
    try {
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (attempted < to) {
            const i = attempted++;
            const secret = i % 10 === 9 ? bogus[i % bogus.length] : secrets[i % secrets.length];
            try {
              const r = await postJson(agent, `${s.url}/v1/join/token`, { token_name: secret, role: 'Node', public_key: publicKeyPem() });
              if (r.status === 200) {
                acknowledged.add(r.json.host_id);
                onAck?.();
              } else {
                expect(r.json.error.code).toBe('token_not_found');
                refused++;
              }
            } catch {
              return; // the server is gone: this attempt was never acknowledged
            }
          }
        }),
      );
    } finally {
      agent.destroy();
    }
  }

  await send(server, JOINS, () => {
    if (!killed && acknowledged.size >= KILL_AFTER) {
      killed = true;
      void server.kill();
    }
  });
  expect(killed).toBe(true);
  expect(attempted).toBeLessThan(JOINS); // the kill really interrupted the run

  server = await start();
  await send(server, JOINS);
  expect(acknowledged.size + refused).toBeGreaterThan(JOINS - 2 * CONCURRENCY);

  // The export catches up with the newest event the database holds.
  const newest = async () => (await server.client().request<{ events: { id: number }[] }>('GET', '/v1/audit?limit=1')).events[0].id;
  const last = await newest();
  await waitFor(() => {
    const lines = readExport(file);
    return lines.length > 0 && lines[lines.length - 1].id >= last;
  }, 120_000, `the export to reach event ${last}`);

  const lines = readExport(file);
  // Every event exactly once, in id order, none missing (SQLite ids have no gaps).
  expect(lines.map((l) => l.id)).toEqual(Array.from({ length: lines.length }, (_, i) => i + 1));
  const joined = new Map<string, number>();
  for (const l of lines) if (l.type === 'join.token' && l.success) joined.set(l.hostId!, (joined.get(l.hostId!) ?? 0) + 1);
  for (const hostId of acknowledged) expect(joined.get(hostId)).toBe(1);
  expect(lines.filter((l) => l.type === 'join.token' && !l.success).length).toBeGreaterThanOrEqual(refused);

  const validate = bundleValidator();
  const invalid = lines.map((l) => [l.id, validate(l)]).filter(([, e]) => e !== undefined);
  expect(invalid).toEqual([]);
  expect(lines.every((l) => !l.eventCode.startsWith('JX'))).toBe(true);

  const text = fs.readFileSync(file, 'utf8');
  const logs = servers.map((s) => s.output()).join('\n');
  for (const secret of [...secrets, ...bogus]) {
    expect(text).not.toContain(secret);
    expect(logs).not.toContain(secret);
  }
  expect(text).not.toContain(adminToken);
});
