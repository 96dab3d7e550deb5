// A loopback stand-in for the two AWS KMS calls the CA signer makes (GetPublicKey, Sign; the
// awsJson1_1 protocol, X-Amz-Target TrentService.*), with an ECC_NIST_P256 key of its own. It
// answers after `latencyMs` (KMS's Sign takes a few ms in-region), throttles like KMS (a token
// bucket, ThrottlingException when empty; `throttleFirst` answers the first N Signs with it), and
// signs MessageType=DIGEST the way AWS does, over the given SHA-256 (openssl pkeyutl, since
// node:crypto always hashes). The bench and the signer tests point a KMSClient at it.
const http = require('node:http');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFile } = require('node:child_process');

const KEY_ID = '11111111-2222-3333-4444-555555555555';

function signDigest(keyPem, digest) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kms-standin-'));
  const keyFile = path.join(dir, 'key.pem');
  const inFile = path.join(dir, 'digest');
  fs.writeFileSync(keyFile, keyPem, { mode: 0o600 });
  fs.writeFileSync(inFile, digest);
  return new Promise((resolve, reject) => {
    execFile('openssl', ['pkeyutl', '-sign', '-inkey', keyFile, '-in', inFile], { encoding: 'buffer', timeout: 10_000 }, (err, out) => {
      fs.rmSync(dir, { recursive: true, force: true });
      if (err) reject(err);
      else resolve(out);
    });
  });
}

/** opts: { latencyMs = 0, burst = Infinity, refillPerSecond = 0, throttleFirst = 0, region = 'us-east-1', account = '123456789012' } */
async function startKmsStandIn(opts = {}) {
  const latencyMs = opts.latencyMs ?? 0;
  const burst = opts.burst ?? Infinity;
  const refill = opts.refillPerSecond ?? 0;
  const region = opts.region ?? 'us-east-1';
  const arn = `arn:aws:kms:${region}:${opts.account ?? '123456789012'}:key/${KEY_ID}`;
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' });
  const stats = { getPublicKey: 0, sign: 0, throttled: 0, raw: 0, digest: 0 };
  let throttleLeft = opts.throttleFirst ?? 0;
  const failures = []; // queued by tests: { status, type, message }
  let tokens = burst;
  let at = Date.now();

  function takeToken() {
    if (burst === Infinity) return true;
    const t = Date.now();
    tokens = Math.min(burst, tokens + ((t - at) / 1000) * refill);
    at = t;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  }

  const answer = (res, status, body) => {
    res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': crypto.randomUUID() });
    res.end(JSON.stringify(body));
  };
  const fail = (res, status, type, message) => answer(res, status, { __type: type, message });

  async function handle(target, body, res) {
    if (latencyMs) await new Promise((r) => setTimeout(r, latencyMs));
    if (body.KeyId !== KEY_ID && body.KeyId !== arn && body.KeyId !== 'alias/joinery-ca') return fail(res, 400, 'NotFoundException', `Key '${body.KeyId}' does not exist`);
    if (target === 'GetPublicKey') {
      stats.getPublicKey++;
      return answer(res, 200, {
        KeyId: arn,
        KeySpec: 'ECC_NIST_P256',
        KeyUsage: 'SIGN_VERIFY',
        SigningAlgorithms: ['ECDSA_SHA_256'],
        PublicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
      });
    }
    if (target !== 'Sign') return fail(res, 400, 'UnknownOperationException', target);
    stats.sign++;
    const failure = failures.shift();
    if (failure) return fail(res, failure.status, failure.type, failure.message);
    if (throttleLeft > 0 || !takeToken()) {
      if (throttleLeft > 0) throttleLeft--;
      stats.throttled++;
      return fail(res, 400, 'ThrottlingException', 'Rate exceeded');
    }
    if (body.SigningAlgorithm !== 'ECDSA_SHA_256') return fail(res, 400, 'InvalidKeyUsageException', `unsupported ${body.SigningAlgorithm}`);
    const message = Buffer.from(body.Message ?? '', 'base64');
    let signature;
    if (body.MessageType === 'DIGEST') {
      if (message.length !== 32) return fail(res, 400, 'ValidationException', 'Digest is invalid length for algorithm ECDSA_SHA_256.');
      stats.digest++;
      signature = await signDigest(keyPem, message);
    } else {
      if (message.length > 4096) return fail(res, 400, 'ValidationException', 'Value at \'message\' failed to satisfy constraint: Member must have length less than or equal to 4096');
      stats.raw++;
      signature = crypto.sign('sha256', message, { key: privateKey, dsaEncoding: 'der' });
    }
    return answer(res, 200, { KeyId: arn, Signature: signature.toString('base64'), SigningAlgorithm: 'ECDSA_SHA_256' });
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '').replace(/^TrentService\./, '');
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      } catch {
        return fail(res, 400, 'SerializationException', 'bad JSON');
      }
      handle(target, body, res).catch((err) => fail(res, 500, 'KMSInternalException', String(err.message)));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    keyId: KEY_ID,
    keyArn: arn,
    publicKey,
    stats,
    /** Makes the next Sign calls answer these errors, one each: [{ status, type, message }]. */
    failNext(...answers) {
      failures.push(...answers);
    },
    /** Makes the next n Sign calls answer ThrottlingException. */
    throttleNext(n) {
      throttleLeft = n;
    },
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}

module.exports = { startKmsStandIn };
