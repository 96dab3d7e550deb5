// Review finding: the CRL cannot be built once a few thousand serials are revoked (one host that
// renewed a few thousand times and was then removed is enough). @peculiar/x509 re-parses the CRL
// it just generated with asn1js's default limit of 10,000 ASN.1 nodes, so createCrl throws and
// GET /v1/crl answers 500 for every relying party until those certificates expire.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ClusterCA } from '../../api/ca/ca';
import type { Store } from '../../api/store/types';

function memoryStore(): Store {
  const settings = new Map<string, string>();
  return {
    settings: {
      get: async (k: string) => settings.get(k),
      setIfAbsent: async (k: string, v: string) => {
        if (!settings.has(k)) settings.set(k, v);
        return settings.get(k)!;
      },
    },
  } as unknown as Store;
}

let dir: string;
let ca: ClusterCA;
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-review-crl-'));
  ca = await ClusterCA.loadOrCreate(dir, 'review', memoryStore());
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('a CRL with 5,000 revoked serials can be built and read back', async () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const entries = Array.from({ length: 5000 }, (_, i) => ({ serial: (0x10000000 + i).toString(16).padStart(32, '1'), revokedAt: now }));
  const crl = await ca.createCrl({ entries, thisUpdate: now, nextUpdate: new Date(now.getTime() + 3600_000), number: 1n });
  expect(crl.der.length).toBeGreaterThan(0);
  const text = execFileSync('openssl', ['crl', '-inform', 'DER', '-noout', '-text'], { input: crl.der, maxBuffer: 64 << 20 }).toString();
  expect(text.match(/Serial Number:/g)?.length).toBe(5000);
}, 60_000);
