// Property: whatever arrives as `iid`, the verifier either returns the identity AWS signed or
// refuses with a 4xx JoinError carrying a code. It never throws anything else.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { verifyInstanceIdentity } from '../../api/join/ec2/identity-document';
import { Ec2TrustStore } from '../../api/join/ec2/trust-store';
import { JoinError } from '../../api/join/errors';
import { createIidSigner, identityDocument } from '../support/iid-test-ca';
import { VECTORS_FILE } from '../support/aws-vectors';


const real = JSON.parse(fs.readFileSync(VECTORS_FILE, 'utf8')).vectors[0] as { iid_rsa2048: string; accountId: string; instanceId: string };

let store: Ec2TrustStore;
let samples: { iid: Buffer; accountId: string; instanceId: string }[];
let dir: string;

beforeAll(async () => {
  const signer = await createIidSigner('fuzz');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-fuzz-'));
  store = Ec2TrustStore.load([{ region: 'us-west-2', file: signer.writeCert(dir, 'signer.pem') }]);
  const fields = { accountId: '111111111111', instanceId: 'i-0123456789abcdef0', region: 'us-west-2', pendingTime: '2026-01-02T03:04:05Z' };
  samples = [
    { iid: Buffer.from(real.iid_rsa2048, 'base64'), accountId: real.accountId, instanceId: real.instanceId },
    { iid: Buffer.from(await signer.sign(identityDocument(fields), { ber: true }), 'base64'), ...fields },
    { iid: Buffer.from(await signer.sign(identityDocument(fields)), 'base64'), ...fields },
  ];
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs the verifier and checks the outcome is one of the two allowed ones. */
async function outcome(input: unknown, original?: { accountId: string; instanceId: string }): Promise<void> {
  let result: Awaited<ReturnType<typeof verifyInstanceIdentity>> | undefined;
  try {
    result = await verifyInstanceIdentity(input, store);
  } catch (e) {
    if (!(e instanceof JoinError)) throw new Error(`verifier threw a non-refusal: ${String(e)}`, { cause: e });
    expect(e.status).toBeGreaterThanOrEqual(400);
    expect(e.status).toBeLessThan(500);
    expect(e.code).toMatch(/^[a-z0-9_]+$/);
    return;
  }
  // Accepted only when the signed identity is exactly what was signed.
  expect(original).toBeDefined();
  expect({ accountId: result.accountId, instanceId: result.instanceId }).toEqual({ accountId: original!.accountId, instanceId: original!.instanceId });
}

const RUNS = { numRuns: 300 };

test('arbitrary strings', async () => {
  await fc.assert(fc.asyncProperty(fc.string({ maxLength: 3000 }), (s) => outcome(s)), RUNS);
});

test('base64 of arbitrary bytes', async () => {
  await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 3000 }), (b) => outcome(Buffer.from(b).toString('base64'))), RUNS);
});

test('truncated PKCS#7', async () => {
  await fc.assert(
    fc.asyncProperty(fc.nat({ max: 2 }), fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), async (which, frac) => {
      const { iid } = samples[which];
      const cut = Math.floor(iid.length * frac);
      await outcome(iid.subarray(0, cut).toString('base64'));
    }),
    RUNS,
  );
});

test('PKCS#7 with bytes changed, inserted or removed', async () => {
  const edit = fc.record({
    kind: fc.constantFrom('set', 'xor', 'insert', 'delete'),
    at: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
    byte: fc.integer({ min: 0, max: 255 }),
  });
  await fc.assert(
    fc.asyncProperty(fc.nat({ max: 2 }), fc.array(edit, { minLength: 1, maxLength: 4 }), async (which, edits) => {
      const sample = samples[which];
      let b = Buffer.from(sample.iid);
      for (const e of edits) {
        const i = Math.floor(e.at * b.length);
        if (e.kind === 'set') b[i] = e.byte;
        else if (e.kind === 'xor') b[i] ^= e.byte || 1;
        else if (e.kind === 'insert') b = Buffer.concat([b.subarray(0, i), Buffer.from([e.byte]), b.subarray(i)]);
        else b = Buffer.concat([b.subarray(0, i), b.subarray(i + 1)]);
      }
      await outcome(b.toString('base64'), sample);
    }),
    RUNS,
  );
});

test('deeply nested indefinite-length BER', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 5000 }), async (depth) => {
      const nested = Buffer.concat([Buffer.alloc(depth * 2).fill(Buffer.from([0x30, 0x80])), Buffer.alloc(depth * 2)]);
      await outcome(nested.toString('base64').slice(0, 16_000));
    }),
    { numRuns: 30 },
  );
});
