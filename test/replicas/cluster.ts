// Two real Joinery processes on one PostgreSQL database, as an operator runs replicas: the first
// creates the cluster CA; its ca.key/ca.crt are copied (0600) into the second's data directory;
// both share the admin credential and every other setting.

import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createDatabase, startPostgres, type TestPostgres } from '../support/postgres';
import { startTestServer, type TestServer } from '../support/server';

export interface Replicas {
  pg: TestPostgres;
  a: TestServer;
  b: TestServer;
  stop(): Promise<void>;
}

export async function startReplicas(env: Record<string, string> = {}): Promise<Replicas> {
  // No skip when PostgreSQL is missing: startPostgres throws and the suite fails.
  const pg = await startPostgres();
  const started: TestServer[] = [];
  const dataDirB = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-replica-b-'));
  try {
    const shared = { ...env, JOINERY_DATABASE_URL: await createDatabase(pg, 'replicas'), JOINERY_ADMIN_TOKEN: randomBytes(24).toString('hex') };
    const a = await startTestServer({ env: shared });
    started.push(a);
    for (const file of ['ca.key', 'ca.crt']) {
      fs.copyFileSync(path.join(a.dataDir, file), path.join(dataDirB, file));
      fs.chmodSync(path.join(dataDirB, file), 0o600);
    }
    const b = await startTestServer({ env: shared, dataDir: dataDirB });
    started.push(b);
    return {
      pg,
      a,
      b,
      async stop() {
        await Promise.all(started.map((s) => s.stop()));
        fs.rmSync(dataDirB, { recursive: true, force: true });
        await pg.stop();
      },
    };
  } catch (e) {
    await Promise.all(started.map((s) => s.stop()));
    fs.rmSync(dataDirB, { recursive: true, force: true });
    await pg.stop();
    throw e;
  }
}
