// The CDK Terrain line: the construct library built for cdktn (constructs/jsii/build.js --line
// cdktn), packed, and installed by its package name into an app with cdktn, constructs < 10.8 and
// @cdktn/provider-aws from the tools cache. The examples, with their imports switched to cdktn,
// synthesize with `cdktn synth` on Node 22 to the same resources as with cdktf; then the ec2-token
// stack is deployed, updated and destroyed with `cdktn deploy` / `destroy`, real Terraform and the
// teleport provider against a live Joinery API, as test/e2e-cdktf/deploy.test.ts does for cdktf.

import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Testing } from 'cdktf';
import { IamJoinStack } from '../../examples/iam-join/stack';
import { MultiAccountEc2Stack } from '../../examples/multi-account-ec2/stack';
import { AuthServiceIamStack, Ec2TokenStack } from '../../examples/single-account-ec2/stack';
import { EXECUTABLE_NAME, PROVIDER_SOURCE, providerVersion } from '../../provider/address';
import { CDK_TOOLS, installCdkTools, NODE22 } from '../jsii/tools';
import { REPO_ROOT, startTestServer, TestServer } from '../support/server';
import { TF_BIN_DIR, TOOL_VERSIONS } from '../support/terraform';

jest.setTimeout(900_000);

const CDKTN_MODULES = path.join(CDK_TOOLS, 'cdktn', 'node_modules');
const CDKTN = path.join(CDKTN_MODULES, 'cdktn-cli', 'bin', 'cdktn');
const PROVIDER_JS = path.join(REPO_ROOT, 'dist', 'provider', 'main.js');
// The newest Terraform scripts/install-terraform.sh builds, unless TERRAFORM_BINARY_NAME names another.
const TERRAFORM = process.env.TERRAFORM_BINARY_NAME || path.join(TF_BIN_DIR, `terraform-${TOOL_VERSIONS.newest.terraform}`);
const PACKAGE = '@joinery/constructs-cdktn';
const EXAMPLES = ['single-account-ec2', 'multi-account-ec2', 'iam-join'];

let work: string;
let app: string;
let server: TestServer | undefined;

/** An example's source with its imports switched to the CDK Terrain line and the packaged library. */
function toCdktn(text: string): string {
  return text
    .replace(/from 'cdktf'/g, "from 'cdktn'")
    .replace(/from '@cdktf\/provider-aws\//g, "from '@cdktn/provider-aws/")
    .replace(/from '\.\.\/\.\.\/constructs'/g, `from '${PACKAGE}'`);
}

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE22, [CDKTN, ...args], { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code: code ?? -1, output }));
  });
}

async function cdktn(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const r = await run(args, env);
  if (r.code !== 0) throw new Error(`cdktn ${args.join(' ')} exited with ${r.code}:\n${r.output}${server ? `\n--- server output ---\n${server.output()}` : ''}`);
  return r.output;
}

