// The file signer: today's ca.key (PKCS#8, 0600) behind the CaSigner interface.

import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openCaSigner } from '../../api/ca/signers';
import { rawToDerSignature } from '../../api/ca/signers/signer';
import { expectVerifiableChain } from './chain';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'file-signer-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function writeKey(file: string, mode = 0o600, curve = 'P-256'): void {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: curve });
  fs.writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode });
  fs.chmodSync(file, mode);
}

test('the data directory key signs a CA and a host certificate that openssl verifies', async () => {
  writeKey(path.join(dir, 'ca.key'));
  const signer = await openCaSigner('file', { dataDir: dir });
  expect(signer.describe()).toBe(`file ${path.join(dir, 'ca.key')}`);
  await expectVerifiableChain(signer);
  await signer.close();
  await expect(signer.sign(Buffer.from('x'))).rejects.toThrow(/closed/);
});

test('a key made by openssl elsewhere (file:<path>)', async () => {
  const file = path.join(dir, 'elsewhere.pem');
  execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file]);
  fs.chmodSync(file, 0o600);
  const signer = await openCaSigner(`file:${file}`, { dataDir: '/nonexistent' });
  await expectVerifiableChain(signer);
});

test('refuses a missing, world-readable, non-P-256 or non-key file, saying which', async () => {
  await expect(openCaSigner('file', { dataDir: dir })).rejects.toThrow(`cannot read the CA key ${path.join(dir, 'ca.key')}`);
  writeKey(path.join(dir, 'open.key'), 0o644);
  await expect(openCaSigner(`file:${dir}/open.key`, { dataDir: dir })).rejects.toThrow(/readable by others \(mode 644\); run chmod 600/);
  writeKey(path.join(dir, 'p384.key'), 0o600, 'P-384');
  await expect(openCaSigner(`file:${dir}/p384.key`, { dataDir: dir })).rejects.toThrow(/holds an EC key on secp384r1; the cluster CA needs an EC P-256 key/);
  fs.writeFileSync(path.join(dir, 'junk.key'), 'not a key', { mode: 0o600 });
  await expect(openCaSigner(`file:${dir}/junk.key`, { dataDir: dir })).rejects.toThrow(/is not a PEM or DER private key/);
  await expect(openCaSigner(`file:${dir}`, { dataDir: dir })).rejects.toThrow(/is not a regular file/);
});

test('a link to a good key is followed; a FIFO, a link to an open key, a key another user owns are refused', async () => {
  writeKey(path.join(dir, 'real.key'));
  fs.symlinkSync(path.join(dir, 'real.key'), path.join(dir, 'link.key'));
  await (await openCaSigner(`file:${dir}/link.key`, { dataDir: dir })).close();
  writeKey(path.join(dir, 'open.key'), 0o644);
  fs.symlinkSync(path.join(dir, 'open.key'), path.join(dir, 'open-link.key'));
  await expect(openCaSigner(`file:${dir}/open-link.key`, { dataDir: dir })).rejects.toThrow(/readable by others \(mode 644\)/);
  // Read without O_NONBLOCK, a FIFO with no writer would hold the server's only thread forever.
  execFileSync('mkfifo', ['-m', '600', path.join(dir, 'fifo.key')]);
  await expect(openCaSigner(`file:${dir}/fifo.key`, { dataDir: dir })).rejects.toThrow(/fifo.key is not a regular file/);
  if (process.getuid?.() === 0) {
    // Its owner could swap in a key of their own (or read this one).
    writeKey(path.join(dir, 'theirs.key'));
    fs.chownSync(path.join(dir, 'theirs.key'), 65534, 65534);
    await expect(openCaSigner(`file:${dir}/theirs.key`, { dataDir: dir })).rejects.toThrow(/belongs to uid 65534, who could replace it; it must belong to the server's user \(uid 0\) or root/);
  }
});

test('raw r || s becomes a minimal DER ECDSA-Sig-Value', () => {
  const r = Buffer.alloc(32, 0);
  r[31] = 1; // leading zeros trimmed
  const s = Buffer.alloc(32, 0xff); // high bit set: a zero byte keeps it positive
  expect(rawToDerSignature(Buffer.concat([r, s])).toString('hex')).toBe('3026' + '020101' + '022100' + 'ff'.repeat(32));
  expect(() => rawToDerSignature(Buffer.alloc(63))).toThrow(/64 bytes \(r \|\| s\), got 63/);
});
