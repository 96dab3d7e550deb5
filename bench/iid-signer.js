// Signs instance identity documents as PKCS#7 SignedData with a throwaway RSA-2048 certificate,
// as AWS signs them (the server trusts it through JOINERY_EC2_EXTRA_CERTS), so the bench can
// present a thousand distinct, valid EC2 identities.
const { createHash, randomBytes, webcrypto } = require('node:crypto');
const x509 = require('@peculiar/x509');
const asn1js = require('asn1js');
const pkijs = require('pkijs');

x509.cryptoProvider.set(webcrypto);
pkijs.setEngine('node', new pkijs.CryptoEngine({ name: 'node', crypto: webcrypto }));

const OID_DATA = '1.2.840.113549.1.7.1';
const OID_SIGNED_DATA = '1.2.840.113549.1.7.2';
const OID_CONTENT_TYPE = '1.2.840.113549.1.9.3';
const OID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
const RSA = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };

async function createIidSigner() {
  const keys = await webcrypto.subtle.generateKey(RSA, true, ['sign', 'verify']);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01' + randomBytes(8).toString('hex'),
    name: 'C=US, O=Joinery bench IID signer',
    notBefore: new Date(now - 24 * 3600_000),
    notAfter: new Date(now + 24 * 3600_000),
    keys,
    signingAlgorithm: RSA,
    extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
  });
  const pkiCert = pkijs.Certificate.fromBER(new Uint8Array(cert.rawData));
  return {
    certPem: cert.toString('pem') + '\n',
    async sign(fields) {
      const document = JSON.stringify({ accountId: fields.accountId, architecture: 'x86_64', availabilityZone: `${fields.region}a`, imageId: 'ami-12c6146b', instanceId: fields.instanceId, instanceType: 't3.micro', pendingTime: fields.pendingTime, privateIp: '10.0.0.10', region: fields.region, version: '2017-09-30' }, null, 2);
      const content = Buffer.from(document, 'utf8');
      const signedData = new pkijs.SignedData({
        version: 1,
        encapContentInfo: new pkijs.EncapsulatedContentInfo({ eContentType: OID_DATA, eContent: new asn1js.OctetString({ valueHex: content }) }),
        signerInfos: [
          new pkijs.SignerInfo({
            version: 1,
            sid: new pkijs.IssuerAndSerialNumber({ issuer: pkiCert.issuer, serialNumber: pkiCert.serialNumber }),
            signedAttrs: new pkijs.SignedAndUnsignedAttributes({
              type: 0,
              attributes: [
                new pkijs.Attribute({ type: OID_CONTENT_TYPE, values: [new asn1js.ObjectIdentifier({ value: OID_DATA })] }),
                new pkijs.Attribute({ type: OID_MESSAGE_DIGEST, values: [new asn1js.OctetString({ valueHex: createHash('sha256').update(content).digest() })] }),
              ],
            }),
          }),
        ],
      });
      await signedData.sign(keys.privateKey, 0, 'SHA-256');
      const info = new pkijs.ContentInfo({ contentType: OID_SIGNED_DATA, content: signedData.toSchema(true) });
      return Buffer.from(info.toSchema().toBER(false)).toString('base64');
    },
  };
}

module.exports = { createIidSigner };
