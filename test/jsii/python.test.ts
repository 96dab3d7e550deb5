// The construct library from Python: jsii compiles it, jsii-pacmak builds the wheel, the wheel is
// installed into a virtual environment that has cdktf (and its AWS provider) from PyPI, and a
// Python port of the multi-account-ec2 example synthesizes the same Terraform JSON as the
// TypeScript example does; and API.md, generated from the same assembly, is current. Tools come
// from scripts/install-cdk-tools.sh (cached).

import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { Testing, TerraformOutput, TerraformStack } from 'cdktf';
import { CaSigningKey, Lock, TeleportProvider } from '../../constructs';
import { MultiAccountEc2Stack } from '../../examples/multi-account-ec2/stack';
import { REPO_ROOT } from '../support/server';
import { CDK_TOOLS, installCdkTools, NODE22 } from './tools';

jest.setTimeout(900_000);

const VENV_PYTHON = path.join(CDK_TOOLS, 'venv', 'bin', 'python');

type Tf = { resource: Record<string, Record<string, Record<string, unknown>>>; provider: Record<string, unknown[]>; data?: unknown };

/** The stack's providers, resources and data sources without cdktf's "//" metadata. */
function blocks(tf: Tf): Record<string, unknown> {
  const strip = (x: unknown): unknown =>
    Array.isArray(x) ? x.map(strip) : x && typeof x === 'object' ? Object.fromEntries(Object.entries(x).filter(([k]) => k !== '//').map(([k, v]) => [k, strip(v)])) : x;
  return strip({ provider: tf.provider, resource: tf.resource, data: tf.data }) as Record<string, unknown>;
}

let work: string;
let python: Tf;

beforeAll(() => {
  installCdkTools();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-jsii-python-'));
  execFileSync(process.execPath, [path.join(REPO_ROOT, 'constructs', 'jsii', 'build.js'), '--line', 'cdktf', '--out', path.join(work, 'build'), '--python', '--docs', path.join(work, 'API.md')], { stdio: 'inherit' });
  const wheels = fs.readdirSync(path.join(work, 'build', 'dist', 'python')).filter((f) => f.endsWith('.whl'));
  expect(wheels).toHaveLength(1);
  const pip = ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-deps', '--force-reinstall'];
  execFileSync(VENV_PYTHON, [...pip, path.join(work, 'build', 'dist', 'python', wheels[0])], { stdio: 'inherit' });
  // The wheel's dependencies must already be satisfied by the PyPI packages in the venv.
  execFileSync(VENV_PYTHON, ['-m', 'pip', 'check', '--disable-pip-version-check'], { stdio: 'inherit' });

  const out = path.join(work, 'cdktf.out');
  // The jsii runtime runs the library in `node` from PATH: Node 22, a supported release.
  const env = { ...process.env, PATH: `${path.dirname(NODE22)}${path.delimiter}${process.env.PATH}` };
  const printed = execFileSync(VENV_PYTHON, [path.join(__dirname, 'multi_account_ec2.py'), out], { encoding: 'utf8', cwd: work, env });
  expect(printed).toContain('synthesized');
  python = JSON.parse(fs.readFileSync(path.join(out, 'stacks', 'multi-account-ec2', 'cdk.tf.json'), 'utf8'));
});

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('constructs/API.md', () => {
  it('is what jsii-docgen makes of the current sources (regenerate: node constructs/jsii/build.js --line cdktf --out /tmp/c --docs constructs/API.md)', () => {
    const committed = fs.readFileSync(path.join(REPO_ROOT, 'constructs', 'API.md'), 'utf8');
    expect(committed).toEqual(fs.readFileSync(path.join(work, 'API.md'), 'utf8'));
    expect(committed).toContain('fromTokenName');
  });
});

