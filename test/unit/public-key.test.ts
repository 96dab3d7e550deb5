// The agent's public key: exactly one SPKI PEM block of an accepted type with sane parameters.
// Each refusal is `invalid_public_key` with a message saying what was sent instead.

import { createPublicKey, generateKeyPairSync, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import fc from 'fast-check';
import { parseAgentPublicKey } from '../../api/join/public-key';
import { parseAgentPublicKey as fromAdmit } from '../../api/join/admit';
import { JoinError } from '../../api/join/errors';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string;
const rsaJwk = rsa.publicKey.export({ format: 'jwk' });
const ecPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
const ec384Pem = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
const edPem = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }) as string;

const b64u = (n: bigint) => {
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  return Buffer.from(hex, 'hex').toString('base64url');
};
const big = (s: string | undefined) => BigInt(`0x${Buffer.from(String(s), 'base64url').toString('hex')}`);
/** An RSA SPKI with any modulus and exponent (OpenSSL imports public parameters unchecked). */
const rsaSpki = (n: bigint, e: bigint) => createPublicKey({ key: { kty: 'RSA', n: b64u(n), e: b64u(e) }, format: 'jwk' }).export({ type: 'spki', format: 'pem' }) as string;
const N = big(rsaJwk.n);
const pemOf = (label: string, der: Buffer) => `-----BEGIN ${label}-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END ${label}-----\n`;

function refusal(pem: unknown): string {
  try {
    parseAgentPublicKey(pem);
  } catch (e) {
    expect(e).toBeInstanceOf(JoinError);
    expect([(e as JoinError).status, (e as JoinError).code]).toEqual([400, 'invalid_public_key']);
    return (e as JoinError).message;
  }
  throw new Error(`accepted: ${String(pem).slice(0, 80)}`);
}

describe('accepted keys', () => {
  test.each([
    ['RSA 2048', rsaPem, 'rsa'],
    ['EC P-256', ecPem, 'ec'],
    ['EC P-384', ec384Pem, 'ec'],
    ['Ed25519', edPem, 'ed25519'],
    ['white space around the block and CRLF lines', `\n  ${rsaPem.replace(/\n/g, '\r\n')}  \n`, 'rsa'],
    ['RSA 8192-bit modulus, exponent 65537', rsaSpki((1n << 8191n) + 1n, 65537n), 'rsa'],
    ['RSA with a larger odd exponent', rsaSpki(N, 65539n), 'rsa'],
  ])('%s', (_name, pem, type) => {
    expect(parseAgentPublicKey(pem).asymmetricKeyType).toBe(type);
  });

  test('admit.ts keeps exporting the same function', () => {
    expect(fromAdmit).toBe(parseAgentPublicKey);
  });
});

