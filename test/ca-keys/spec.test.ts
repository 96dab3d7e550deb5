// The CA key setting: every accepted form, and a clear refusal naming the setting for the rest.

import fc from 'fast-check';
import { parseCaKeySpec } from '../../api/ca/signers/spec';

describe('parseCaKeySpec', () => {
  test('file, the default, and file:<absolute path>', () => {
    expect(parseCaKeySpec(undefined)).toEqual({ kind: 'file' });
    expect(parseCaKeySpec('')).toEqual({ kind: 'file' });
    expect(parseCaKeySpec('file')).toEqual({ kind: 'file' });
    expect(parseCaKeySpec('file:/etc/joinery/ca.key')).toEqual({ kind: 'file', path: '/etc/joinery/ca.key' });
  });

  test('awskms: key IDs, aliases and ARNs (the ARN names the region)', () => {
    expect(parseCaKeySpec('awskms:1234abcd-12ab-34cd-56ef-1234567890ab')).toEqual({ kind: 'awskms', keyId: '1234abcd-12ab-34cd-56ef-1234567890ab' });
    expect(parseCaKeySpec('awskms:mrk-1234abcd12ab34cd56ef1234567890ab')).toEqual({ kind: 'awskms', keyId: 'mrk-1234abcd12ab34cd56ef1234567890ab' });
    expect(parseCaKeySpec('awskms:alias/joinery-ca')).toEqual({ kind: 'awskms', keyId: 'alias/joinery-ca' });
    const arn = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    expect(parseCaKeySpec(`awskms:${arn}`)).toEqual({ kind: 'awskms', keyId: arn, region: 'eu-west-1' });
    expect(parseCaKeySpec('awskms:arn:aws-us-gov:kms:us-gov-west-1:111122223333:alias/ca')).toMatchObject({ region: 'us-gov-west-1' });
  });

  test('pkcs11: an RFC 7512 URI with percent-encoding, module-path and pin-source', () => {
    const spec = parseCaKeySpec('pkcs11:token=My%20Token;object=ca-key;id=%01%02;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/joinery/pin');
    expect(spec).toMatchObject({
      kind: 'pkcs11',
      uri: { token: 'My Token', object: 'ca-key', id: Buffer.from([1, 2]), modulePath: '/usr/lib/softhsm/libsofthsm2.so', pinFile: '/etc/joinery/pin' },
    });
    expect(parseCaKeySpec('pkcs11:slot-id=3;id=%AB?pin-source=/run/pin&module-path=/m.so')).toMatchObject({ uri: { slotId: 3, pinFile: '/run/pin' } });
    expect(parseCaKeySpec('pkcs11:object=%E2%9C%93?module-path=/m.so&pin-source=file:///run/pin')).toMatchObject({ uri: { object: '✓', pinFile: '/run/pin' } });
  });

  test.each([
    ['kms:alias/x', /JOINERY_CA_KEY="kms:alias\/x": unknown CA key kind "kms"/],
    ['file:relative/ca.key', /file: needs an absolute path/],
    ['awskms:', /awskms: needs a KMS key ID/],
    ['awskms:my key', /awskms: needs a KMS key ID/],
    ['awskms:arn:aws:kms:us-east-1:1234:key/x', /awskms: needs/],
    ['pkcs11:object=ca?pin-source=file:/p', /needs module-path=/],
    ['pkcs11:object=ca?module-path=/m.so', /needs pin-source=file:/],
    ['pkcs11:object=ca?module-path=/m.so&pin-value=1234', /pin-value.*pin-source=file:/],
    ['pkcs11:object=ca?module-name=softhsm2&pin-source=file:/p', /module-name.*module-path/],
    ['pkcs11:token=t?module-path=/m.so&pin-source=file:/p', /object=<label> or id=/],
    ['pkcs11:object=ca;type=cert?module-path=/m.so&pin-source=file:/p', /type=cert names no signing key/],
    ['pkcs11:object=ca;colour=red?module-path=/m.so&pin-source=file:/p', /unknown PKCS#11 URI path attribute "colour"/],
    ['pkcs11:object=ca;object=cb?module-path=/m.so&pin-source=file:/p', /"object" appears twice/],
    ['pkcs11:object=%zz?module-path=/m.so&pin-source=file:/p', /malformed percent-encoding/],
    ['pkcs11:object=ca;slot-id=x?module-path=/m.so&pin-source=file:/p', /slot-id must be a decimal number/],
    ['pkcs11:object=ca?module-path=/m.so&pin-source=file:pin', /pin-source must be file:<absolute path>/],
    ['pkcs11:object?module-path=/m.so&pin-source=file:/p', /"object" in the path is not name=value/],
    ['pkcs11:object=ca?module-path=/m.so&pin-source=file://otherhost/pin', /pin-source must be file:<absolute path>/],
    ['pkcs11:object=ca?module-path=/m.so&pin-source=file:/p%00x', /pin-source must be file:<absolute path>/],
  ])('refuses %s', (value, message) => {
    expect(() => parseCaKeySpec(value)).toThrow(message);
  });

  test('any input either parses or is refused naming the setting; nothing else is thrown', () => {
    const pieces = fc.constantFrom('file', 'awskms', 'pkcs11', ':', ';', '?', '&', '=', '%', '%4', '%41', '/', 'alias/', 'arn:aws:kms:', 'object', 'id', 'token', 'module-path', 'pin-source', 'file:/', 'x', ' ', '\0', '\n');
    fc.assert(
      fc.property(fc.array(fc.oneof(pieces, fc.string({ maxLength: 4 })), { maxLength: 12 }), (parts) => {
        const value = parts.join('');
        try {
          const spec = parseCaKeySpec(value);
          expect(['file', 'awskms', 'pkcs11']).toContain(spec.kind);
        } catch (err) {
          expect(err).toBeInstanceOf(Error);
          expect((err as Error).message.startsWith(`JOINERY_CA_KEY=${JSON.stringify(value.trim())}: `)).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('the error names the setting it was given as', () => {
    expect(() => parseCaKeySpec('nope', '--ca-key')).toThrow(/^--ca-key="nope": /);
  });
});