describe('CaSigningKey from Python', () => {
  it('synthesizes the key, alias, key policy and signing policy the TypeScript construct does', () => {
    const out = path.join(work, 'cdktf-ca.out');
    const env = { ...process.env, PATH: `${path.dirname(NODE22)}${path.delimiter}${process.env.PATH}` };
    const printed = execFileSync(VENV_PYTHON, [path.join(__dirname, 'ca_signing_key.py'), out], { encoding: 'utf8', cwd: work, env });
    expect(printed).toContain('synthesized');
    const py: Tf = JSON.parse(fs.readFileSync(path.join(out, 'stacks', 'ca-signing-key', 'cdk.tf.json'), 'utf8'));

    const stack = new TerraformStack(Testing.app(), 'ca-signing-key');
    new AwsProvider(stack, 'aws', { region: 'us-east-1' });
    const key = new CaSigningKey(stack, 'ca-key', { accountId: '111122223333', partition: 'aws', serverRoles: ['joinery-server'], deletionWindowInDays: 7, signingPolicy: { name: 'prod-ca-signing' } });
    key.grantSign('joinery-replica');
    new TerraformOutput(stack, 'ca_key_setting', { value: key.caKeySetting });
    const ts: Tf = JSON.parse(Testing.synth(stack));
    expect(blocks(py)).toEqual(blocks(ts));
    expect(Object.values(py.resource.aws_kms_key)[0]).toMatchObject({ customer_master_key_spec: 'ECC_NIST_P256', key_usage: 'SIGN_VERIFY' });
    expect(Object.values(py.resource.aws_iam_role_policy_attachment).map((a) => a.role)).toEqual(['joinery-server', 'joinery-replica']);
  });
});

describe('Lock (teleport_lock) from Python', () => {
  it('synthesizes the lock the TypeScript binding does', () => {
    const out = path.join(work, 'cdktf-lock.out');
    const env = { ...process.env, PATH: `${path.dirname(NODE22)}${path.delimiter}${process.env.PATH}` };
    expect(execFileSync(VENV_PYTHON, [path.join(__dirname, 'lock.py'), out], { encoding: 'utf8', cwd: work, env })).toContain('synthesized');
    const py: Tf = JSON.parse(fs.readFileSync(path.join(out, 'stacks', 'incident-lock', 'cdk.tf.json'), 'utf8'));
    const stack = new TerraformStack(Testing.app(), 'incident-lock');
    new TeleportProvider(stack, 'teleport', { addr: '127.0.0.1:3025' });
    new Lock(stack, 'incident', { instanceId: 'i-0abc', message: 'incident 42: reimage first', expires: '2030-01-01T00:00:00Z' });
    expect(blocks(py)).toEqual(blocks(JSON.parse(Testing.synth(stack))));
    expect(py.resource.teleport_lock.incident).toMatchObject({ instance_id: 'i-0abc', expires: '2030-01-01T00:00:00Z' });
  });
});

describe('the Python package built with jsii', () => {
  it('synthesizes a multi-account EC2 join identical to the TypeScript example', () => {
    const ts: Tf = JSON.parse(Testing.synth(new MultiAccountEc2Stack(Testing.app(), 'multi-account-ec2')));
    expect(blocks(python)).toEqual(blocks(ts));
  });

  it('declares the roles, policies and token of the multi-account EC2 join', () => {
    const r = python.resource;
    const roles = Object.values(r.aws_iam_role);
    expect(roles.map((x) => [x.provider, x.name])).toEqual([
      ['aws.account_222222222222', 'teleport-DescribeInstances-role'],
      ['aws.account_333333333333', 'teleport-DescribeInstances-role'],
    ]);
    const roleIds = Object.keys(r.aws_iam_role);
    const policies = Object.values(r.aws_iam_policy).map((p) => [p.provider, p.name, JSON.parse(p.policy as string)]);
    expect(policies).toContainEqual([
      'aws.auth',
      'teleport-AssumeRole-policy',
      { Version: '2012-10-17', Statement: roleIds.map((id) => ({ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: `\${aws_iam_role.${id}.arn}` })) },
    ]);
    expect(policies.filter((p) => p[1] === 'teleport-DescribeInstances-policy')).toHaveLength(2);
    const [token] = Object.values(r.teleport_provision_token);
    expect(token.spec).toEqual({
      roles: ['Node'],
      join_method: 'ec2',
      aws_iid_ttl: '5m',
      allow: [
        { aws_account: '222222222222', aws_regions: ['us-west-1', 'us-west-2'], aws_role: `\${aws_iam_role.${roleIds[0]}.arn}` },
        { aws_account: '333333333333', aws_regions: ['us-west-1', 'us-west-2'], aws_role: `\${aws_iam_role.${roleIds[1]}.arn}` },
      ],
    });
  });
});
