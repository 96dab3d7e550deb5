// The provider executable driven over its real transport (go-plugin handshake, mTLS, gRPC) the
// way Terraform drives it, against a live Joinery API.

import { encode, ExtData } from '@msgpack/msgpack';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { decodeMsgpack, encodeMsgpack, UNKNOWN, type CtyObject, type CtyValue } from '../../provider/cty';
import { RESOURCE_SCHEMA, DATA_SOURCE_SCHEMA, PROVIDER_SCHEMA, IDENTITY_TYPE, schemaType, TELEPORT_PROVIDER_ARGUMENTS } from '../../provider/schema';
import { FIELD_DOCS } from '../../schema/token';
import { resolveProviderConfig } from '../../provider/config';
import { startTestServer, type TestServer, REPO_ROOT } from '../support/server';
import { MAGIC_COOKIE, spawnProvider, startConfiguredProvider, startProvider, type ProviderProcess } from './plugin-client';

jest.setTimeout(60_000);

const R = schemaType(RESOURCE_SCHEMA);
const D = schemaType(DATA_SOURCE_SCHEMA);
const P = schemaType(PROVIDER_SCHEMA);
const TYPE = 'teleport_provision_token';

const mp = (v: CtyValue, t = R) => ({ msgpack: encodeMsgpack(v, t) });
const val = (dv: { msgpack: Buffer } | null | undefined, t = R) => decodeMsgpack(dv?.msgpack, t) as CtyObject;
const diags = (res: { diagnostics: any[] }) => res.diagnostics.map((d) => ({ severity: d.severity, summary: d.summary, detail: d.detail, path: steps(d.attribute) }));
function steps(attr: { steps: { attribute_name?: string; element_key_int?: number; element_key_string?: string; selector: string }[] } | null) {
  return (attr?.steps ?? []).map((s) => (s.selector === 'attribute_name' ? s.attribute_name : s.selector === 'element_key_int' ? Number(s.element_key_int) : { key: s.element_key_string }));
}

/** The seed document's resource, as Terraform decodes its HCL. */
function seedConfig(name = 'ec2-token'): CtyObject {
  return {
    id: null,
    kind: null,
    version: 'v2',
    labels: { 'teleport.dev/origin': 'dynamic' },
    metadata: { name, description: null, labels: null, expires: null },
    spec: {
      roles: ['Node'],
      join_method: 'ec2',
      bot_name: null,
      aws_iid_ttl: '5m',
      allow: [{ aws_account: '111111111111', aws_regions: ['us-west-1', 'us-west-2'], aws_role: null, aws_arn: null }],
    },
  };
}

