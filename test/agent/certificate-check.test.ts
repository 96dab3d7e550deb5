// A certificate from the server is checked against this host's key and the CA it trusts before
// anything is written, by the agent and by `joinery join` (even with --insecure, an impostor's
// certificate for another key, or one that does not chain to the CAs it returned, is refused).

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CertificateCheckError, checkIssuedCertificate } from '../../client/trust';
import { caught } from '../support/caught';
import { refusal, startFakeJoinery, type FakeRequest } from './support/fake-joinery';
import { runJoinery } from './support/run';
import { createTestCa, newKeyPair, type TestCa } from './support/test-pki';

let ca: TestCa;
let other: TestCa;
let tmp: string;
const MIN = 60_000;

beforeAll(async () => {
  [ca, other] = await Promise.all([createTestCa('trusted'), createTestCa('other')]);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-certcheck-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const valid = { notBefore: new Date(Date.now() - MIN), notAfter: new Date(Date.now() + 60 * MIN) };

describe('checkIssuedCertificate', () => {
  test('accepts a certificate for this key signed by the trusted CA', async () => {
    const k = newKeyPair();
    const certPem = await ca.issue({ publicKeyPem: k.publicKeyPem, cn: 'h', ...valid });
    expect(checkIssuedCertificate({ certPem, publicKeyPem: k.publicKeyPem, trustedCaPem: ca.certPem, returnedCaPems: [] }).subject).toContain('CN=h');
    // --insecure: the returned CAs are the only anchor there is.
    expect(() => checkIssuedCertificate({ certPem, publicKeyPem: k.publicKeyPem, returnedCaPems: [other.certPem, ca.certPem] })).not.toThrow();
  });

  test('refuses another CA even when the server returns that CA, if the host trusts a CA', async () => {
    const k = newKeyPair();
    const certPem = await other.issue({ publicKeyPem: k.publicKeyPem, cn: 'h', ...valid });
    const e = await caught(Promise.resolve().then(() => checkIssuedCertificate({ certPem, publicKeyPem: k.publicKeyPem, trustedCaPem: ca.certPem, returnedCaPems: [other.certPem] })), CertificateCheckError);
    expect(e.message).toMatch(/not signed by the CA this host trusts/);
  });

  test('with --insecure, refuses a certificate that does not verify against the returned CAs', async () => {
    const k = newKeyPair();
    const certPem = await other.issue({ publicKeyPem: k.publicKeyPem, cn: 'h', ...valid });
    expect(() => checkIssuedCertificate({ certPem, publicKeyPem: k.publicKeyPem, returnedCaPems: [ca.certPem] })).toThrow(/not signed by the CA certificates the server returned/);
    expect(() => checkIssuedCertificate({ certPem, publicKeyPem: k.publicKeyPem, returnedCaPems: [] })).toThrow(CertificateCheckError);
  });

  test('refuses a certificate for another key, an expired one, and garbage', async () => {
    const k = newKeyPair();
    const forOther = await ca.issue({ publicKeyPem: newKeyPair().publicKeyPem, cn: 'h', ...valid });
    expect(() => checkIssuedCertificate({ certPem: forOther, publicKeyPem: k.publicKeyPem, trustedCaPem: ca.certPem, returnedCaPems: [] })).toThrow(/for another key/);
    const expired = await ca.issue({ publicKeyPem: k.publicKeyPem, cn: 'h', notBefore: new Date(Date.now() - 2 * MIN), notAfter: new Date(Date.now() - MIN) });
    expect(() => checkIssuedCertificate({ certPem: expired, publicKeyPem: k.publicKeyPem, trustedCaPem: ca.certPem, returnedCaPems: [] })).toThrow(/expired at/);
    expect(() => checkIssuedCertificate({ certPem: 'nope', publicKeyPem: k.publicKeyPem, trustedCaPem: ca.certPem, returnedCaPems: [] })).toThrow(/cannot be parsed/);
  });
});

describe('joinery join refuses what an impostor returns', () => {
  const answers: [string, (r: FakeRequest) => Promise<unknown>][] = [
    ['a certificate for another key', async () => ({ host_id: 'h', certificate: await ca.issue({ publicKeyPem: newKeyPair().publicKeyPem, cn: 'h', ...valid }), ca_certificates: [ca.certPem] })],
    ['a certificate from another CA', async (r) => ({ host_id: 'h', certificate: await other.issue({ publicKeyPem: String(r.body.public_key), cn: 'h', ...valid }), ca_certificates: [other.certPem] })],
  ];

  test.each(answers)('with --ca-pin: %s', async (_label, answer) => {
    const server = await startFakeJoinery(ca, async (r) => (r.path === '/v1/join/token' ? { status: 200, body: await answer(r) } : refusal(404, 'nf')));
    try {
      const dataDir = path.join(tmp, `pin-${Math.random().toString(16).slice(2)}`);
      const r = await runJoinery(['join', '--method', 'token', '--token', 'x'.repeat(32), '--server', server.addr, '--ca-pin', ca.pin, '--data-dir', dataDir]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^error: the server returned a certificate .*; nothing was written\n$/);
      expect(fs.existsSync(dataDir) ? fs.readdirSync(dataDir) : []).toEqual([]);
    } finally {
      await server.stop();
    }
  });

  test('with --insecure: a certificate for another key is refused', async () => {
    const server = await startFakeJoinery(ca, async (r) => ({ status: 200, body: await answers[0][1](r) }));
    try {
      const dataDir = path.join(tmp, 'insecure-1');
      const r = await runJoinery(['join', '--method', 'token', '--token', 'x'.repeat(32), '--server', server.addr, '--insecure', '--data-dir', dataDir]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/for another key than this host's; nothing was written/);
      expect(fs.existsSync(dataDir)).toBe(false);
    } finally {
      await server.stop();
    }
  });

  test('with --insecure: a certificate that does not chain to the returned CA is refused', async () => {
    const server = await startFakeJoinery(ca, async (r) => ({ status: 200, body: { host_id: 'h', certificate: await other.issue({ publicKeyPem: String(r.body.public_key), cn: 'h', ...valid }), ca_certificates: [ca.certPem] } }));
    try {
      const dataDir = path.join(tmp, 'insecure-2');
      const r = await runJoinery(['join', '--method', 'token', '--token', 'x'.repeat(32), '--server', server.addr, '--insecure', '--data-dir', dataDir]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/not signed by the CA certificates the server returned; nothing was written/);
      expect(fs.existsSync(dataDir)).toBe(false);
    } finally {
      await server.stop();
    }
  });
});
