// The token's fields as Teleport defines them (api/types/provisioning.go, api/types/constants.go
// OriginValues), and the one declaration (schema/token-fields.ts) every consumer follows.

import { openApiDocument } from '../../api/server/openapi';
import { RESOURCE_SCHEMA } from '../../provider/schema';
import { allFields, FIELD_DOCS, ORIGINS, TOKEN_FIELDS } from '../../schema/token-fields';
import { parseToken, validateToken } from '../../schema/token';

const ec2 = (extra: Record<string, unknown> = {}, md: Record<string, unknown> = {}) => ({
  kind: 'token',
  version: 'v2',
  metadata: { name: 'ec2-token', ...md },
  spec: { roles: ['Node'], join_method: 'ec2', allow: [{ aws_account: '111111111111' }], ...extra },
});

describe('metadata as Teleport (api/types/constants.go OriginValues)', () => {
  test.each(['defaults', 'config-file', 'dynamic', 'cloud', 'kubernetes', 'okta', 'scim', 'discovery-kubernetes', 'entra-id', 'aws-identity-center'])('origin %s is accepted', (origin) => {
    expect(parseToken(ec2({}, { labels: { 'teleport.dev/origin': origin } })).metadata.labels).toEqual({ 'teleport.dev/origin': origin });
  });

  test.each(['terraform', 'integration_awsoidc', 'Dynamic', ''])('origin %j is not one of Teleport\'s values and is refused', (origin) => {
    const r = validateToken(ec2({}, { labels: { 'teleport.dev/origin': origin } }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0].field).toBe('metadata.labels["teleport.dev/origin"]');
  });

  test('the declared origins are exactly Teleport\'s', () => {
    expect([...ORIGINS].sort()).toEqual(['aws-identity-center', 'cloud', 'config-file', 'defaults', 'discovery-kubernetes', 'dynamic', 'entra-id', 'kubernetes', 'okta', 'scim']);
  });
});

describe('what a `tctl get tokens` export of an ec2, iam or token token carries loads and round-trips', () => {
  const exported = {
    kind: 'token',
    sub_kind: '',
    version: 'v2',
    metadata: { name: 'ec2-token', namespace: 'default', revision: 'a7c1e0de-0000-4000-8000-000000000000', labels: { 'teleport.dev/origin': 'dynamic' } },
    spec: {
      roles: ['Node'],
      join_method: 'ec2',
      aws_iid_ttl: '5m0s', // Go's spelling of 5m
      allow: [{ aws_account: '111111111111', aws_regions: ['us-west-1'] }],
      suggested_labels: { env: 'prod', team: ['a', 'b'] },
      suggested_agent_matcher_labels: { '*': '*' },
    },
  };

  test('every field is kept', () => {
    const t = parseToken(exported);
    expect(t.metadata.namespace).toBe('default');
    expect(t.spec.suggested_labels).toEqual({ env: 'prod', team: ['a', 'b'] });
    expect(t.spec.suggested_agent_matcher_labels).toEqual({ '*': '*' });
    expect(t.spec.aws_iid_ttl).toBe('5m0s');
    expect(parseToken(JSON.parse(JSON.stringify(t)))).toEqual(t);
  });

  test.each([
    [{ ...exported, sub_kind: 'other' }, 'sub_kind'],
    [{ ...exported, metadata: { ...exported.metadata, namespace: 'team-a' } }, 'metadata.namespace'],
    [{ ...exported, spec: { ...exported.spec, suggested_labels: { 'bad key': 'x' } } }, 'spec.suggested_labels["bad key"]'],
    [{ ...exported, spec: { ...exported.spec, suggested_labels: { env: [1] } } }, 'spec.suggested_labels["env"]'],
    [{ ...exported, spec: { ...exported.spec, suggested_labels: 'env=prod' } }, 'spec.suggested_labels'],
  ])('a wrong value is refused with its field (%#)', (doc, field) => {
    const r = validateToken(doc);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0].field).toBe(field);
  });
});

describe('one declaration', () => {
  test('FIELD_DOCS, the OpenAPI Token schema and the provider resource cover every declared field', () => {
    const paths = allFields().map((f) => f.path);
    expect(Object.keys(FIELD_DOCS).sort()).toEqual([...paths].sort());
    const doc = openApiDocument('test') as { components: { schemas: Record<string, any> } };
    const tokenSchema = doc.components.schemas.Token;
    const lookup = (schema: any, path: string[]): any =>
      path.reduce((s, p) => (s?.properties?.[p] ?? s?.items?.properties?.[p] ?? (s?.items?.$ref ? doc.components.schemas[s.items.$ref.split('/').pop()].properties[p] : undefined)), schema);
    for (const p of paths) expect([p, lookup(tokenSchema, p.split('.'))?.description]).toEqual([p, FIELD_DOCS[p]]);
    const providerNames = (attrs: any[], prefix = ''): string[] =>
      attrs.flatMap((a) => [prefix + a.name, ...(a.nested ? providerNames(a.nested.attributes, `${prefix}${a.name}.`) : [])]);
    const provider = providerNames(RESOURCE_SCHEMA.attributes);
    // Server-assigned revision lives in private state; every other field is an attribute.
    expect(paths.filter((p) => p !== 'metadata.revision' && !provider.includes(p))).toEqual([]);
  });

  test('every field has documentation', () => {
    for (const { path, field } of allFields(TOKEN_FIELDS)) expect([path, field.doc.length > 10]).toEqual([path, true]);
  });
});

test('an empty aws_organization_id is unset, as Teleport reads Go\'s zero value: not stored, no organization check', () => {
  const t = parseToken({ kind: 'token', version: 'v2', metadata: { name: 'iam-token' }, spec: { roles: ['Node'], join_method: 'iam', allow: [{ aws_account: '111111111111', aws_organization_id: '' }] } });
  expect(t.spec.allow).toEqual([{ aws_account: '111111111111' }]);
});
