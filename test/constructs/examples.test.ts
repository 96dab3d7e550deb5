// The example apps: their stacks synthesize what their READMEs describe, and `cdktf synth` runs
// them offline from the repository root (the root cdktf.json selects single-account-ec2).
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { Testing } from 'cdktf';
import { AuthServiceIamStack, Ec2TokenStack } from '../../examples/single-account-ec2/stack';
import { MultiAccountEc2Stack } from '../../examples/multi-account-ec2/stack';
import { IamJoinStack } from '../../examples/iam-join/stack';
import { ref } from './synth';

const REPO = path.resolve(__dirname, '..', '..');
const CDKTF = path.join(REPO, 'node_modules', '.bin', 'cdktf');
const run = promisify(execFile);

function synthStack<T extends import('cdktf').TerraformStack>(make: (app: import('cdktf').App) => T): { stack: T; out: any } {
  const app = Testing.app();
  const stack = make(app);
  return { stack, out: JSON.parse(Testing.synth(stack)) };
}

const values = (o: Record<string, any> | undefined) => Object.values(o ?? {}).map(({ '//': _m, ...rest }) => rest);

describe('example stacks', () => {
  it('single-account-ec2: the policy attached to the Auth Service role, and the seed ec2-token', () => {
    const iam = synthStack((app) => new AuthServiceIamStack(app, 'auth-service-iam')).out;
    expect(values(iam.resource.aws_iam_policy).map((p) => [p.name, JSON.parse(p.policy)])).toEqual([
      ['teleport-DescribeInstances-policy', { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ec2:DescribeInstances', Resource: '*' }] }],
    ]);
    expect(values(iam.resource.aws_iam_role_policy_attachment)).toEqual([expect.objectContaining({ role: 'teleport-auth-service' })]);
    expect(iam.resource.teleport_provision_token).toBeUndefined();

    const tokens = synthStack((app) => new Ec2TokenStack(app, 'ec2-token')).out;
    expect(Object.keys(tokens.resource)).toEqual(['teleport_provision_token']);
    expect(values(tokens.resource.teleport_provision_token)).toEqual([
      {
        version: 'v2',
        metadata: { name: 'ec2-token', labels: { 'joinery.dev/managed-by': 'cdktf' } },
        spec: { roles: ['Node'], join_method: 'ec2', aws_iid_ttl: '5m', allow: [{ aws_account: '111111111111', aws_regions: ['us-west-1', 'us-west-2'] }] },
      },
    ]);
  });

  it('multi-account-ec2: roles, assume-role policy and token in one stack, wired by reference', () => {
    const { stack, out } = synthStack((app) => new MultiAccountEc2Stack(app, 'multi-account-ec2'));
    const roles = stack.join.roles;
    expect(values(out.resource.aws_iam_role).map((r) => [r.provider, r.name])).toEqual([
      ['aws.account_222222222222', 'teleport-DescribeInstances-role'],
      ['aws.account_333333333333', 'teleport-DescribeInstances-role'],
    ]);
    const assume = values(out.resource.aws_iam_policy).find((p) => p.name === 'teleport-AssumeRole-policy')!;
    expect(JSON.parse(assume.policy).Statement.map((s: { Resource: string }) => s.Resource)).toEqual(roles.map((r) => ref(r.role, 'arn')));
    expect(values(out.resource.teleport_provision_token)[0].spec.allow).toEqual([
      { aws_account: '222222222222', aws_regions: ['us-west-1', 'us-west-2'], aws_role: ref(roles[0].role, 'arn') },
      { aws_account: '333333333333', aws_regions: ['us-west-1', 'us-west-2'], aws_role: ref(roles[1].role, 'arn') },
    ]);
  });

  it('iam-join: the empty role and the seed iam-token, whose third rule is the role', () => {
    const { stack, out } = synthStack((app) => new IamJoinStack(app, 'iam-join'));
    const token = values(out.resource.teleport_provision_token)[0];
    expect(token.metadata).toEqual({ name: 'iam-token', labels: { 'joinery.dev/managed-by': 'cdktf' } });
    expect(token.spec.join_method).toBe('iam');
    expect(token.spec.allow.slice(0, 2)).toEqual([{ aws_account: '111111111111' }, { aws_account: '222222222222' }]);
    expect(token.spec.allow[2].aws_arn).toContain(`:assumed-role/${ref(stack.role.role, 'name')}/i-*`);
    expect(values(out.resource.aws_iam_role).map((r) => r.name)).toEqual(['teleport-node-role']);
  });
});

describe('cdktf synth (the CLI, offline)', () => {
  let outDir: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(() => {
    if (!fs.existsSync(CDKTF)) throw new Error(`${CDKTF} is missing: cdktf-cli is a devDependency, run npm install`);
    outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-synth-'));
    const rc = path.join(outDir, 'terraformrc');
    fs.writeFileSync(rc, '');
    env = { ...process.env, CHECKPOINT_DISABLE: '1', CI: '1', FORCE_COLOR: '0', TF_CLI_CONFIG_FILE: rc, CDKTF_DISABLE_PLUGIN_CACHE_ENV: '1' };
  });
  afterAll(() => fs.rmSync(outDir, { recursive: true, force: true }));

  const cases: Array<[string, string[], string[]]> = [
    ['the example the root cdktf.json selects', [], ['auth-service-iam', 'ec2-token']],
    ['multi-account-ec2', ['--app', 'node examples/run.js multi-account-ec2'], ['multi-account-ec2']],
    ['iam-join', ['--app', 'node examples/run.js iam-join'], ['iam-join']],
  ];

  it.each(cases)('synthesizes %s', async (name, args, stacks) => {
    const output = path.join(outDir, name.replace(/\W+/g, '-'));
    await run(CDKTF, ['synth', '--output', output, ...args], { cwd: REPO, env, timeout: 120_000 });
    expect(fs.readdirSync(path.join(output, 'stacks')).sort()).toEqual([...stacks].sort());
    for (const stack of stacks) {
      const tf = JSON.parse(fs.readFileSync(path.join(output, 'stacks', stack, 'cdk.tf.json'), 'utf8'));
      expect(tf.resource).toBeDefined();
    }
  });
});
