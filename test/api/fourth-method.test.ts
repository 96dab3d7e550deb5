// A fourth join method needs its module and one registration, nothing else: this suite defines a
// test-only method ("fake": the host's word, prefixed `fake:`, is its proof), registers it, and
// checks that the route, the audit (event type, codes, schema, docs table), the OpenAPI operation
// and the refusal reference all follow. The one thing it writes around is the token resource: its
// join_method enum (schema/token-fields.ts JOIN_METHODS) is the list of names a token may carry,
// shared with the Terraform provider and the constructs, so the fake method's token is put into
// the store directly. The last tests hold the three lists of names (token schema, server registry,
// host provers) equal for the real methods.

import { generateKeyPairSync } from 'node:crypto';
import { eventCode, eventTypes } from '../../api/audit/catalog';
import { bundleSchema, eventTypeTable, schemaFiles } from '../../api/audit/schemas';
import { badJoinRequest } from '../../api/join/errors';
import type { JoinMethodModule } from '../../api/join/method';
import { joinMethodModules, registerJoinMethod } from '../../api/join/methods';
import { refusalReference } from '../../api/join/refusal-reference';
import { refusalsFor, refusalTable } from '../../api/join/refusals';
import { openApiDocument } from '../../api/server/openapi';
import { hostProverMethods } from '../../cli/agent/provers';
import { JOIN_METHODS, type JoinMethod } from '../../schema/token-fields';
import { startLifecycleServer, type LifecycleServer } from '../lifecycle/support';

// The name is outside the token schema's JoinMethod union: that is the point of the test.
const FAKE = 'fake' as JoinMethod;

const fakeMethod: JoinMethodModule<string> = {
  method: FAKE,
  summary: 'Join with a test-only fake attestation',
  fields: { attestation: { type: 'string', required: true, description: 'fake:<anything>' } },
  eventCodes: { accepted: 'JJ900I', refused: 'JJ900W', meaning: 'test only: a host joined (or was refused) with a fake attestation' },
  readProof(body) {
    if (typeof body.attestation !== 'string' || !/^fake:[a-z0-9-]{1,32}$/.test(body.attestation)) throw badJoinRequest('invalid_request', 'attestation must be fake:<name>');
    return body.attestation;
  },
  async verify(_svc, _token, proof) {
    return { facts: { attested_as: proof.slice('fake:'.length) }, attributes: { attested_as: proof.slice('fake:'.length) } };
  },
  evaluate() {
    return { checks: [], rules: [] };
  },
};

const publicKey = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'pem' }) as string;

let s: LifecycleServer;

beforeAll(async () => {
  registerJoinMethod(fakeMethod);
  s = await startLifecycleServer();
  await s.server.store.tokens.create({ version: 'v2', kind: 'token', metadata: { name: 'fake-token' }, spec: { roles: ['Node'], join_method: FAKE } } as never);
});
afterAll(() => s?.stop());

test('the registry refuses a second method of the same name or with another method\'s event codes', () => {
  expect(() => registerJoinMethod(fakeMethod)).toThrow(/already registered/);
  expect(() => registerJoinMethod({ ...fakeMethod, method: 'fake2' as JoinMethod, eventCodes: { ...fakeMethod.eventCodes, accepted: 'JJ002I' } })).toThrow(/collide with ec2/);
  expect(() => registerJoinMethod({ ...fakeMethod, method: 'Fake/../x' as JoinMethod })).toThrow(/lower-case/);
  expect(joinMethodModules().map((m) => m.method)).toEqual(['token', 'ec2', 'iam', 'fake']);
});

