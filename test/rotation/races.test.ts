// Starts that race: on one replica, and on two replicas of one database. Exactly one wins; the
// loser is told so (409 rotation_in_progress) and leaves nothing behind: no key file nobody will
// use, nothing half-written.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CaTrust } from '../../api/ca/trust';
import { startLifecycleServer, type LifecycleServer } from '../lifecycle/support';

jest.mock('../../api/version', () => ({ VERSION: '0.0.0-test' }));
jest.setTimeout(60_000);

let s: LifecycleServer;
beforeAll(async () => {
  s = await startLifecycleServer({ JOINERY_HOST_CERT_TTL_SECONDS: '60' });
});
afterAll(() => s?.stop());

const keyFiles = () => fs.readdirSync(s.dataDir).filter((f) => /^ca-.*\.key$/.test(f));

async function settle(starts: Promise<unknown>[]): Promise<{ won: number; lost: string[] }> {
  const results = await Promise.allSettled(starts);
  return {
    won: results.filter((r) => r.status === 'fulfilled').length,
    lost: results.flatMap((r) => (r.status === 'rejected' ? [String((r.reason as { code?: string }).code)] : [])),
  };
}

/** A second replica of the server's database, and a new key file (0600) made as an operator would. */
async function otherReplicaAndKey(name: string): Promise<{ other: CaTrust; key: string }> {
  const key = path.join(s.dataDir, name);
  execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
  fs.chmodSync(key, 0o600);
  return { other: await CaTrust.open({ dataDir: s.dataDir, clusterName: 'life-cluster', store: s.server.store, hostCertTtlMs: 60_000 }), key };
}

test('two starts on one replica: one rotation, one new key file', async () => {
  const { won, lost } = await settle([1, 2, 3].map(() => s.server.trust.rotate({ manual: true }, new Date())));
  expect([won, lost]).toEqual([1, ['rotation_in_progress', 'rotation_in_progress']]);
  expect(keyFiles()).toHaveLength(1);
  await s.server.trust.rotate({ rollback: true }, new Date());
  await s.server.trust.rotate({ phase: 'standby' }, new Date());
});

test('two starts on two replicas of one database: one rotation; the loser removes its key file', async () => {
  const other = await CaTrust.open({ dataDir: s.dataDir, clusterName: 'life-cluster', store: s.server.store, hostCertTtlMs: 60_000 });
  try {
    const before = keyFiles();
    const { won, lost } = await settle([s.server.trust.rotate({ manual: true }, new Date()), other.rotate({ manual: true }, new Date())]);
    expect([won, lost]).toEqual([1, ['rotation_in_progress']]);
    const made = keyFiles().filter((f) => !before.includes(f));
    expect(made).toHaveLength(1);
    await s.server.trust.refresh();
    await other.refresh();
    // Both replicas follow the one that won, and its key file is the one left.
    expect(other.view()).toEqual(s.server.trust.view());
    expect(s.server.trust.view().cas[1].pin).toBe(s.server.trust.trusted[1].pin);
    expect(s.server.trust.trusted[1].signer.describe()).toContain(made[0]);
    await s.server.trust.rotate({ rollback: true }, new Date());
    await s.server.trust.rotate({ phase: 'standby' }, new Date());
  } finally {
    await other.close();
  }
});

test('two replicas that start at once onto the same new key: both follow the certificate that won', async () => {
  const { other, key } = await otherReplicaAndKey('shared-next.key');
  try {
    const { won, lost } = await settle([s.server.trust.rotate({ manual: true, newKey: `file:${key}` }, new Date()), other.rotate({ manual: true, newKey: `file:${key}` }, new Date())]);
    expect([won, lost]).toEqual([1, ['rotation_in_progress']]);
    await s.server.trust.refresh();
    await other.refresh();
    // One new CA certificate, the row's, everywhere: in the bundles and in what each signs with.
    expect(other.bundle()).toEqual(s.server.trust.bundle());
    expect(other.trusted[1].certPem).toBe(s.server.trust.trusted[1].certPem);
    await s.server.trust.rotate({ rollback: true }, new Date());
    await s.server.trust.rotate({ phase: 'standby' }, new Date());
    // The key file was named by the operator: a lost start removes only files it made itself.
    expect(fs.existsSync(key)).toBe(true);
  } finally {
    await other.close();
  }
});

test('a replica that cannot open the new key says so in its status, and refuses to move the rotation until it can', async () => {
  const { other, key } = await otherReplicaAndKey('unreadable-next.key');
  try {
    await s.server.trust.rotate({ manual: true, newKey: `file:${key}` }, new Date());
    // On the other replica the file is "not copied yet": others could read it, so it is refused.
    fs.chmodSync(key, 0o644);
    await other.refresh();
    expect(other.view()).toMatchObject({ phase: 'standby', recorded_phase: 'init' });
    const refused = await other.rotate({ phase: 'update_clients' }, new Date()).catch((e: unknown) => e as { code: string; message: string });
    expect(refused).toMatchObject({ code: 'rotation_not_followed', message: expect.stringMatching(/cannot follow the CA rotation the database records \(phase init/) });
    fs.chmodSync(key, 0o600);
    await other.refresh();
    expect(other.view().phase).toBe('init');
    expect(other.view()).not.toHaveProperty('recorded_phase');
    expect(s.server.trust.view()).not.toHaveProperty('recorded_phase');
    await other.rotate({ rollback: true }, new Date());
    await s.server.trust.refresh();
    await s.server.trust.rotate({ phase: 'standby' }, new Date());
  } finally {
    await other.close();
  }
});

test('closing the server closes the CAs a rotation dropped, not only the trusted ones', async () => {
  const init = await s.server.trust.rotate({ manual: true }, new Date());
  const dropped = s.server.trust.trusted.find((ca) => ca.pin === init.cas[1].pin)!;
  await s.server.trust.rotate({ rollback: true }, new Date());
  await s.server.trust.rotate({ phase: 'standby' }, new Date());
  // Still open for requests already signing with it (30 s)...
  await expect(dropped.signer.sign(Buffer.from('x'))).resolves.toBeInstanceOf(Buffer);
  // ...until the server closes: a PKCS#11 module would otherwise stay initialised after it.
  await s.server.trust.close();
  await expect(dropped.signer.sign(Buffer.from('x'))).rejects.toThrow(/is closed/);
});
