// P-256 and Ed25519 agent keys are imported from a JWK built from their DER (cheaper than
// OpenSSL's SPKI decoder). The result must be exactly what the decoder gives: the same key for
// every valid encoding, a refusal (invalid_public_key) wherever the decoder refuses.

import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { parseAgentPublicKey } from '../../api/join/public-key';
import { JoinError } from '../../api/join/errors';

const pemOf = (der: Buffer) => `-----BEGIN PUBLIC KEY-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END PUBLIC KEY-----\n`;
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }) as Buffer;
const ed = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }) as Buffer;
// The field prime of P-256: a coordinate equal to it (or above) is not a field element.
const P256_PRIME = Buffer.from('ffffffff00000001000000000000000000000000ffffffffffffffffffffffff', 'hex');

function viaDecoder(der: Buffer): KeyObject | undefined {
  try {
    return createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch {
    return undefined;
  }
}

function viaParser(der: Buffer): KeyObject | 'refused' {
  try {
    return parseAgentPublicKey(pemOf(der));
  } catch (e) {
    expect(e).toBeInstanceOf(JoinError);
    expect((e as JoinError).code).toBe('invalid_public_key');
    return 'refused';
  }
}

/** The parser agrees with OpenSSL's decoder on this DER. */
function agrees(der: Buffer): void {
  const expected = viaDecoder(der);
  const got = viaParser(der);
  if (expected === undefined) expect(got).toBe('refused');
  else {
    expect(got).not.toBe('refused');
    expect((got as KeyObject).equals(expected)).toBe(true);
  }
}

afterEach(() => jest.restoreAllMocks());

test('P-256 and Ed25519 keys are read without the SPKI decoder, and equal to what it reads', () => {
  // The module object itself (an `import * as` namespace would be a copy the code under test never sees).
  const spy = jest.spyOn(require('node:crypto') as typeof import('node:crypto'), 'createPublicKey');
  const keys = [p256, ed].map((der) => parseAgentPublicKey(pemOf(der)));
  expect(spy.mock.calls.map((c) => (c[0] as { format?: string }).format)).toEqual(['jwk', 'jwk']);
  spy.mockRestore();
  expect(keys[0].equals(createPublicKey({ key: p256, format: 'der', type: 'spki' }))).toBe(true);
  expect(keys[1].equals(createPublicKey({ key: ed, format: 'der', type: 'spki' }))).toBe(true);
});

test('a P-256 point off the curve, at a coordinate not below the prime, or all zero is refused', () => {
  const header = p256.subarray(0, 27);
  const offCurve = Buffer.from(p256);
  offCurve[40] ^= 1;
  const xIsPrime = Buffer.concat([header, P256_PRIME, p256.subarray(59)]);
  const yIsPrime = Buffer.concat([header, p256.subarray(27, 59), P256_PRIME]);
  const zeros = Buffer.concat([header, Buffer.alloc(64)]);
  const ones = Buffer.concat([header, Buffer.alloc(64, 0xff)]);
  for (const der of [offCurve, xIsPrime, yIsPrime, zeros, ones]) {
    expect(viaParser(der)).toBe('refused');
    agrees(der);
  }
});

test('any one byte changed in a P-256 or Ed25519 key: the same answer as the decoder', () => {
  for (const der of [p256, ed]) {
    fc.assert(
      fc.property(fc.nat({ max: der.length - 1 }), fc.integer({ min: 1, max: 255 }), (i, x) => {
        const copy = Buffer.from(der);
        copy[i] ^= x;
        agrees(copy);
      }),
      { numRuns: 300, seed: 11 },
    );
  }
});

test('random coordinates for P-256 and Ed25519: the same answer as the decoder', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (xy, k) => {
      agrees(Buffer.concat([p256.subarray(0, 27), Buffer.from(xy)]));
      agrees(Buffer.concat([ed.subarray(0, 12), Buffer.from(k)]));
    }),
    { numRuns: 200, seed: 12 },
  );
});