test('the route POST /v1/join/fake joins through the pipeline and audits join.fake with its codes', async () => {
  const ok = await s.request('POST', '/v1/join/fake', { body: { token_name: 'fake-token', role: 'Node', attestation: 'fake:web-1', public_key: publicKey() } });
  expect(ok.status).toBe(200);
  expect(ok.json()).toMatchObject({ host_id: expect.any(String), certificate: expect.stringContaining('BEGIN CERTIFICATE') });

  // The pipeline's own checks apply to the new method unchanged: an unknown field, a wrong role, a token of another method.
  const unknown = await s.request('POST', '/v1/join/fake', { body: { token_name: 'fake-token', role: 'Node', attestation: 'fake:web-2', iid: 'x', public_key: publicKey() } });
  expect([unknown.status, unknown.json().error.code]).toEqual([400, 'invalid_request']);
  expect(unknown.json().error.message).toContain('attestation');
  const role = await s.request('POST', '/v1/join/fake', { body: { token_name: 'fake-token', role: 'Auth', attestation: 'fake:web-3', public_key: publicKey() } });
  expect([role.status, role.json().error.code]).toEqual([403, 'role_not_allowed']);
  await s.admin('POST', '/v1/tokens', { version: 'v2', metadata: { name: 'a-token-method-secret-0123456789' }, spec: { roles: ['Node'] } });
  const other = await s.request('POST', '/v1/join/fake', { body: { token_name: 'a-token-method-secret-0123456789', role: 'Node', attestation: 'fake:web-4', public_key: publicKey() } });
  expect([other.status, other.json().error.code]).toEqual([403, 'join_method_mismatch']);

  const events = (await s.admin<{ events: { type: string; eventCode: string; success: boolean; code?: string; details?: { identity?: Record<string, string> } }[] }>('GET', '/v1/audit?type=join.fake')).events;
  expect(events.map((e) => [e.success, e.eventCode, e.code ?? 'ok'])).toEqual(
    expect.arrayContaining([
      [true, 'JJ900I', 'ok'],
      [false, 'JJ900W', 'invalid_request'],
      [false, 'JJ900W', 'role_not_allowed'],
      [false, 'JJ900W', 'join_method_mismatch'],
    ]),
  );
  expect(events.find((e) => e.success)!.details!.identity).toMatchObject({ attested_as: 'web-1' });
  // GET /v1/audit/schema knows the type.
  const schema = await s.request('GET', '/v1/audit/schema?type=join.fake');
  expect(schema.status).toBe(200);
  expect(JSON.stringify(schema.json())).toContain('JJ900W');
});

test('a challenge route exists only for a method that declares one; no route for a name nobody registered', async () => {
  expect((await s.request('POST', '/v1/join/iam/challenge')).status).toBe(200);
  for (const p of ['/v1/join/fake/challenge', '/v1/join/token/challenge', '/v1/join/__proto__', '/v1/join/constructor']) {
    const r = await s.request('POST', p, { body: { token_name: 'fake-token', role: 'Node', attestation: 'fake:x', public_key: publicKey() } });
    expect({ p, status: r.status }).toEqual({ p, status: 404 });
  }
});

test('the audit catalog and its JSON Schemas carry join.fake', () => {
  expect(eventTypes().find((t) => t.type === 'join.fake')).toEqual({ type: 'join.fake', accepted: 'JJ900I', refused: 'JJ900W', meaning: fakeMethod.eventCodes.meaning, details: 'join' });
  expect([eventCode('join.fake', true), eventCode('join.fake', false)]).toEqual(['JJ900I', 'JJ900W']);
  expect(schemaFiles().has('join.fake.schema.json')).toBe(true);
  expect(Object.keys(bundleSchema().$defs as object)).toContain('join.fake');
  // docs/audit.md's table, as `npm run gen:audit-schemas` would write it.
  expect(eventTypeTable()).toContain(`| \`join.fake\` | \`JJ900I\` | \`JJ900W\` | ${fakeMethod.eventCodes.meaning} |`);
});

test('the OpenAPI document has POST /v1/join/fake from the module: its fields, required ones and refusal codes', async () => {
  const doc = (await s.request('GET', '/v1/openapi.json')).json();
  const op = doc.paths['/v1/join/fake'].post;
  expect(op.summary).toBe(fakeMethod.summary);
  const body = op.requestBody.content['application/json'].schema;
  expect(body.required).toEqual(['token_name', 'role', 'attestation', 'public_key']);
  expect(Object.keys(body.properties)).toEqual(['token_name', 'role', 'attestation', 'public_key', 'agent_version', 'hostname', 'dry_run']);
  expect(op['x-refusal-codes']).toEqual(refusalsFor(FAKE));
  expect(doc['x-refusal-codes'].fake).toEqual(refusalsFor(FAKE));
  // A method without codes of its own gives the codes of every join, and nothing of ec2's.
  expect(Object.keys(op['x-refusal-codes'])).toContain('token_not_found');
  expect(Object.keys(op['x-refusal-codes'])).not.toContain('iid_malformed');
  expect(openApiDocument('x').paths).toHaveProperty('/v1/join/fake');
});

test('the refusal reference (docs/refusals.md) has a section for the fake method', () => {
  const doc = refusalReference();
  expect(doc).toContain('## POST /v1/join/fake\n\nJoin with a test-only fake attestation. Audit event `join.fake` (JJ900I / JJ900W).\n\n' + refusalTable(FAKE));
});

test('the real methods: the token schema\'s join_method names, the server registry and the host provers agree', () => {
  const served = joinMethodModules().map((m) => m.method).filter((m) => m !== FAKE);
  expect(served).toEqual([...JOIN_METHODS]);
  expect(hostProverMethods()).toEqual([...JOIN_METHODS]);
});