describe('refused keys, each with a precise message', () => {
  test('a private key (PKCS#8 and PKCS#1) is refused, not turned into its public key', () => {
    expect(refusal(rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }))).toMatch(/private key/);
    expect(refusal(rsa.privateKey.export({ type: 'pkcs1', format: 'pem' }))).toMatch(/private key/);
  });

  test('a certificate is refused', async () => {
    const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
    const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.createSelfSigned({ serialNumber: '01', name: 'CN=test', notBefore: new Date(0), notAfter: new Date(2_000_000_000_000), keys, signingAlgorithm: alg }, webcrypto as unknown as Crypto);
    expect(refusal(cert.toString('pem'))).toMatch(/certificate/);
  });

  test('a PKCS#1 RSA public key is refused with how to convert it', () => {
    expect(refusal(rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }))).toMatch(/PKCS#1.*BEGIN PUBLIC KEY/);
  });

  test('two blocks, junk before, junk after', () => {
    expect(refusal(rsaPem + ecPem)).toMatch(/exactly one PEM block \(found 2\)/);
    expect(refusal(`junk\n${rsaPem}`)).toMatch(/before the PEM block/);
    expect(refusal(`${rsaPem}junk`)).toMatch(/after the PEM block/);
  });

  test('bytes after the DER inside the block, and non-canonical base64', () => {
    const der = rsa.publicKey.export({ type: 'spki', format: 'der' }) as Buffer;
    expect(refusal(pemOf('PUBLIC KEY', Buffer.concat([der, Buffer.from([0, 0])])))).toMatch(/single DER/);
    expect(refusal(rsaPem.replace('-----END', '=\n-----END'))).toMatch(/base64|well-formed/);
    expect(refusal(rsaPem.replace(/\n(.)/, '\n \t$1'))).toMatch(/well-formed/);
  });

  test('RSA exponent 1, an even exponent, a small exponent', () => {
    expect(refusal(rsaSpki(N, 1n))).toMatch(/public exponent 1; the exponent must be odd and at least 65537/);
    expect(refusal(rsaSpki(N, 65536n))).toMatch(/exponent 65536/);
    expect(refusal(rsaSpki(N, 3n))).toMatch(/exponent 3/);
    expect(refusal(rsaSpki(N, 65538n))).toMatch(/must be odd/);
  });

  test('RSA with an even modulus', () => {
    expect(refusal(rsaSpki(N + 1n, 65537n))).toMatch(/even modulus/);
  });

  test('RSA sizes outside 2048-8192 bits (a 47,000-bit modulus among them)', () => {
    expect(refusal(rsaSpki((1n << 2046n) + 1n, 65537n))).toMatch(/2047-bit RSA key; RSA keys must have 2048 to 8192 bits/);
    expect(refusal(rsaSpki((1n << 8192n) + 1n, 65537n))).toMatch(/8193-bit/);
    expect(refusal(rsaSpki((1n << 47000n) + 1n, 65537n))).toMatch(/47001-bit/);
  });

  test('other types and curves', () => {
    expect(refusal(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey.export({ type: 'spki', format: 'pem' }))).toMatch(/curve secp256k1/);
    expect(refusal(generateKeyPairSync('x25519').publicKey.export({ type: 'spki', format: 'pem' }))).toMatch(/type x25519 is not accepted/);
  });

  test('missing, empty, oversized, not PEM', () => {
    expect(refusal(undefined)).toMatch(/required/);
    expect(refusal('  ')).toMatch(/required/);
    expect(refusal(42)).toMatch(/must be a string .*got a number/);
    expect(refusal('not a key')).toMatch(/not a PEM-encoded public key/);
    expect(refusal(`${rsaPem}${' '.repeat(9000)}`)).toMatch(/longer than 8192/);
  });
});

describe('fuzz: whatever arrives, the answer is a key of an accepted type or invalid_public_key', () => {
  const RUNS = { numRuns: 200 };
  function outcome(input: unknown): void {
    try {
      const key = parseAgentPublicKey(input);
      expect(['rsa', 'ec', 'ed25519']).toContain(key.asymmetricKeyType);
    } catch (e) {
      if (!(e instanceof JoinError)) throw new Error(`threw a non-refusal: ${String(e)}`, { cause: e });
      expect([e.status, e.code]).toEqual([400, 'invalid_public_key']);
    }
  }

  test('arbitrary strings and values', () => {
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 2000 }), fc.anything()), outcome), RUNS);
  });

  test('arbitrary bytes wrapped as a PUBLIC KEY block', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 1200 }), (b) => outcome(pemOf('PUBLIC KEY', Buffer.from(b)))), RUNS);
  });

  test('a valid key with one byte of its DER changed is refused or still a valid key', () => {
    const der = rsa.publicKey.export({ type: 'spki', format: 'der' }) as Buffer;
    fc.assert(
      fc.property(fc.nat({ max: der.length - 1 }), fc.integer({ min: 1, max: 255 }), (i, x) => {
        const copy = Buffer.from(der);
        copy[i] ^= x;
        outcome(pemOf('PUBLIC KEY', copy));
      }),
      RUNS,
    );
  });

  test('a valid key with text spliced in anywhere is refused, or read as exactly the same key', () => {
    const original = createPublicKey(ecPem).export({ type: 'spki', format: 'der' });
    fc.assert(
      fc.property(fc.nat({ max: ecPem.length }), fc.oneof(fc.string({ minLength: 1, maxLength: 20 }), fc.constantFrom('\n', ' ', 'A', '=', '-----')), (i, junk) => {
        const pem = ecPem.slice(0, i) + junk + ecPem.slice(i);
        let key;
        try {
          key = parseAgentPublicKey(pem);
        } catch (e) {
          expect((e as JoinError).code).toBe('invalid_public_key');
          return;
        }
        expect(key.export({ type: 'spki', format: 'der' }).equals(original)).toBe(true);
      }),
      RUNS,
    );
  });
});
