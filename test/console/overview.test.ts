// The Overview page's counts on both store backends: nodes by join method and status (counted by
// the database), tokens by method, and the last 24 hours of joins in hourly buckets.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { overview } from '../../api/server/console/overview';
import type { Store } from '../../api/store/types';
import { storeBackends } from '../support/store-backends';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-overview-'));
});

const NOW = new Date('2026-06-01T12:30:00Z');
const node = (hostId: string, joinMethod: string, certNotAfter: string) => ({
  hostId,
  joinMethod,
  tokenName: 't',
  role: 'Node',
  joinedAt: '2026-06-01T00:00:00.000Z',
  certSerial: hostId.replace(/\D/g, '') || '1',
  certNotAfter,
  attributes: {},
});

describe.each(storeBackends(() => dir, 'overview'))('%s', (_name, open) => {
  let store: Store;
  beforeEach(async () => {
    store = await open();
  });
  afterEach(() => store.close());

  test('counts by method and status, tokens by method, joins per hour with the top refusal codes', async () => {
    const live = '2026-06-02T00:00:00.000Z';
    const lapsed = '2026-06-01T01:00:00.000Z';
    await store.nodes.insert(node('h1', 'ec2', live), NOW);
    await store.nodes.insert(node('h2', 'ec2', live), NOW);
    await store.nodes.insert(node('h3', 'ec2', lapsed), NOW);
    await store.nodes.insert(node('h4', 'iam', live), NOW);
    await store.nodes.remove('h4', NOW);
    await store.tokens.create({ kind: 'token', version: 'v2', metadata: { name: 'a'.repeat(32) }, spec: { roles: ['Node'], join_method: 'token' } } as never);
    await store.tokens.create({ kind: 'token', version: 'v2', metadata: { name: 'old', expires: '2001-01-01T00:00:00Z' }, spec: { roles: ['Node'], join_method: 'ec2', allow: [{ aws_account: '111111111111' }] } } as never);
    const at = (h: number) => new Date(NOW.getTime() - h * 3600_000).toISOString();
    for (const [h, success, code, type] of [
      [0, true, undefined, 'join.ec2'],
      [0, false, 'token_not_found', 'join.token'],
      [2, false, 'token_not_found', 'join.iam'],
      [2, false, 'iid_ttl_exceeded', 'join.ec2'],
      [30, false, 'too_old', 'join.ec2'], // outside the window
    ] as const) {
      await store.audit.append({ time: at(h), type, success, code });
    }

    const o = await overview(store, NOW);
    expect(o.nodes.by_method).toEqual({ ec2: { active: 2, expired: 1, removed: 0 }, iam: { active: 0, expired: 0, removed: 1 } });
    expect(o.nodes.by_status).toEqual({ active: 2, expired: 1, removed: 1 });
    expect(await store.nodes.countByStatus(NOW)).toEqual(o.nodes.by_status);
    expect(o.tokens).toMatchObject({ total: 2, long_lived_secrets: 1, by_method: { token: { active: 1, expired: 0 }, ec2: { active: 0, expired: 1 }, iam: { active: 0, expired: 0 } } });
    expect(o.joins).toMatchObject({ accepted: 1, refused: 3, truncated: false, top_refusals: [{ code: 'token_not_found', count: 2 }, { code: 'iid_ttl_exceeded', count: 1 }] });
    expect(o.joins.hourly).toHaveLength(24);
    expect(o.joins.hourly[23]).toMatchObject({ start: '2026-06-01T12:00:00.000Z', accepted: 1, refused: 1 });
    expect(o.joins.hourly[21]).toMatchObject({ accepted: 0, refused: 2 });
  });
});
