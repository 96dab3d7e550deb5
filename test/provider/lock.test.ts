// teleport_lock over the provider's real transport against a live Joinery API: its schema, the
// diagnostics of a bad lock on the attribute they concern, plan/apply/refresh/import, and what a
// refresh does with a lock removed outside Terraform (gone: the next plan creates it) or one that
// reached its end (kept, with a warning: never created again silently).

import { decodeMsgpack, encodeMsgpack, UNKNOWN, type CtyObject, type CtyValue } from '../../provider/cty';
import { planLock, readLock } from '../../provider/lock';
import { LOCK_SCHEMA, schemaType } from '../../provider/schema';
import type { JoineryClient } from '../../client/api-client';
import { startTestServer, type TestServer } from '../support/server';
import { startConfiguredProvider, type ProviderProcess } from './plugin-client';

jest.setTimeout(60_000);

const TYPE = 'teleport_lock';
const L = schemaType(LOCK_SCHEMA);
const mp = (v: CtyValue, t = L) => ({ msgpack: encodeMsgpack(v, t) });
const val = (dv: { msgpack: Buffer } | null | undefined) => decodeMsgpack(dv?.msgpack, L) as CtyObject | null;
const diags = (res: { diagnostics: any[] }) => res.diagnostics.map((d) => ({ severity: d.severity, summary: d.summary, path: (d.attribute?.steps ?? []).map((s: any) => s.attribute_name) }));
const hoursAhead = (h: number) => new Date(Date.now() + h * 3600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** A configuration as Terraform decodes it: every attribute present, computed ones null. */
function config(attrs: Partial<Record<'host_id' | 'instance_id' | 'account' | 'arn' | 'token' | 'message' | 'expires', CtyValue>>): CtyObject {
  return { id: null, host_id: null, instance_id: null, account: null, arn: null, token: null, message: null, expires: null, created_at: null, ...attrs };
}

let server: TestServer;
let provider: ProviderProcess;

beforeAll(async () => {
  server = await startTestServer();
  provider = await startConfiguredProvider(server);
});

afterAll(async () => {
  await provider?.close();
  await server?.stop();
});

/** Plan against `prior` (with its private state), then apply what was planned. */
async function planApply(cfg: CtyObject, prior: CtyObject | null = null, priv?: Buffer) {
  const plan = await provider.rpc.PlanResourceChange({ type_name: TYPE, prior_state: mp(prior), proposed_new_state: mp({ ...cfg, id: prior?.id ?? null, created_at: prior?.created_at ?? null }), config: mp(cfg), prior_private: priv });
  expect(diags(plan).filter((d) => d.severity === 'ERROR')).toEqual([]);
  const apply = await provider.rpc.ApplyResourceChange({ type_name: TYPE, prior_state: mp(prior), planned_state: plan.planned_state, config: mp(cfg), planned_private: plan.planned_private });
  expect(diags(apply)).toEqual([]);
  return { plan, planned: val(plan.planned_state), state: val(apply.new_state)!, priv: apply.private as Buffer, replace: (plan.requires_replace ?? []).map((p: any) => p.steps[0].attribute_name) };
}

async function plan(cfg: CtyObject, prior: CtyObject | null, priv?: Buffer) {
  const res = await provider.rpc.PlanResourceChange({ type_name: TYPE, prior_state: mp(prior), proposed_new_state: mp({ ...cfg, id: prior?.id ?? null, created_at: prior?.created_at ?? null }), config: mp(cfg), prior_private: priv });
  return { planned: val(res.planned_state), diagnostics: diags(res), replace: (res.requires_replace ?? []).map((p: any) => p.steps[0].attribute_name) };
}

describe('schema', () => {
  test('the provider serves teleport_lock: one target of five, message, expires; id and created_at computed; token sensitive', async () => {
    const meta = await provider.rpc.GetMetadata({});
    expect(meta.resources.map((r: any) => r.type_name)).toEqual(['teleport_provision_token', 'teleport_lock']);
    const res = await provider.rpc.GetProviderSchema({});
    const attrs = Object.fromEntries(res.resource_schemas[TYPE].block.attributes.map((a: any) => [a.name, a]));
    expect(Object.keys(attrs).sort()).toEqual(['account', 'arn', 'created_at', 'expires', 'host_id', 'id', 'instance_id', 'message', 'token']);
    for (const k of ['host_id', 'instance_id', 'account', 'arn', 'token', 'message', 'expires']) expect([k, attrs[k].optional, attrs[k].computed]).toEqual([k, true, false]);
    expect(attrs.token.sensitive).toBe(true);
    expect(attrs.id.computed && !attrs.id.optional).toBe(true);
    expect(attrs.created_at.computed && !attrs.created_at.optional).toBe(true);
  });
});

describe('validation: a diagnostic on the attribute concerned', () => {
  const validate = async (cfg: CtyObject) => diags(await provider.rpc.ValidateResourceConfig({ type_name: TYPE, config: mp(cfg) }));

  test('a valid lock has no diagnostics', async () => {
    expect(await validate(config({ instance_id: 'i-0abc', message: 'incident 42', expires: '2030-01-02T15:04:05+01:00' }))).toEqual([]);
  });

  test('no target, or two targets', async () => {
    expect(await validate(config({ message: 'x' }))).toEqual([{ severity: 'ERROR', summary: 'Missing lock target', path: [] }]);
    expect(await validate(config({ host_id: 'h', arn: 'arn:aws:iam::1:role/x' }))).toEqual([{ severity: 'ERROR', summary: 'Conflicting lock targets', path: ['arn'] }]);
    // An unknown target counts as set: it will be.
    expect(await validate(config({ host_id: 'h', token: UNKNOWN }))).toEqual([{ severity: 'ERROR', summary: 'Conflicting lock targets', path: ['token'] }]);
  });

  test('a bad target, message or expires, each on its attribute', async () => {
    expect(await validate(config({ arn: '**' }))).toEqual([{ severity: 'ERROR', summary: 'Invalid lock', path: ['arn'] }]);
    expect(await validate(config({ account: ' 111122223333' }))).toEqual([{ severity: 'ERROR', summary: 'Invalid lock', path: ['account'] }]);
    expect(await validate(config({ host_id: 'h', message: 'x'.repeat(257) }))).toEqual([{ severity: 'ERROR', summary: 'Invalid lock', path: ['message'] }]);
    expect(await validate(config({ host_id: 'h', expires: 'tomorrow' }))).toEqual([{ severity: 'ERROR', summary: 'Invalid lock', path: ['expires'] }]);
    expect(await validate(config({ host_id: 'h', expires: '2030-02-30T00:00:00Z' }))).toEqual([{ severity: 'ERROR', summary: 'Invalid lock', path: ['expires'] }]);
  });

  test('unknown values are not judged', async () => {
    expect(await validate(config({ host_id: UNKNOWN, message: UNKNOWN, expires: UNKNOWN }))).toEqual([]);
  });
});

describe('plan, apply, refresh', () => {
  test('create, a clean second plan, message and expires in place, a new target replaces', async () => {
    const cfg = config({ host_id: 'host-tf-1', message: 'incident 42', expires: hoursAhead(24) });
    const created = await planApply(cfg);
    expect(created.planned!.id).toBe(UNKNOWN);
    expect(created.state).toMatchObject({ host_id: 'host-tf-1', message: 'incident 42', expires: cfg.expires });
    const id = created.state.id as string;
    expect(await server.client().request('GET', `/v1/locks/${id}`)).toMatchObject({ kind: 'host_id', target: 'host-tf-1', message: 'incident 42' });

    // Refresh: the server writes the end with milliseconds; the state keeps it as written.
    const read = await provider.rpc.ReadResource({ type_name: TYPE, current_state: mp(created.state) });
    expect(val(read.new_state)).toEqual(created.state);
    const again = await plan(cfg, val(read.new_state));
    expect(again).toEqual({ planned: created.state, diagnostics: [], replace: [] });

    const later = hoursAhead(48);
    const moved = await planApply({ ...cfg, message: 'incident 42: extended', expires: later }, created.state);
    expect(moved.replace).toEqual([]);
    expect(moved.state.id).toBe(id);
    expect(await server.client().request('GET', `/v1/locks/${id}`)).toMatchObject({ message: 'incident 42: extended', expires_at: new Date(later).toISOString() });

    const other = await plan({ ...cfg, host_id: 'host-tf-2' }, moved.state);
    expect(other.replace).toEqual(['host_id']);
    expect(other.planned!.id).toBe(UNKNOWN);

    const destroyed = await provider.rpc.ApplyResourceChange({ type_name: TYPE, prior_state: mp(moved.state), planned_state: mp(null), config: mp(null) });
    expect(diags(destroyed)).toEqual([]);
    expect(val(destroyed.new_state)).toBeNull();
    expect(await server.client().getLock(id)).toBeUndefined();
  });

  test('an expires that has passed is an error on expires at plan time, for a create or a moved end', async () => {
    const past = config({ host_id: 'host-tf-past', expires: '2020-01-01T00:00:00Z' });
    expect((await plan(past, null)).diagnostics).toEqual([{ severity: 'ERROR', summary: 'Lock would end before it starts', path: ['expires'] }]);
    const live = await planApply(config({ host_id: 'host-tf-past', expires: hoursAhead(1) }));
    expect((await plan(past, live.state)).diagnostics).toEqual([{ severity: 'ERROR', summary: 'Lock would end before it starts', path: ['expires'] }]);
    expect((await plan({ ...past, expires: hoursAhead(24 * 400) }, null)).diagnostics).toEqual([{ severity: 'ERROR', summary: 'Invalid lock', path: ['expires'] }]);
    await server.client().deleteLock(live.state.id as string);
  });

  test('a lock removed outside Terraform leaves the state on refresh, so the next plan creates it', async () => {
    const created = await planApply(config({ account: '111122223333', expires: hoursAhead(2) }));
    await server.client().deleteLock(created.state.id as string);
    const read = await provider.rpc.ReadResource({ type_name: TYPE, current_state: mp(created.state) });
    expect(diags(read)).toEqual([]);
    expect(val(read.new_state)).toBeNull();
  });

  test('an API refusal at apply is a diagnostic on the attribute', async () => {
    const cfg = config({ host_id: 'h', expires: hoursAhead(1) });
    const planned = (await plan(cfg, null)).planned!;
    // What the plan passed, the server still judges: here its end passed between plan and apply.
    const res = await provider.rpc.ApplyResourceChange({ type_name: TYPE, prior_state: mp(null), planned_state: mp({ ...planned, expires: '2021-01-01T00:00:00Z' }), config: mp(cfg) });
    expect(diags(res)).toEqual([{ severity: 'ERROR', summary: 'Invalid lock', path: ['expires'] }]);
  });
});

describe('a lock that reached its end', () => {
  const gone = { getLock: async () => undefined } as unknown as JoineryClient;
  const ended: CtyObject = { ...config({ host_id: 'h', message: 'm', expires: '2026-01-01T00:00:00Z' }), id: 'lock-1', created_at: '2025-12-31T00:00:00.000Z' };
  const after = new Date('2026-01-02T00:00:00Z');

  test('stays in the state on refresh (it did what it was declared to do)', async () => {
    expect((await readLock(gone, ended, after)).newState).toEqual(ended);
    // Before its end, an absent lock was removed by someone: it leaves the state.
    expect((await readLock(gone, ended, new Date('2025-12-31T12:00:00Z'))).newState).toBeNull();
  });

  test('plans no change, with a warning on expires; a later expires creates a new lock', () => {
    const cfg = config({ host_id: 'h', message: 'm', expires: '2026-01-01T00:00:00Z' });
    const same = planLock(ended, { ...cfg, id: 'lock-1', created_at: ended.created_at }, cfg, undefined, after);
    expect(same.planned).toEqual(ended);
    expect(same.requiresReplace).toEqual([]);
    expect(same.diagnostics.map((d) => [d.severity, d.summary, d.path])).toEqual([['WARNING', 'Lock has expired', ['expires']]]);

    const renewed = { ...cfg, expires: '2026-01-05T00:00:00Z' };
    const again = planLock(ended, { ...renewed, id: 'lock-1', created_at: ended.created_at }, renewed, undefined, after);
    expect(again.requiresReplace).toEqual([['expires']]);
    expect(again.planned!.id).toBe(UNKNOWN);
    expect(again.diagnostics).toEqual([]);
  });
});

describe('import', () => {
  test('by lock ID: a state that plans no change against the matching configuration', async () => {
    const expires = hoursAhead(3);
    const made = await server.client().createLock({ kind: 'instance_id', target: 'i-0import', expires, message: 'imported' });
    const res = await provider.rpc.ImportResourceState({ type_name: TYPE, id: made.id });
    expect(diags(res)).toEqual([]);
    const state = val(res.imported_resources[0].state)!;
    const read = val((await provider.rpc.ReadResource({ type_name: TYPE, current_state: mp(state), private: res.imported_resources[0].private })).new_state)!;
    const cfg = config({ instance_id: 'i-0import', message: 'imported', expires });
    expect(await plan(cfg, read)).toEqual({ planned: read, diagnostics: [], replace: [] });
    await server.client().deleteLock(made.id);
  });

  test('a lock on a secret token name: masked in the import, recognised by its digest, never replaced', async () => {
    const secret = 'tf-lock-secret-0123456789abcdef';
    await server.client().createToken({ version: 'v2', metadata: { name: secret }, spec: { roles: ['Node'], join_method: 'token' } });
    const made = await server.client().createLock({ kind: 'token', target: secret });
    expect(made.target).not.toContain('tf-lock-secret');
    const res = await provider.rpc.ImportResourceState({ type_name: TYPE, id: made.id });
    const state = val(res.imported_resources[0].state)!;
    expect(String(state.token)).not.toContain('tf-lock-secret');
    const cfg = config({ token: secret });
    const p = await plan(cfg, state, res.imported_resources[0].private);
    expect(p.replace).toEqual([]);
    expect(p.planned!.id).toBe(made.id);
    // Another name of the same length is another lock.
    expect((await plan(config({ token: secret.replace('0123', '9999') }), state, res.imported_resources[0].private)).replace).toEqual(['token']);

    const applied = await planApply(cfg, state, res.imported_resources[0].private);
    expect(applied.state.token).toBe(secret);
    const read = val((await provider.rpc.ReadResource({ type_name: TYPE, current_state: mp(applied.state), private: applied.priv })).new_state)!;
    expect(read.token).toBe(secret);
    expect(await plan(cfg, read, applied.priv)).toMatchObject({ planned: read, replace: [] });
    await server.client().deleteLock(made.id);
  });

  test('an ID with no lock is one clear diagnostic', async () => {
    const res = await provider.rpc.ImportResourceState({ type_name: TYPE, id: 'no-such-lock' });
    expect(res.imported_resources).toEqual([]);
    expect(diags(res)).toEqual([{ severity: 'ERROR', summary: 'Cannot import non-existent remote object', path: [] }]);
  });
});
