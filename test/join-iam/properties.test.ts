// Fast properties of the pure modules, over many more inputs than the HTTP property can afford.

import fc from 'fast-check';
import { JoinError } from '../../api/join/errors';
import { arnGlobMatch } from '../../api/join/iam/arn-glob';
import { IAM_REFUSAL_CODES } from '../../api/join/iam/join-iam';
import { parseStsRequestShape, validateStsRequest } from '../../api/join/iam/sts-request';
import { interpretStsAnswer } from '../../api/join/iam/sts-response';

function refusalOf(fn: () => unknown): JoinError | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    if (!(e instanceof JoinError)) throw new Error(`threw ${String(e)} instead of a JoinError`, { cause: e });
    return e;
  }
}

test('request validation only ever refuses with a known 4xx code', () => {
  const pair = fc.tuple(fc.string({ maxLength: 30 }), fc.string({ maxLength: 60 }));
  const req = fc.oneof(
    fc.anything(),
    fc.record({ method: fc.string(), url: fc.oneof(fc.webUrl(), fc.string()), headers: fc.array(pair, { maxLength: 10 }), body: fc.string() }),
  );
  fc.assert(
    fc.property(req, fc.string(), (raw, challenge) => {
      const err = refusalOf(() => validateStsRequest(parseStsRequestShape(raw), challenge));
      expect(err).toBeDefined(); // nothing random is ever signed over the challenge
      expect(Object.keys(IAM_REFUSAL_CODES)).toContain(err!.code);
      expect(err!.status).toBeGreaterThanOrEqual(400);
      expect(err!.status).toBeLessThan(500);
    }),
    { numRuns: 2000 },
  );
});

test('answer parsing only ever refuses with a known 4xx code or returns a consistent identity', () => {
  const answer = fc.record({
    status: fc.oneof(fc.constant(200), fc.integer({ min: 100, max: 599 })),
    contentType: fc.option(fc.constantFrom('text/xml', 'application/json', 'application/xml; charset=utf-8', 'text/html'), { nil: undefined }),
    body: fc.oneof(fc.string(), fc.json(), fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a).toString('latin1'))),
  });
  fc.assert(
    fc.property(answer, ({ status, contentType, body }) => {
      let id: ReturnType<typeof interpretStsAnswer> | undefined;
      const err = refusalOf(() => (id = interpretStsAnswer({ status, contentType, body: Buffer.from(body) })));
      if (err) {
        expect(Object.keys(IAM_REFUSAL_CODES)).toContain(err.code);
        expect(err.status).toBeLessThan(500);
      } else {
        expect(id!.arn.split(':')[4]).toBe(id!.account);
      }
    }),
    { numRuns: 2000 },
  );
});

test('the ARN glob agrees with an anchored regular expression', () => {
  const alphabet = fc.constantFrom('a', 'b', ':', '/', '*', '?', '.');
  const text = fc.constantFrom('a', 'b', ':', '/', '.');
  fc.assert(
    fc.property(fc.array(alphabet, { maxLength: 8 }), fc.array(text, { maxLength: 10 }), (p, s) => {
      const pattern = p.join('');
      const arn = s.join('');
      const re = new RegExp(`^${pattern.replace(/[.]/g, '\\.').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
      expect(arnGlobMatch(pattern, arn)).toBe(re.test(arn));
    }),
    { numRuns: 5000 },
  );
});
