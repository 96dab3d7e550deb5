// The seed EC2 guide creates its token three ways; the third is a Kubernetes manifest
// (apiVersion resources.teleport.dev/v2, kind TeleportProvisionToken), read here from the seed
// copy and accepted wherever a token document is read.

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { ApiError } from '../../client/api-client';
import { fromKubernetesManifest } from '../../schema/manifest';
import { parseToken, TokenValidationError } from '../../schema/token';
import { caught } from '../support/caught';
import { REPO_ROOT, runCli, startTestServer, type TestServer } from '../support/server';

const SEEDS = path.join(REPO_ROOT, 'test', 'fixtures', 'seeds');
const manifestText = fs.readFileSync(path.join(SEEDS, 'ec2-token.k8s.yaml'), 'utf8');

test('the seed manifest is the same token as the seed token.yaml', () => {
  const fromManifest = parseToken(fromKubernetesManifest(YAML.parse(manifestText)));
  const fromYaml = parseToken(YAML.parse(fs.readFileSync(path.join(SEEDS, 'ec2-token.yaml'), 'utf8')));
  expect(fromManifest).toEqual(fromYaml);
});

test('Kubernetes bookkeeping of a kubectl export is dropped; unknown fields are refused with their path', () => {
  const exported = { ...YAML.parse(manifestText), status: { conditions: [] } };
  exported.metadata = { ...exported.metadata, namespace: 'teleport', annotations: { a: 'b' }, uid: 'x', resourceVersion: '1', creationTimestamp: '2026-01-01T00:00:00Z' };
  expect(parseToken(fromKubernetesManifest(exported)).metadata.name).toBe('ec2-token');
  const e1 = (() => {
    try {
      fromKubernetesManifest({ ...exported, apiVersion: 'resources.teleport.dev/v5' });
    } catch (e) {
      return e as TokenValidationError;
    }
  })();
  expect(e1?.errors[0].field).toBe('apiVersion');
  expect(() => fromKubernetesManifest({ ...exported, metadata: { name: 'x', expires: 'soon' } })).toThrow(/metadata.expires: unknown field/);
});

describe('through the API', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.stop());

  test('POST /v1/tokens with the seed manifest as YAML creates the token', async () => {
    const created = await server.client().request<{ metadata: { name: string }; spec: { join_method: string; aws_iid_ttl: string } }>('POST', '/v1/tokens', manifestText, { contentType: 'application/yaml' });
    expect(created.metadata.name).toBe('ec2-token');
    expect(created.spec).toMatchObject({ join_method: 'ec2', aws_iid_ttl: '5m' });
  });

  test('a manifest of another apiVersion is a 400 naming apiVersion', async () => {
    const e = await caught(server.client().request('POST', '/v1/tokens', manifestText.replace('resources.teleport.dev/v2', 'resources.teleport.dev/v1'), { contentType: 'application/yaml' }), ApiError);
    expect([e.status, e.code, e.field]).toEqual([400, 'invalid_token', 'apiVersion']);
  });
});

describe('through the CLI', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.stop());

  test('joinery create -f with the seed manifest creates the token', async () => {
    const r = await runCli(['create', '-f', path.join(SEEDS, 'ec2-token.k8s.yaml'), '--addr', server.addr, '--ca-file', server.caFile], { env: { JOINERY_ADMIN_TOKEN: server.adminToken } });
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect((await server.client().getToken('ec2-token'))?.spec.allow).toEqual([{ aws_account: '111111111111', aws_regions: ['us-west-1', 'us-west-2'] }]);
  });

  test('another kind is still refused with a one-line error', async () => {
    const r = await runCli(['create', '-f', '-', '--addr', server.addr, '--ca-file', server.caFile], { env: { JOINERY_ADMIN_TOKEN: server.adminToken }, input: 'kind: role\nversion: v7\n' });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^error: .*only kind token \(or its Kubernetes form, TeleportProvisionToken\)/);
  });
});