function baseEnv(rc: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${path.dirname(NODE22)}${path.delimiter}${process.env.PATH}`,
    TERRAFORM_BINARY_NAME: TERRAFORM,
    TF_CLI_CONFIG_FILE: rc,
    TF_IN_AUTOMATION: '1',
    CHECKPOINT_DISABLE: '1',
    CDKTF_DISABLE_PLUGIN_CACHE_ENV: '1',
    CI: '1',
    FORCE_COLOR: '0',
  };
  delete env.NODE_PATH;
  delete env.TF_PLUGIN_CACHE_DIR;
  return env;
}

/** Providers, resources and data sources without the "//" metadata. */
function blocks(tf: Record<string, unknown>): unknown {
  const strip = (x: unknown): unknown =>
    Array.isArray(x) ? x.map(strip) : x && typeof x === 'object' ? Object.fromEntries(Object.entries(x).filter(([k]) => k !== '//').map(([k, v]) => [k, strip(v)])) : x;
  return strip({ resource: tf.resource, data: tf.data });
}

beforeAll(() => {
  installCdkTools();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-cdktn-'));
  execFileSync(process.execPath, [path.join(REPO_ROOT, 'constructs', 'jsii', 'build.js'), '--line', 'cdktn', '--out', path.join(work, 'build'), '--pack'], { stdio: 'inherit' });
  const [tarball] = fs.readdirSync(path.join(work, 'build', 'dist', 'js'));

  // The app: its dependencies as a user would have them, the library from its npm tarball.
  app = path.join(work, 'app');
  const modules = path.join(app, 'node_modules');
  for (const dep of ['cdktn', 'constructs', '@cdktn/provider-aws']) {
    fs.mkdirSync(path.dirname(path.join(modules, dep)), { recursive: true });
    fs.symlinkSync(path.join(CDKTN_MODULES, dep), path.join(modules, dep));
  }
  const pkg = path.join(modules, PACKAGE);
  fs.mkdirSync(pkg, { recursive: true });
  execFileSync('tar', ['-xzf', path.join(work, 'build', 'dist', 'js', tarball), '-C', pkg, '--strip-components=1']);
  const manifest = JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8'));
  expect(manifest.peerDependencies).toEqual({ cdktn: '^0.24.0', constructs: '>=10.6.0 <10.8.0', '@cdktn/provider-aws': '^25.0.0' });
  expect(JSON.stringify(manifest)).not.toMatch(/cdktf/);

  for (const example of EXAMPLES) {
    const dir = path.join(app, example);
    fs.mkdirSync(dir);
    for (const file of ['main.ts', 'stack.ts']) {
      fs.writeFileSync(path.join(dir, file), toCdktn(fs.readFileSync(path.join(REPO_ROOT, 'examples', example, file), 'utf8')));
    }
  }
  fs.writeFileSync(
    path.join(app, 'cdktf.json'),
    JSON.stringify({
      language: 'typescript',
      app: `${JSON.stringify(NODE22)} ${JSON.stringify(path.join(REPO_ROOT, 'examples', 'run.js'))} single-account-ec2/main.ts`,
      output: 'cdktf.out',
      projectId: 'joinery-e2e-cdktn',
      sendCrashReports: 'false',
    }),
  );
});

afterAll(async () => {
  await server?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('the cdktn build', () => {
  it('runs on Node 22.19 or newer, as cdktn requires', () => {
    const [major, minor] = execFileSync(NODE22, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim().split('.').map(Number);
    expect(major === 22 ? minor >= 19 : major > 22).toBe(true);
  });

  it('imports cdktn, not cdktf', () => {
    const lib = path.join(app, 'node_modules', PACKAGE, 'lib', 'constructs');
    const validation = fs.readFileSync(path.join(lib, 'token-validation.js'), 'utf8');
    expect(validation).toMatch(/require\("cdktn"\)/);
    expect(validation).not.toMatch(/require\("cdktf"\)/);
    expect(fs.readFileSync(path.join(lib, 'aws', 'describe-instances.js'), 'utf8')).toMatch(/require\("@cdktn\/provider-aws\/lib\/iam-policy"\)/);
  });
});

describe('cdktn synth of the examples (Node 22)', () => {
  const cdktf: Record<string, Record<string, unknown>> = {};
  beforeAll(() => {
    const stacks: Array<[string, (a: App) => unknown]> = [
      ['auth-service-iam', (a) => new AuthServiceIamStack(a, 'auth-service-iam')],
      ['ec2-token', (a) => new Ec2TokenStack(a, 'ec2-token')],
      ['multi-account-ec2', (a) => new MultiAccountEc2Stack(a, 'multi-account-ec2')],
      ['iam-join', (a) => new IamJoinStack(a, 'iam-join')],
    ];
    for (const [name, make] of stacks) cdktf[name] = JSON.parse(Testing.synth(make(Testing.app()) as never));
  });

  const cases: Array<[string, string[]]> = [
    ['single-account-ec2', ['auth-service-iam', 'ec2-token']],
    ['multi-account-ec2', ['multi-account-ec2']],
    ['iam-join', ['iam-join']],
  ];
  it.each(cases)('%s gives the same resources as with cdktf', async (example, stacks) => {
    const rc = path.join(work, 'empty.tfrc');
    fs.writeFileSync(rc, '');
    const output = path.join(work, 'synth', example);
    fs.mkdirSync(path.dirname(output), { recursive: true });
    await cdktn(['synth', '--output', output, '--app', `${JSON.stringify(NODE22)} ${JSON.stringify(path.join(REPO_ROOT, 'examples', 'run.js'))} ${example}/main.ts`], baseEnv(rc));
    expect(fs.readdirSync(path.join(output, 'stacks')).sort()).toEqual([...stacks].sort());
    for (const stack of stacks) {
      const tf = JSON.parse(fs.readFileSync(path.join(output, 'stacks', stack, 'cdk.tf.json'), 'utf8'));
      expect(tf.resource).toBeDefined();
      expect(blocks(tf)).toEqual(blocks(cdktf[stack]));
    }
  });
});

describe('cdktn deploy / destroy of the ec2-token stack', () => {
  const STACK = 'ec2-token';
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    for (const [what, file] of [
      ['Terraform (scripts/install-test-deps.sh builds it; or set TERRAFORM_BINARY_NAME)', TERRAFORM],
      ['the compiled provider (npm run build)', PROVIDER_JS],
    ]) {
      if (!fs.existsSync(file)) throw new Error(`${what} is missing: ${file}`);
    }
    // A filesystem mirror with the provider, and a CLI configuration that installs from it only.
    const [host, namespace, type] = PROVIDER_SOURCE.split('/');
    const platform = `${process.platform}_${process.arch === 'x64' ? 'amd64' : process.arch}`;
    const dir = path.join(work, 'mirror', host, namespace, type, providerVersion(), platform);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, EXECUTABLE_NAME), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(PROVIDER_JS)} "$@"\n`, { mode: 0o755 });
    const rc = path.join(work, 'terraformrc');
    fs.writeFileSync(
      rc,
      `provider_installation {
  filesystem_mirror {
    path    = ${JSON.stringify(path.join(work, 'mirror'))}
    include = [${JSON.stringify(PROVIDER_SOURCE)}]
  }
  direct {
    exclude = [${JSON.stringify(PROVIDER_SOURCE)}]
  }
}
`,
    );
    server = await startTestServer();
    env = { ...baseEnv(rc), JOINERY_ADDR: server.addr, JOINERY_ADMIN_TOKEN: server.adminToken, JOINERY_CA_PIN: server.caPin };
    delete env.JOINERY_CA_FILE;
    delete env.JOINERY_INSECURE;
  });

  it('creates the token', async () => {
    await cdktn(['deploy', STACK, '--auto-approve', '--skip-provider-lock', '--no-color'], env);
    const token = await server!.client().getToken('ec2-token');
    expect(token?.spec).toEqual({
      roles: ['Node'],
      join_method: 'ec2',
      aws_iid_ttl: '5m',
      allow: [{ aws_account: '111111111111', aws_regions: ['us-west-1', 'us-west-2'] }],
    });
  });

  it('updates the token in place when the app changes', async () => {
    const file = path.join(app, 'single-account-ec2', 'stack.ts');
    const text = fs.readFileSync(file, 'utf8');
    const from = "name: 'ec2-token',";
    if (!text.includes(from)) throw new Error(`the example's stack.ts no longer contains ${JSON.stringify(from)}; update this test`);
    fs.writeFileSync(file, text.replace(from, `${from}\n      awsIidTtl: '15m',\n      roles: ['Node', 'App'],`));
    await cdktn(['deploy', STACK, '--auto-approve', '--skip-provider-lock', '--no-color'], env);
    const token = await server!.client().getToken('ec2-token');
    expect(token?.spec).toMatchObject({ roles: ['Node', 'App'], aws_iid_ttl: '15m' });
    expect((await server!.client().listTokens()).map((t) => t.metadata.name)).toEqual(['ec2-token']);
  });

  it('destroys the token', async () => {
    await cdktn(['destroy', STACK, '--auto-approve', '--no-color'], env);
    expect(await server!.client().getToken('ec2-token')).toBeUndefined();
  });
});