/** What Terraform proposes for a create: the config, computed attributes null. */
async function planApply(p: ProviderProcess, config: CtyObject, prior: CtyObject | null = null) {
  const proposed = { ...config };
  const plan = await p.rpc.PlanResourceChange({ type_name: TYPE, prior_state: mp(prior), proposed_new_state: mp(proposed), config: mp(config) });
  expect(diags(plan)).toEqual([]);
  const apply = await p.rpc.ApplyResourceChange({ type_name: TYPE, prior_state: mp(prior), planned_state: plan.planned_state, config: mp(config) });
  return { plan, apply, planned: val(plan.planned_state), state: val(apply.new_state) };
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

describe('go-plugin handshake', () => {
  test('started by hand it explains itself and exits 1 without a handshake', async () => {
    const run = spawnProvider({});
    const code = await run.exited;
    expect(code).toBe(1);
    expect(run.output().stdout).toBe('');
    expect(run.output().stderr).toMatch(/Terraform provider plugin.*not run by hand/s);
    expect(run.output().stderr).toMatch(/joinery provider install/);
  });

  test('refuses a client that does not offer protocol 6', async () => {
    const run = spawnProvider({ TF_PLUGIN_MAGIC_COOKIE: MAGIC_COOKIE, PLUGIN_PROTOCOL_VERSIONS: '4,5' });
    expect(await run.exited).toBe(1);
    expect(run.output().stderr).toMatch(/protocol 6.*offers 4, 5/);
  });

  test('prints core 1, protocol 6, a loopback tcp address, grpc and its localhost certificate', () => {
    const h = provider.handshake;
    expect([h.core, h.protocol, h.network, h.transport]).toEqual(['1', '6', 'tcp', 'grpc']);
    expect(h.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(h.serverCert!.checkHost('localhost')).toBe('localhost');
    expect(h.serverCert!.ca).toBe(true);
  });

  test('rejects a TLS client without the certificate Terraform passed', async () => {
    const defs = grpc.loadPackageDefinition(protoLoader.loadSync(path.join(REPO_ROOT, 'provider/proto/tfplugin6.proto'), { keepCase: true })) as any;
    const creds = grpc.credentials.createSsl(Buffer.from(provider.handshake.serverCert!.toString()));
    const stranger = new defs.tfplugin6.Provider(provider.handshake.address, creds, { 'grpc.ssl_target_name_override': 'localhost' });
    const err = await new Promise<grpc.ServiceError | null>((resolve) => stranger.GetProviderSchema({}, { deadline: Date.now() + 10_000 }, (e: grpc.ServiceError | null) => resolve(e)));
    stranger.close();
    expect(err?.code).toBe(grpc.status.UNAVAILABLE);
  });

  test('the controller Shutdown makes the process exit 0', async () => {
    const p = await startProvider();
    await p.rpc.GetProviderSchema({});
    await p.shutdown();
    expect(await p.exited).toBe(0);
    await p.close();
  });
});

describe('schema', () => {
  test('GetProviderSchema describes the provider, the resource and the data source', async () => {
    const res = await provider.rpc.GetProviderSchema({});
    expect(diags(res)).toEqual([]);
    const attrs = (block: any) => Object.fromEntries(block.attributes.map((a: any) => [a.name, a]));
    const prov = attrs(res.provider.block);
    // Joinery's own arguments, then Teleport's provider arguments accepted for compatibility.
    expect(Object.keys(prov).sort()).toEqual(['addr', 'admin_token', 'ca_file', 'ca_pin', 'insecure', ...TELEPORT_PROVIDER_ARGUMENTS.map((a) => a.name)].sort());
    expect(prov.admin_token.sensitive).toBe(true);
    expect(JSON.parse(prov.insecure.type.toString())).toBe('bool');

    const r = attrs(res.resource_schemas[TYPE].block);
    // Teleport's resource attributes a plan may carry (sub_kind; kind is optional there too).
    expect(Object.keys(r).sort()).toEqual(['id', 'kind', 'labels', 'metadata', 'spec', 'sub_kind', 'version']);
    expect(r.version.required).toBe(true);
    expect(r.id.computed && !r.id.optional).toBe(true);
    expect(JSON.parse(r.labels.type.toString())).toEqual(['map', 'string']);
    expect(r.metadata.nested_type.nesting).toBe('SINGLE');
    expect(r.spec.nested_type.nesting).toBe('SINGLE');
    const spec = attrs(r.spec.nested_type);
    expect(spec.allow.nested_type.nesting).toBe('LIST');
    expect(spec.aws_iid_ttl.optional && spec.aws_iid_ttl.computed).toBe(true);
    expect(spec.roles.description).toBe(FIELD_DOCS['spec.roles']);
    expect(attrs(spec.allow.nested_type).aws_regions.description).toBe(FIELD_DOCS['spec.allow.aws_regions']);
    expect(res.data_source_schemas[TYPE]).toBeDefined();
  });
});

describe('validation', () => {
  const validate = async (config: CtyObject | Buffer) =>
    diags(await provider.rpc.ValidateResourceConfig({ type_name: TYPE, config: Buffer.isBuffer(config) ? { msgpack: config } : mp(config) }));

  test('the seed document resource is valid as written', async () => {
    expect(await validate(seedConfig())).toEqual([]);
  });

  test('each problem is reported on its attribute path', async () => {
    const c = seedConfig();
    (c.spec as CtyObject).allow = [{ aws_account: '1234', aws_regions: ['us-west-1', 'mars-1'], aws_role: null, aws_arn: null }];
    (c.spec as CtyObject).aws_iid_ttl = 'five minutes';
    c.labels = { 'bad key!': 'x' };
    const d = await validate(c);
    expect(d.map((x) => x.path)).toEqual(
      expect.arrayContaining([
        ['spec', 'allow', 0, 'aws_account'],
        ['spec', 'allow', 0, 'aws_regions', 1],
        ['spec', 'aws_iid_ttl'],
        ['labels', { key: 'bad key!' }],
      ]),
    );
    expect(d.every((x) => x.severity === 'ERROR')).toBe(true);
    expect(d.find((x) => x.path.join('.') === 'spec.aws_iid_ttl')!.detail).toMatch(/duration/);
  });

  test('cross-field rules of the token schema apply (aws_arn is for iam only)', async () => {
    const c = seedConfig();
    (c.spec as CtyObject).allow = [{ aws_account: '111111111111', aws_regions: null, aws_role: null, aws_arn: 'arn:aws:iam::111111111111:role/x' }];
    expect((await validate(c)).map((x) => x.path)).toEqual([['spec', 'allow', 0, 'aws_arn']]);
  });

  test('ec2 tokens need a name to be created; token-method names may be left to the server; an existing token keeps its name', async () => {
    const c = seedConfig();
    (c.metadata as CtyObject).name = null;
    // Judged by the plan, which knows whether the token exists (-generate-config-out leaves the sensitive name out).
    expect(await validate(c)).toEqual([]);
    const create = await provider.rpc.PlanResourceChange({ type_name: TYPE, prior_state: mp(null), proposed_new_state: mp(c), config: mp(c) });
    expect(diags(create)).toEqual([{ severity: 'ERROR', summary: 'Invalid token', detail: 'metadata.name: is required for join_method ec2 (only token-method names are generated)', path: ['metadata', 'name'] }]);
    const noMetadata = { ...c, labels: null, metadata: null };
    const created = await provider.rpc.PlanResourceChange({ type_name: TYPE, prior_state: mp(null), proposed_new_state: mp(noMetadata), config: mp(noMetadata) });
    expect(diags(created).map((d) => d.path)).toEqual([['metadata', 'name']]);
    const tokenMethod = { ...c, labels: null, metadata: null, spec: { roles: ['Node'], join_method: null, bot_name: null, aws_iid_ttl: null, allow: null } };
    expect(await validate(tokenMethod)).toEqual([]);
    expect(diags(await provider.rpc.PlanResourceChange({ type_name: TYPE, prior_state: mp(null), proposed_new_state: mp(tokenMethod), config: mp(tokenMethod) }))).toEqual([]);

    const prior = { ...seedConfig('proto-named'), id: 'proto-named', kind: 'token' };
    const kept = await provider.rpc.PlanResourceChange({ type_name: TYPE, prior_state: mp(prior), proposed_new_state: mp({ ...c, id: 'proto-named', kind: 'token' }), config: mp(c) });
    expect(diags(kept)).toEqual([]);
    expect(val(kept.planned_state)).toMatchObject({ metadata: { name: 'proto-named' } });
    expect(kept.requires_replace).toEqual([]);
  });

  test('unknown values (including refined unknowns, msgpack extension 12) are not judged; known ones are', async () => {
    // Hand-built msgpack as Terraform 1.6+ sends it: the name is a refined unknown.
    const refined = new ExtData(12, new Uint8Array([0x81, 0x01, 0xc3]));
    const raw = encode({
      id: null,
      kind: null,
      version: 'v2',
      labels: null,
      metadata: { name: refined, description: null, labels: null, expires: null },
      spec: {
        roles: ['Node'],
        join_method: new ExtData(0, new Uint8Array([0])),
        bot_name: null,
        aws_iid_ttl: null,
        allow: [{ aws_account: '111111111111', aws_regions: ['nowhere'], aws_role: null, aws_arn: null }],
      },
    });
    const d = await validate(Buffer.from(raw));
    expect(d.map((x) => x.path)).toEqual([['spec', 'allow', 0, 'aws_regions', 0]]);
  });
});

describe('plan and apply', () => {
  test('plan keeps the configuration and predicts the server defaults; apply creates the token', async () => {
    const { planned, state, apply } = await planApply(provider, seedConfig('proto-seed'));
    expect(planned).toMatchObject({ id: 'proto-seed', kind: 'token', labels: { 'teleport.dev/origin': 'dynamic' } });
    expect((planned.spec as CtyObject).aws_iid_ttl).toBe('5m');
    expect(diags(apply)).toEqual([]);
    expect(state).toEqual(planned);
    const stored = await server.client().getToken('proto-seed');
    expect(stored?.spec).toMatchObject({ join_method: 'ec2', roles: ['Node'], aws_iid_ttl: '5m', allow: [{ aws_account: '111111111111', aws_regions: ['us-west-1', 'us-west-2'] }] });
  });

  test('unset computed values are unknown in the plan and known after apply (generated name)', async () => {
    const config: CtyObject = { id: null, kind: null, version: 'v2', labels: null, metadata: null, spec: { roles: ['node'], join_method: null, bot_name: null, aws_iid_ttl: null, allow: null } };
    const { planned, state } = await planApply(provider, config);
    expect(planned.id).toBe(UNKNOWN);
    expect(planned.metadata).toBe(UNKNOWN);
    expect((planned.spec as CtyObject).join_method).toBe('token');
    expect((planned.spec as CtyObject).aws_iid_ttl).toBeNull();
    const name = (state.metadata as CtyObject).name as string;
    expect(name).toMatch(/^[0-9a-f]{32}$/);
    // A token-method name is its secret: the ID Terraform prints is a digest, the name is sensitive.
    expect(state.id).toBe(`token-sha256-${createHash('sha256').update(name).digest('hex').slice(0, 16)}`);
    expect(JSON.stringify(state.id)).not.toContain(name);
    expect((state.spec as CtyObject).roles).toEqual(['node']); // as configured, though stored as Node
    expect((await server.client().getToken(name))?.spec.roles).toEqual(['Node']);

    // Refresh finds nothing changed: the state stays byte for byte what was applied.
    const read = await provider.rpc.ReadResource({ type_name: TYPE, current_state: mp(state) });
    expect(val(read.new_state)).toEqual(state);
  });

  test('unknown values in the configuration stay unknown in the plan; what depends on them too', async () => {
    const refined = new ExtData(12, new Uint8Array([0x81, 0x01, 0xc2]));
    const config = {
      id: null,
      kind: null,
      version: 'v2',
      labels: { team: refined },
      metadata: { name: 'proto-unknown', description: null, labels: null, expires: null },
      spec: { roles: ['Node'], join_method: null, bot_name: null, aws_iid_ttl: null, allow: new ExtData(0, new Uint8Array([0])) },
    };
    const raw = { msgpack: Buffer.from(encode(config)) };
    const plan = await provider.rpc.PlanResourceChange({ type_name: TYPE, prior_state: mp(null), proposed_new_state: raw, config: raw });
    expect(diags(plan)).toEqual([]);
    const planned = val(plan.planned_state);
    expect(planned.labels).toEqual({ team: UNKNOWN });
    expect(planned.spec).toMatchObject({ allow: UNKNOWN, join_method: UNKNOWN, aws_iid_ttl: UNKNOWN, roles: ['Node'] });
    expect(planned.id).toBe(UNKNOWN); // the ID depends on the join method, unknown here
  });

  test('an in-place update changes the token; a new name requires replacement', async () => {
    const { state } = await planApply(provider, seedConfig('proto-update'));
    const next = seedConfig('proto-update');
    ((next.spec as CtyObject).allow as CtyObject[])[0].aws_regions = ['us-west-1', 'us-west-2', 'eu-west-1'];
    const up = await planApply(provider, next, state);
    expect(up.plan.requires_replace).toEqual([]);
    expect((await server.client().getToken('proto-update'))?.spec.allow?.[0].aws_regions).toEqual(['us-west-1', 'us-west-2', 'eu-west-1']);

    const renamed = seedConfig('proto-renamed');
    const plan = await provider.rpc.PlanResourceChange({ type_name: TYPE, prior_state: mp(up.state), proposed_new_state: mp(renamed), config: mp(renamed) });
    expect(plan.requires_replace.map(steps)).toEqual([['metadata', 'name']]);
  });

  test('destroy deletes the token', async () => {
    const { state } = await planApply(provider, seedConfig('proto-destroy'));
    const res = await provider.rpc.ApplyResourceChange({ type_name: TYPE, prior_state: mp(state), planned_state: mp(null), config: mp(null) });
    expect(diags(res)).toEqual([]);
    expect(val(res.new_state)).toBeNull();
    expect(await server.client().getToken('proto-destroy')).toBeUndefined();
  });

  test('an update never overwrites a change made after Terraform last read the token', async () => {
    const created = await planApply(provider, seedConfig('proto-conflict'));
    expect(Buffer.from(created.apply.private ?? []).toString()).toMatch(/"revision"/);
    // Someone changes the token between Terraform's refresh and its apply.
    const c = server.client();
    const { status: _s, ...current } = (await c.getToken('proto-conflict'))!;
    await c.putToken({ ...current, metadata: { ...current.metadata, revision: undefined }, spec: { ...current.spec, roles: ['Node', 'Proxy'] } });

    const next = seedConfig('proto-conflict');
    (next.spec as CtyObject).aws_iid_ttl = '10m';
    const update = async (prior: CtyObject, priv: Uint8Array | undefined) => {
      const plan = await provider.rpc.PlanResourceChange({ type_name: TYPE, prior_state: mp(prior), proposed_new_state: mp(next), config: mp(next), prior_private: priv });
      return provider.rpc.ApplyResourceChange({ type_name: TYPE, prior_state: mp(prior), planned_state: plan.planned_state, config: mp(next), planned_private: plan.planned_private });
    };
    const refused = await update(created.state, created.apply.private);
    expect(diags(refused).map((d) => d.summary)).toEqual(['Token changed outside Terraform']);
    expect((await c.getToken('proto-conflict'))!.spec).toMatchObject({ roles: ['Node', 'Proxy'], aws_iid_ttl: '5m' });

    // After a refresh (which records the new revision) the same update goes through.
    const read = await provider.rpc.ReadResource({ type_name: TYPE, current_state: mp(created.state), private: created.apply.private });
    const applied = await update(val(read.new_state), read.private);
    expect(diags(applied)).toEqual([]);
    expect((await c.getToken('proto-conflict'))!.spec).toMatchObject({ roles: ['Node'], aws_iid_ttl: '10m' });
  });

  test('creating a token that already exists fails and suggests import', async () => {
    await server.client().createToken({ kind: 'token', version: 'v2', metadata: { name: 'proto-exists-already' }, spec: { roles: ['Node'] } });
    const config = seedConfig('proto-exists-already');
    const plan = await provider.rpc.PlanResourceChange({ type_name: TYPE, prior_state: mp(null), proposed_new_state: mp(config), config: mp(config) });
    const res = await provider.rpc.ApplyResourceChange({ type_name: TYPE, prior_state: mp(null), planned_state: plan.planned_state, config: mp(config) });
    const d = diags(res);
    expect(d).toHaveLength(1);
    expect(d[0].summary).toBe('Token already exists');
    expect(d[0].detail).toMatch(/terraform import .* proto-exists/);
    expect((await server.client().getToken('proto-exists-already'))?.spec.join_method).toBe('token'); // untouched
  });
});

describe('refresh, drift and import', () => {
  test('a token changed outside Terraform shows the change; one deleted shows as gone', async () => {
    const { state } = await planApply(provider, seedConfig('proto-drift'));
    const c = server.client();
    const { status: _status, ...current } = (await c.getToken('proto-drift'))!;
    await c.putToken({ ...current, metadata: { ...current.metadata, revision: undefined }, spec: { ...current.spec, roles: ['Node', 'Proxy'] } });
    const read = await provider.rpc.ReadResource({ type_name: TYPE, current_state: mp(state) });
    expect(diags(read)).toEqual([]);
    const refreshed = val(read.new_state);
    expect((refreshed.spec as CtyObject).roles).toEqual(['Node', 'Proxy']);
    expect(refreshed.labels).toEqual({ 'teleport.dev/origin': 'dynamic' }); // still where the config has it

    await c.deleteToken('proto-drift');
    const gone = await provider.rpc.ReadResource({ type_name: TYPE, current_state: mp(refreshed) });
    expect(val(gone.new_state)).toBeNull();
  });

  test('import by name yields a state that plans no change against the matching configuration', async () => {
    await server.client().createToken({ kind: 'token', version: 'v2', metadata: { name: 'proto-import', description: 'made by hand' }, spec: { roles: ['Node'], join_method: 'iam', allow: [{ aws_account: '222222222222' }] } });
    const res = await provider.rpc.ImportResourceState({ type_name: TYPE, id: 'proto-import' });
    expect(diags(res)).toEqual([]);
    expect(res.imported_resources).toHaveLength(1);
    const state = val(res.imported_resources[0].state);
    expect(state).toMatchObject({ id: 'proto-import', kind: 'token', version: 'v2', labels: null, metadata: { name: 'proto-import', description: 'made by hand', labels: null } });

    const config: CtyObject = {
      id: null, kind: null, version: 'v2', labels: null,
      metadata: { name: 'proto-import', description: 'made by hand', labels: null, expires: null },
      spec: { roles: ['Node'], join_method: 'iam', bot_name: null, aws_iid_ttl: null, allow: [{ aws_account: '222222222222', aws_regions: null, aws_role: null, aws_arn: null }] },
    };
    const plan = await provider.rpc.PlanResourceChange({ type_name: TYPE, prior_state: mp(state), proposed_new_state: mp({ ...config, id: state.id, kind: state.kind }), config: mp(config) });
    expect(val(plan.planned_state)).toEqual(state);

    const missing = await provider.rpc.ImportResourceState({ type_name: TYPE, id: 'no-such-token' });
    expect(diags(missing)[0].summary).toMatch(/non-existent/);
  });

  test('UpgradeResourceState re-encodes JSON state with the current schema', async () => {
    const json = Buffer.from(JSON.stringify({ id: 'x', kind: 'token', version: 'v2', metadata: { name: 'x' }, spec: { roles: ['Node'], join_method: 'token' }, obsolete: 1 }));
    const res = await provider.rpc.UpgradeResourceState({ type_name: TYPE, version: 0, raw_state: { json } });
    expect(diags(res)).toEqual([]);
    const v = val(res.upgraded_state);
    expect(v.labels).toBeNull();
    expect(v.metadata).toEqual({ name: 'x', description: null, labels: null, expires: null, namespace: null });
    expect('obsolete' in v).toBe(false);
  });

  test('the data source reads one token by name', async () => {
    await planApply(provider, seedConfig('proto-data'));
    const config = { id: null, kind: null, version: null, metadata: { name: 'proto-data', description: null, labels: null, expires: null }, spec: null };
    const res = await provider.rpc.ReadDataSource({ type_name: TYPE, config: mp(config, D) });
    expect(diags(res)).toEqual([]);
    const v = val(res.state, D);
    expect(v).toMatchObject({ id: 'proto-data', version: 'v2', metadata: { labels: { 'teleport.dev/origin': 'dynamic' } }, spec: { join_method: 'ec2', aws_iid_ttl: '5m' } });
  });
});

describe('resource identity (protocol 6.9, Terraform 1.12+)', () => {
  const identity = (name: string) => ({ identity_data: mp({ name }, IDENTITY_TYPE) });
  const idOf = (data: { identity_data?: { msgpack: Buffer } } | null | undefined) => (data ? decodeMsgpack(data.identity_data?.msgpack, IDENTITY_TYPE) : null);

  test('GetResourceIdentitySchemas names a token by its name, required for import', async () => {
    const res = await provider.rpc.GetResourceIdentitySchemas({});
    expect(diags(res)).toEqual([]);
    const schema = res.identity_schemas[TYPE];
    expect(Number(schema.version)).toBe(0);
    expect(schema.identity_attributes.map((a: any) => ({ name: a.name, type: JSON.parse(a.type.toString()), required: a.required_for_import, optional: a.optional_for_import }))).toEqual([
      { name: 'name', type: 'string', required: true, optional: false },
    ]);
  });

  test('import by identity, and the identity in every read, plan and apply answer', async () => {
    await server.client().createToken({ version: 'v2', metadata: { name: 'proto-identity' }, spec: { roles: ['Node'], join_method: 'iam', allow: [{ aws_account: '222222222222' }] } });
    const imported = await provider.rpc.ImportResourceState({ type_name: TYPE, id: '', identity: identity('proto-identity') });
    expect(diags(imported)).toEqual([]);
    const state = val(imported.imported_resources[0].state);
    expect((state.metadata as CtyObject).name).toBe('proto-identity');
    expect(idOf(imported.imported_resources[0].identity)).toEqual({ name: 'proto-identity' });

    const read = await provider.rpc.ReadResource({ type_name: TYPE, current_state: mp(state), current_identity: identity('proto-identity') });
    expect(idOf(read.new_identity)).toEqual({ name: 'proto-identity' });
    const plan = await provider.rpc.PlanResourceChange({ type_name: TYPE, prior_state: mp(state), proposed_new_state: mp(state), config: mp({ ...state, id: null }), prior_identity: identity('proto-identity') });
    expect(idOf(plan.planned_identity)).toEqual({ name: 'proto-identity' });
    const destroy = await provider.rpc.ApplyResourceChange({ type_name: TYPE, prior_state: mp(state), planned_state: mp(null), config: mp(null), planned_identity: identity('proto-identity') });
    expect(diags(destroy)).toEqual([]);
    expect(destroy.new_identity).toBeNull();

    // A name the server generates is not known at plan time: no identity until apply.
    const generated: CtyObject = { ...seedConfig(''), labels: null, metadata: { name: null, description: null, labels: null, expires: null }, spec: { roles: ['Node'], join_method: 'token', bot_name: null, aws_iid_ttl: null, allow: null } };
    const { plan: created, apply } = await planApply(provider, generated);
    expect(created.planned_identity).toBeNull();
    expect(idOf(apply.new_identity)).toEqual({ name: (val(apply.new_state).metadata as CtyObject).name });
  });

  test('import with neither an ID nor an identity asks for the name', async () => {
    const res = await provider.rpc.ImportResourceState({ type_name: TYPE, id: '' });
    expect(diags(res)).toEqual([{ severity: 'ERROR', summary: 'Missing token name', detail: expect.stringMatching(/identity = \{ name = "<token name>" \}/), path: [] }]);
  });

  test('a hostile identity name is one clear diagnostic, never an internal error or another token', async () => {
    for (const name of ['..', '../tokens', 'a/b', '%2e%2e', ' ', 'x'.repeat(5000)]) {
      const res = await provider.rpc.ImportResourceState({ type_name: TYPE, id: '', identity: identity(name) });
      expect(res.imported_resources).toEqual([]);
      expect(diags(res)).toHaveLength(1);
      expect(diags(res)[0]).toMatchObject({ severity: 'ERROR' });
      expect(diags(res)[0].summary).not.toMatch(/Internal error/);
    }
  });

  test('UpgradeResourceIdentity keeps a version 0 identity and refuses one from the future', async () => {
    const ok0 = await provider.rpc.UpgradeResourceIdentity({ type_name: TYPE, version: 0, raw_identity: { json: Buffer.from('{"name":"a-token"}') } });
    expect(diags(ok0)).toEqual([]);
    expect(idOf(ok0.upgraded_identity)).toEqual({ name: 'a-token' });
    const future = await provider.rpc.UpgradeResourceIdentity({ type_name: TYPE, version: 3, raw_identity: { json: Buffer.from('{"name":"a-token"}') } });
    expect(diags(future)[0]).toMatchObject({ severity: 'ERROR', summary: 'Cannot upgrade resource identity' });
  });
});

describe('a metadata.expires that has passed', () => {
  const expiring = (expires: string, name = 'proto-expiring'): CtyObject => {
    const c = seedConfig(name);
    return { ...c, metadata: { ...(c.metadata as CtyObject), expires } };
  };

  test('creating such a token is an error on metadata.expires at plan time', async () => {
    const config = expiring('2001-02-03T04:05:06Z');
    const plan = await provider.rpc.PlanResourceChange({ type_name: TYPE, prior_state: mp(null), proposed_new_state: mp(config), config: mp(config) });
    expect(diags(plan)).toEqual([{ severity: 'ERROR', summary: 'Token would be created expired', detail: expect.stringContaining('metadata.expires (2001-02-03T04:05:06Z) has already passed'), path: ['metadata', 'expires'] }]);
  });

  test('an existing token that expired plans with a warning, no change; renaming it (a new token) is an error', async () => {
    const { state } = await planApply(provider, expiring('2099-01-01T00:00:00Z'));
    const past = { ...state, metadata: { ...(state.metadata as CtyObject), expires: '2001-02-03T04:05:06+02:00' } };
    const plan = await provider.rpc.PlanResourceChange({ type_name: TYPE, prior_state: mp(past), proposed_new_state: mp(past), config: mp({ ...past, id: null }) });
    expect(val(plan.planned_state)).toEqual(past);
    expect(diags(plan)).toEqual([{ severity: 'WARNING', summary: 'Token has expired', detail: expect.stringContaining('Token "proto-expiring" expired at 2001-02-03T04:05:06+02:00: hosts can no longer join with it'), path: ['metadata', 'expires'] }]);

    const renamed = { ...past, id: null, metadata: { ...(past.metadata as CtyObject), name: 'proto-expiring-2' } };
    const replace = await provider.rpc.PlanResourceChange({ type_name: TYPE, prior_state: mp(past), proposed_new_state: mp(renamed), config: mp(renamed) });
    expect(diags(replace).map((d) => d.summary)).toEqual(['Token would be created expired']);
  });

  test('a token-method token\'s secret name stays masked in the warning', async () => {
    const secret = 'proto-expiring-secret-name-0123456789';
    const c = expiring('2001-02-03T04:05:06Z', secret);
    const prior = { ...c, id: 'x', kind: 'token', labels: null, spec: { ...(c.spec as CtyObject), join_method: 'token', allow: null, aws_iid_ttl: null } };
    const plan = await provider.rpc.PlanResourceChange({ type_name: TYPE, prior_state: mp(prior), proposed_new_state: mp(prior), config: mp(prior) });
    expect(diags(plan)[0].severity).toBe('WARNING');
    expect(diags(plan)[0].detail).not.toContain(secret);
  });
});

describe('API failures are one clear diagnostic', () => {
  async function configured(config: Partial<Record<'addr' | 'admin_token' | 'ca_pin' | 'ca_file', string>> & { insecure?: boolean }) {
    const p = await startProvider();
    const res = await p.rpc.ConfigureProvider({ config: mp({ addr: null, admin_token: null, ca_pin: null, ca_file: null, insecure: null, ...config }, P) });
    return { p, res };
  }

  test('without addr or JOINERY_ADDR the provider uses 127.0.0.1:3025, like the CLI', async () => {
    const { p, res } = await configured({ admin_token: 'x'.repeat(20), insecure: true });
    // Only the insecure warning: no error, since the address has a default.
    expect(diags(res)).toEqual([expect.objectContaining({ severity: 'WARNING', path: ['insecure'] })]);
    await p.close();
    expect(resolveProviderConfig({ admin_token: 'x'.repeat(20), insecure: true }, {}).options?.addr).toBe('127.0.0.1:3025');
  });

  test('insecure = true without a pin or CA file is a warning on insecure', async () => {
    const { p, res } = await configured({ addr: '127.0.0.1:1', admin_token: 'x'.repeat(20), insecure: true });
    expect(diags(res)).toEqual([expect.objectContaining({ severity: 'WARNING', summary: 'The Joinery server is not verified', path: ['insecure'] })]);
    await p.close();
  });

  test('an unreachable API', async () => {
    const { p, res } = await configured({ addr: '127.0.0.1:1', admin_token: 'x'.repeat(20), insecure: true });
    expect(diags(res).filter((d) => d.severity === 'ERROR')).toEqual([]);
    const read = await p.rpc.ImportResourceState({ type_name: TYPE, id: 'anything' });
    const d = diags(read);
    expect(d).toHaveLength(1);
    expect(d[0].summary).toBe('Cannot reach the Joinery API');
    expect(d[0].detail).toMatch(/127\.0\.0\.1:1/);
    expect(d[0].detail).not.toMatch(/\bat .*\.js:\d+/); // no stack trace
    await p.close();
  });

  test('a wrong admin token', async () => {
    const { p } = await configured({ addr: server.addr, admin_token: 'wrong-token-0123456789', ca_file: server.caFile });
    const res = await p.rpc.ApplyResourceChange({ type_name: TYPE, prior_state: mp(null), planned_state: mp({ ...seedConfig('proto-401'), id: 'proto-401', kind: 'token' }), config: mp(seedConfig('proto-401')) });
    const d = diags(res);
    expect(d).toHaveLength(1);
    expect(d[0].summary).toBe('The Joinery API rejected the admin token');
    expect(d[0].detail).toMatch(/JOINERY_ADMIN_TOKEN/);
    await p.close();
  });
});
