import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApiError, type JoineryClient } from '../../client/api-client';
import { startTestServer } from '../support/server';

const token = (name: string, description = '0') => ({ version: 'v2', metadata: { name, description }, spec: { roles: ['Node'], allow: [{ aws_account: '111111111111' }] } });

test('tokens, CA and admin credential survive a restart and a kill -9', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-persist-'));
  try {
    const first = await startTestServer({ dataDir, generatedAdmin: true });
    expect(fs.statSync(path.join(dataDir, 'admin-token')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(dataDir, 'ca.key')).mode & 0o777).toBe(0o600);
    await first.client().createToken(token('survives-restart'));
    await first.stop();

    const second = await startTestServer({ dataDir, generatedAdmin: true });
    expect(second.caPin).toBe(first.caPin);
    expect(second.adminToken).toBe(first.adminToken);
    expect(second.output()).not.toContain('generated and written');
    expect((await second.client().getToken('survives-restart'))?.metadata.name).toBe('survives-restart');
    // A write acknowledged just before a crash must be there after it.
    await second.client().createToken(token('survives-kill'));
    await second.kill();

    const third = await startTestServer({ dataDir, generatedAdmin: true });
    const names = (await third.client().listTokens()).map((t) => t.metadata.name);
    expect(names).toEqual(['survives-kill', 'survives-restart']);
    await third.stop();
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a server refuses to start when its CA key is readable by others', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-perm-'));
  try {
    const s = await startTestServer({ dataDir });
    await s.stop();
    fs.chmodSync(path.join(dataDir, 'ca.key'), 0o644);
    await expect(startTestServer({ dataDir })).rejects.toThrow(/readable by others/);
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

async function increment(client: JoineryClient, name: string): Promise<number> {
  // Read-modify-write with the revision; a conflict means someone else won: read again.
  for (let attempt = 1; ; attempt++) {
    const t = (await client.getToken(name))!;
    const next = { ...token(name, String(Number(t.metadata.description) + 1)), metadata: { name, description: String(Number(t.metadata.description) + 1), revision: t.metadata.revision } };
    try {
      await client.putToken(next);
      return attempt;
    } catch (e) {
      if (e instanceof ApiError && e.status === 409 && e.code === 'revision_conflict') continue;
      throw e;
    }
  }
}

test('concurrent writers through two server processes on one database: no lost update, no SQLITE_BUSY', async () => {
  const a = await startTestServer();
  const b = await startTestServer({ dataDir: a.dataDir, env: { JOINERY_ADMIN_TOKEN: a.adminToken } });
  try {
    const clients = [a.client(), b.client()];
    await clients[0].createToken(token('counter'));
    const workers = 8;
    const each = 10;
    const attempts = await Promise.all(
      Array.from({ length: workers }, async (_, w) => {
        let n = 0;
        for (let i = 0; i < each; i++) n += await increment(clients[w % 2], 'counter');
        return n;
      }),
    );
    const final = await clients[1].getToken('counter');
    expect(Number(final!.metadata.description)).toBe(workers * each);
    // Contention really happened (some retries), yet every write landed exactly once.
    expect(attempts.reduce((x, y) => x + y, 0)).toBeGreaterThanOrEqual(workers * each);

    // Many creates at once through both servers: all stored, none surfaced as 5xx.
    const created = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => clients[i % 2].createToken(token(`bulk-${i}`))));
    expect(created.filter((r) => r.status === 'rejected')).toEqual([]);
    expect((await clients[0].listTokens()).filter((t) => t.metadata.name.startsWith('bulk-'))).toHaveLength(40);
    expect(a.output() + b.output()).not.toMatch(/SQLITE_BUSY|internal server error/);
  } finally {
    await b.stop({ keepDataDir: true });
    await a.stop();
  }
});
