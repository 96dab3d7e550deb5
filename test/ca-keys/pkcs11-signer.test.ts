// The PKCS#11 signer against SoftHSM2: a P-256 key on a token signs certificates openssl
// verifies; the PIN comes from a 0600 file; a lost session is reopened; every refusal says what.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { verify } from 'node:crypto';
import * as pkcs11js from 'pkcs11js';
import { openCaSigner } from '../../api/ca/signers';
import { Pkcs11Signer } from '../../api/ca/signers/pkcs11-signer';
import { parseCaKeySpec, type Pkcs11Uri } from '../../api/ca/signers/spec';
import { createSoftHsm, SOFTHSM_MODULE, type SoftHsm } from './softhsm';
import { expectVerifiableChain } from './chain';

let hsm: SoftHsm;
beforeAll(() => {
  hsm = createSoftHsm('joinery');
  hsm.addKey({ label: 'ca-key', idHex: '01' });
  hsm.addKey({ label: 'next-ca-key', idHex: '02' });
  hsm.addKey({ label: 'p384', idHex: '03', curve: 'secp384r1' });
});
afterAll(() => hsm?.remove());

const uriOf = (p: string): Pkcs11Uri => (parseCaKeySpec(hsm.uri(p)) as { uri: Pkcs11Uri }).uri;

test('a SoftHSM2 key signs a CA and a host certificate that openssl verifies', async () => {
  const signer = await openCaSigner(hsm.uri('token=joinery;object=ca-key;type=private'), { dataDir: '/nonexistent' });
  expect(signer.describe()).toBe(`pkcs11 token "joinery" object=ca-key (module ${SOFTHSM_MODULE})`);
  expect(signer.describe()).not.toContain(hsm.pin);
  await expectVerifiableChain(signer);
  await signer.close();
  await expect(signer.sign(Buffer.from('x'))).rejects.toThrow(/closed/);
});

test('by CKA_ID; concurrent signatures on one session all verify; two keys of one token side by side', async () => {
  const current = await Pkcs11Signer.open({ uri: uriOf('id=%01') });
  const next = await Pkcs11Signer.open({ uri: uriOf('token=joinery;object=next-ca-key;id=%02') });
  try {
    expect(current.publicKey.export({ format: 'jwk' })).not.toEqual(next.publicKey.export({ format: 'jwk' }));
    const data = Array.from({ length: 30 }, (_, i) => Buffer.from(`certificate ${i}`));
    const sigs = await Promise.all(data.flatMap((d) => [current.sign(d), next.sign(d)]));
    data.forEach((d, i) => {
      expect(verify('sha256', d, { key: current.publicKey, dsaEncoding: 'der' }, sigs[2 * i])).toBe(true);
      expect(verify('sha256', d, { key: next.publicKey, dsaEncoding: 'der' }, sigs[2 * i + 1])).toBe(true);
    });
  } finally {
    await next.close();
  }
  // Closing one signer leaves the module (and the other signer) working.
  const d = Buffer.from('still here');
  expect(verify('sha256', d, { key: current.publicKey, dsaEncoding: 'der' }, await current.sign(d))).toBe(true);
  await current.close();
});

test('a session lost under the signer (token reset, HSM restart) is reopened and logged in again', async () => {
  const signer = await Pkcs11Signer.open({ uri: uriOf('object=ca-key') });
  try {
    // Another handle on the same, already initialised module closes every session of the slot.
    const lib = new pkcs11js.PKCS11();
    lib.load(SOFTHSM_MODULE);
    try {
      lib.C_Initialize();
    } catch (err) {
      expect((err as pkcs11js.Pkcs11Error).code).toBe(pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED);
    }
    const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trimEnd() === 'joinery')!;
    lib.C_CloseAllSessions(slot);
    const d = Buffer.from('after the reset');
    expect(verify('sha256', d, { key: signer.publicKey, dsaEncoding: 'der' }, await signer.sign(d))).toBe(true);
  } finally {
    await signer.close();
  }
});

test('refusals say what is wrong and never show the PIN', async () => {
  await expect(Pkcs11Signer.open({ uri: uriOf('token=other;object=ca-key') })).rejects.toThrow(/no PKCS#11 token matches pkcs11:token=other;object=ca-key in .* \(tokens present: "joinery" \(slot \d+\)\)/);
  await expect(Pkcs11Signer.open({ uri: uriOf('object=missing') })).rejects.toThrow(/the PKCS#11 token has no public EC key object=missing/);
  await expect(Pkcs11Signer.open({ uri: uriOf('object=p384') })).rejects.toThrow(/is not on P-256/);
  await expect(Pkcs11Signer.open({ uri: { ...uriOf('object=ca-key'), modulePath: '/nonexistent/lib.so' } })).rejects.toThrow(/cannot load the PKCS#11 module \/nonexistent\/lib.so/);

  const wrongPin = `${hsm.dir}/wrong-pin`;
  fs.writeFileSync(wrongPin, '000000', { mode: 0o600 });
  const err = await Pkcs11Signer.open({ uri: { ...uriOf('object=ca-key'), pinFile: wrongPin } }).catch((e: unknown) => e as Error);
  expect((err as Error).message).toBe(`the PIN in ${wrongPin} is wrong for PKCS#11 token "joinery"`);

  const openPin = `${hsm.dir}/open-pin`;
  fs.writeFileSync(openPin, hsm.pin, { mode: 0o644 });
  fs.chmodSync(openPin, 0o644);
  await expect(Pkcs11Signer.open({ uri: { ...uriOf('object=ca-key'), pinFile: openPin } })).rejects.toThrow(/PIN file .* is readable by others \(mode 644\); run chmod 600/);
  await expect(Pkcs11Signer.open({ uri: { ...uriOf('object=ca-key'), pinFile: `${hsm.dir}/none` } })).rejects.toThrow(/cannot read the PKCS#11 PIN file/);
  // A FIFO (or /dev/stdin on a pipe) passed the mode check, then blocked the server in readFileSync for good.
  const fifo = `${hsm.dir}/pin-fifo`;
  execFileSync('mkfifo', ['-m', '600', fifo]);
  await expect(Pkcs11Signer.open({ uri: { ...uriOf('object=ca-key'), pinFile: fifo } })).rejects.toThrow(/PIN file .*pin-fifo is not a regular file/);
  // A link is followed (Kubernetes mounts secrets so), to a file that passes the checks.
  fs.symlinkSync(openPin, `${hsm.dir}/open-pin-link`);
  await expect(Pkcs11Signer.open({ uri: { ...uriOf('object=ca-key'), pinFile: `${hsm.dir}/open-pin-link` } })).rejects.toThrow(/readable by others \(mode 644\)/);
  fs.symlinkSync(hsm.pinFile, `${hsm.dir}/pin-link`);
  await (await Pkcs11Signer.open({ uri: { ...uriOf('object=ca-key'), pinFile: `${hsm.dir}/pin-link` } })).close();

  // The module is still usable after all those failures.
  const signer = await Pkcs11Signer.open({ uri: uriOf('object=ca-key') });
  await signer.close();
});
