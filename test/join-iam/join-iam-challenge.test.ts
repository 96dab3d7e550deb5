// The challenge lifecycle, in process with the real SQLite store and a movable clock: issued,
// expired, used, and single use under concurrency.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import type { JoinServices } from '../../api/join/admit';
import { buildJoinAws } from '../../api/join/aws';
import { CaTrust } from '../../api/ca/trust';
import { ClusterCA } from '../../api/ca/ca';
import { loadConfig } from '../../api/config';
import { JoinError } from '../../api/join/errors';
import { iamMethod, issueIamChallenge } from '../../api/join/iam/join-iam';
import { runJoin } from '../../api/join/pipeline';
import { startHousekeeping } from '../../api/server/housekeeping';
import { openSqliteStore } from '../../api/store/sqlite';
import { callerIdentityXml, startFakeSts, type FakeSts } from '../support/fake-sts';
import { signedJoinBody } from './signed-request';

const ACCOUNT = '123456789012';
let svc: JoinServices;
let clock: Date;
let sts: FakeSts;
let dir: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-iam-'));
  sts = await startFakeSts({ status: 200, contentType: 'text/xml', body: callerIdentityXml(ACCOUNT, `arn:aws:iam::${ACCOUNT}:user/joiner`) });
  const config = { ...loadConfig({ dataDir: dir }, {}), iamChallengeTtlMs: 60_000, iamStsTestEndpoint: sts.url };
  const store = await openSqliteStore(path.join(dir, 'joinery.db'));
  const ca = await ClusterCA.loadOrCreate(dir, 'test', store);
  clock = new Date('2030-01-01T00:00:00Z');
  svc = { store, ca, trust: CaTrust.fixed(ca, store), config, log: pino({ level: 'silent' }), now: () => clock, aws: buildJoinAws(config) };
  await store.tokens.create({ kind: 'token', version: 'v2', metadata: { name: 'iam-token' }, spec: { roles: ['Node'], join_method: 'iam', allow: [{ aws_account: ACCOUNT }] } });
});

afterAll(async () => {
  await svc?.store.close();
  await sts?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function join(challenge: string): Promise<{ ok: true; hostId: string } | { ok: false; code: string }> {
  try {
    const res = await runJoin(svc, iamMethod, await signedJoinBody({ challenge }), {});
    if (res.kind !== 'joined') throw new Error('not a join');
    return { ok: true, hostId: res.response.host_id };
  } catch (e) {
    if (!(e instanceof JoinError)) throw e;
    return { ok: false, code: e.code };
  }
}

test('a challenge is 32 random bytes, base64url, stored with its expiry', async () => {
  const a = await issueIamChallenge(svc);
  const b = await issueIamChallenge(svc);
  expect(a.challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(Buffer.from(a.challenge, 'base64url')).toHaveLength(32);
  expect(a.challenge).not.toBe(b.challenge);
  expect(a.expires).toBe('2030-01-01T00:01:00.000Z');
  expect(await join(a.challenge)).toMatchObject({ ok: true });
});

test('an expired challenge is refused and never forwarded', async () => {
  const { challenge } = await issueIamChallenge(svc);
  clock = new Date(clock.getTime() + 60_001);
  const before = sts.requests.length;
  expect(await join(challenge)).toMatchObject({ ok: false, code: 'iam_challenge_expired' });
  expect(sts.requests.length).toBe(before);
});

test('a challenge works once, even when two joins race for it', async () => {
  const { challenge } = await issueIamChallenge(svc);
  const before = sts.requests.length;
  const results = await Promise.all([join(challenge), join(challenge), join(challenge)]);
  expect(results.filter((r) => r.ok)).toHaveLength(1);
  expect(results.filter((r) => !r.ok).map((r) => (r as { code: string }).code)).toEqual(['iam_challenge_used', 'iam_challenge_used']);
  expect(sts.requests.length).toBe(before + 1);
});

test('a refusal fills in what the audit needs', async () => {
  const { challenge } = await issueIamChallenge(svc);
  sts.answer = { status: 200, contentType: 'text/xml', body: callerIdentityXml('999999999999', 'arn:aws:iam::999999999999:user/x') };
  const r = await join(challenge);
  expect(r).toMatchObject({ ok: false, code: 'iam_account_not_allowed' });
  const [event] = await svc.store.audit.list({ type: 'join.iam', limit: 1 });
  expect(event).toMatchObject({
    success: false,
    code: 'iam_account_not_allowed',
    tokenName: 'iam-token',
    details: {
      method: 'iam',
      role: 'Node',
      identity: { sts_host: 'sts.amazonaws.com', aws_account: '999999999999', arn: 'arn:aws:iam::999999999999:user/x' },
      rules: [{ index: 0, matched: false, failures: [`aws_account ${ACCOUNT} is not 999999999999`] }],
    },
  });
});

test('long-expired challenges are pruned by the housekeeping timer, never on the request path', async () => {
  const { challenge } = await issueIamChallenge(svc);
  clock = new Date(clock.getTime() + 2 * 3600_000);
  await issueIamChallenge(svc);
  expect(await join(challenge)).toMatchObject({ ok: false, code: 'iam_challenge_expired' });
  const housekeeping = startHousekeeping(svc.store, svc.config, svc.log, { now: () => clock });
  await housekeeping.runOnce();
  await housekeeping.stop();
  expect(await join(challenge)).toMatchObject({ ok: false, code: 'iam_challenge_unknown' });
});
