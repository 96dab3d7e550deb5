// The audit's store queries on both backends: filtered pages newest first by keyset, the
// exporter's cursor read in id order, and the export itself over PostgreSQL.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { startAuditExport } from '../../api/audit/exporter';
import type { AuditEvent, Store } from '../../api/store/types';
import { storeBackends } from '../support/store-backends';
import { readExport } from './support';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-audit-store-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const events: AuditEvent[] = [
  { time: '2026-12-04T01:00:00.000Z', type: 'token.create', success: true, tokenName: 'ec2-token' },
  { time: '2026-12-04T02:00:00.000Z', type: 'join.ec2', success: false, code: 'ec2_rule_mismatch', tokenName: 'ec2-token', hostId: '111111111111-i-1', remoteAddr: '10.0.0.1' },
  { time: '2026-12-04T03:00:00.000Z', type: 'join.ec2', success: true, tokenName: 'ec2-token', hostId: '111111111111-i-2' },
  { time: '2026-12-04T04:00:00.000Z', type: 'join.token', success: false, code: 'token_not_found', tokenName: '************************abcd1234' },
  { time: '2026-12-04T05:00:00.000Z', type: 'renew', success: true, hostId: '111111111111-i-2', details: { serial: 'ab' } },
];

describe.each(storeBackends(() => dir, 'audit_query_'))('%s', (_name, open) => {
  let store: Store;
  beforeEach(async () => {
    store = await open();
    for (const e of events) await store.audit.append(e);
  });
  afterEach(() => store.close());

  test('pages newest first by keyset, each filter alone and combined', async () => {
    const times = async (q: Parameters<Store['audit']['page']>[0]) => (await store.audit.page(q)).items.map((e) => e.time.slice(11, 13));
    const first = await store.audit.page({ limit: 2 });
    expect(first.items.map((e) => e.id)).toEqual([5, 4]);
    expect(first.next).toBe('4');
    const second = await store.audit.page({ limit: 2, beforeId: 4 });
    expect(second.items.map((e) => e.id)).toEqual([3, 2]);
    const last = await store.audit.page({ limit: 2, beforeId: 2 });
    expect([last.items.map((e) => e.id), last.next]).toEqual([[1], undefined]);

    expect(await times({ limit: 10, refused: true })).toEqual(['04', '02']);
    expect(await times({ limit: 10, type: 'join.ec2' })).toEqual(['03', '02']);
    expect(await times({ limit: 10, tokenNames: ['ec2-token'] })).toEqual(['03', '02', '01']);
    expect(await times({ limit: 10, hostId: '111111111111-i-2' })).toEqual(['05', '03']);
    expect(await times({ limit: 10, code: 'token_not_found' })).toEqual(['04']);
    expect(await times({ limit: 10, since: '2026-12-04T03:00:00.000Z' })).toEqual(['05', '04', '03']);
    expect(await times({ limit: 10, type: 'join.ec2', refused: true, since: '2026-12-04T02:00:00.000Z' })).toEqual(['02']);
  });

  test('the cursor read: ids above a point, in order, bounded; the newest id', async () => {
    expect((await store.audit.after(2, 2)).map((e) => e.id)).toEqual([3, 4]);
    expect((await store.audit.after(5, 10)).length).toBe(0);
    expect(await store.audit.newestId()).toBe(5);
    expect((await store.audit.after(0, 1))[0]).toMatchObject({ id: 1, type: 'token.create', success: true });
  });

  test('the export writes the same lines from either backend', async () => {
    const file = path.join(dir, 'audit.jsonl');
    const exporter = await startAuditExport(store, { kind: 'file', path: file }, pino({ level: 'silent' }), { intervalMs: 50 });
    await exporter.drain();
    await exporter.stop();
    const lines = readExport(file);
    expect(lines.map((l) => [l.id, l.eventCode])).toEqual([[1, 'JT001I'], [2, 'JJ002W'], [3, 'JJ002I'], [4, 'JJ001W'], [5, 'JR001I']]);
    expect(await store.settings.get('audit_export_cursor:file')).toBe('5');
  });
});
