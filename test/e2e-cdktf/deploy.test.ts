// `cdktf deploy` end to end: the single-account-ec2 example's token-only stack (ec2-token) is
// deployed with the real Terraform and the teleport provider against a live Joinery API, checked
// through the API, changed and deployed again (an in-place update), then destroyed.
//
// The app is a copy of the example in a temporary directory, so the test can edit it like a user
// would. Terraform finds the provider through a filesystem mirror in the same directory (the
// provider is in no registry), hence also --skip-provider-lock.

import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { providerVersion, PROVIDER_SOURCE, EXECUTABLE_NAME } from '../../provider/address';
import { REPO_ROOT, startTestServer, TestServer } from '../support/server';
import { TF_BIN_DIR, TOOL_VERSIONS } from '../support/terraform';

const CDKTF = path.join(REPO_ROOT, 'node_modules', '.bin', 'cdktf');
const EXAMPLE = path.join(REPO_ROOT, 'examples', 'single-account-ec2');
const PROVIDER_JS = path.join(REPO_ROOT, 'dist', 'provider', 'main.js');
// The newest Terraform scripts/install-terraform.sh builds, unless TERRAFORM_BINARY_NAME names another.
const TERRAFORM = process.env.TERRAFORM_BINARY_NAME || path.join(TF_BIN_DIR, `terraform-${TOOL_VERSIONS.newest.terraform}`);
const STACK = 'ec2-token';

jest.setTimeout(600_000);

interface RunResult {
  code: number;
  output: string;
}

let work: string;
let server: TestServer;
let env: NodeJS.ProcessEnv;

/** Runs the cdktf CLI in the app directory; the output is kept for failure messages. */
function cdktf(args: string[]): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(CDKTF, args, { cwd: path.join(work, 'app'), env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code: code ?? -1, output }));
  });
}

async function mustSucceed(args: string[]): Promise<string> {
  const r = await cdktf(args);
  if (r.code !== 0) throw new Error(`cdktf ${args.join(' ')} exited with ${r.code}:\n${r.output}\n--- server output ---\n${server.output()}`);
  return r.output;
}

/** Replaces one exact piece of a file of the copied app, failing when it is not there. */
function editApp(file: string, from: string, to: string): void {
  const full = path.join(work, 'app', file);
  const text = fs.readFileSync(full, 'utf8');
  if (!text.includes(from)) throw new Error(`the example's ${file} no longer contains ${JSON.stringify(from)}; update this test`);
  fs.writeFileSync(full, text.replace(from, to));
}

/** A filesystem mirror with the provider, and a CLI configuration that installs from it only. */
function writeProviderMirror(): string {
  const [host, namespace, type] = PROVIDER_SOURCE.split('/');
  const platform = `${process.platform}_${process.arch === 'x64' ? 'amd64' : process.arch}`;
  const dir = path.join(work, 'mirror', host, namespace, type, providerVersion(), platform);
  fs.mkdirSync(dir, { recursive: true });
  const exe = path.join(dir, EXECUTABLE_NAME);
  fs.writeFileSync(exe, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(PROVIDER_JS)} "$@"\n`, { mode: 0o755 });
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
  return rc;
}

beforeAll(async () => {
  for (const [what, file] of [
    ['Terraform (scripts/install-test-deps.sh builds it; or set TERRAFORM_BINARY_NAME)', TERRAFORM],
    ['the cdktf CLI (npm install)', CDKTF],
    ['the compiled provider (npm run build)', PROVIDER_JS],
  ]) {
    if (!fs.existsSync(file)) throw new Error(`${what} is missing: ${file}`);
  }
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-cdktf-'));
  const app = path.join(work, 'app');
  fs.mkdirSync(app);
  // The example, verbatim except that it imports the library by absolute path.
  for (const file of ['main.ts', 'stack.ts']) {
    const text = fs.readFileSync(path.join(EXAMPLE, file), 'utf8').split("'../../constructs'").join(JSON.stringify(path.join(REPO_ROOT, 'constructs')));
    fs.writeFileSync(path.join(app, file), text);
  }
  fs.writeFileSync(
    path.join(app, 'cdktf.json'),
    JSON.stringify({
      language: 'typescript',
      app: `${JSON.stringify(process.execPath)} ${JSON.stringify(path.join(REPO_ROOT, 'examples', 'run.js'))} main.ts`,
      output: 'cdktf.out',
      projectId: 'joinery-e2e',
      sendCrashReports: 'false',
    }),
  );
  const rc = writeProviderMirror();

  server = await startTestServer();
  env = {
    ...process.env,
    // The app's own imports (cdktf, constructs, the AWS provider) resolve from the repository.
    NODE_PATH: path.join(REPO_ROOT, 'node_modules'),
    TERRAFORM_BINARY_NAME: TERRAFORM,
    TF_CLI_CONFIG_FILE: rc,
    TF_IN_AUTOMATION: '1',
    CHECKPOINT_DISABLE: '1',
    CDKTF_DISABLE_PLUGIN_CACHE_ENV: '1',
    CI: '1',
    FORCE_COLOR: '0',
    JOINERY_ADDR: server.addr,
    JOINERY_ADMIN_TOKEN: server.adminToken,
    JOINERY_CA_PIN: server.caPin,
  };
  delete env.TF_PLUGIN_CACHE_DIR;
  delete env.JOINERY_CA_FILE;
  delete env.JOINERY_INSECURE;
});

afterAll(async () => {
  await server?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('cdktf deploy of the ec2-token example stack', () => {
  it('creates the token', async () => {
    await mustSucceed(['deploy', STACK, '--auto-approve', '--skip-provider-lock', '--no-color']);
    const token = await server.client().getToken('ec2-token');
    expect(token).toBeDefined();
    expect(token!.metadata.name).toBe('ec2-token');
    // The construct declares who manages it (the console shows CDKTF); origin stays Teleport's.
    expect(token!.metadata.labels).toEqual({ 'teleport.dev/origin': 'dynamic', 'joinery.dev/managed-by': 'cdktf' });
    expect(token!.spec).toEqual({
      roles: ['Node'],
      join_method: 'ec2',
      aws_iid_ttl: '5m',
      allow: [{ aws_account: '111111111111', aws_regions: ['us-west-1', 'us-west-2'] }],
    });
  });

  it('is up to date when nothing changed', async () => {
    const before = await server.client().getToken('ec2-token');
    const out = await mustSucceed(['deploy', STACK, '--auto-approve', '--skip-provider-lock', '--no-color']);
    expect(out).toMatch(/No changes/);
    expect(await server.client().getToken('ec2-token')).toEqual(before);
  });

  it('updates the token when the app changes, and reads it back with the data source', async () => {
    editApp('stack.ts', "awsRegions: ['us-west-1', 'us-west-2'] }", "awsRegions: ['us-west-1', 'us-west-2', 'eu-west-1'] }, { awsAccount: '222222222222' }");
    editApp('stack.ts', "name: 'ec2-token',", "name: 'ec2-token',\n      awsIidTtl: '15m',\n      roles: ['Node', 'App'],");
    // The L1 data source, reading the token after it is written.
    editApp('main.ts', "import { App } from 'cdktf';", "import { App, TerraformOutput } from 'cdktf';\nimport { DataTeleportProvisionToken } from " + JSON.stringify(path.join(REPO_ROOT, 'constructs')) + ';');
    editApp(
      'main.ts',
      "new Ec2TokenStack(app, 'ec2-token');",
      `const tokens = new Ec2TokenStack(app, 'ec2-token');
const readBack = new DataTeleportProvisionToken(tokens, 'read-back', { metadata: { name: tokens.token.tokenName }, dependsOn: [tokens.token.resource] });
new TerraformOutput(tokens, 'read_back_ttl', { value: readBack.spec.awsIidTtl });
new TerraformOutput(tokens, 'read_back_roles', { value: readBack.spec.roles });`,
    );
    const outputs = path.join(work, 'outputs.json');
    await mustSucceed(['deploy', STACK, '--auto-approve', '--skip-provider-lock', '--no-color', '--outputs-file', outputs]);
    expect(JSON.parse(fs.readFileSync(outputs, 'utf8'))[STACK]).toEqual({ read_back_ttl: '15m', read_back_roles: ['Node', 'App'] });
    const token = await server.client().getToken('ec2-token');
    expect(token!.spec).toEqual({
      roles: ['Node', 'App'],
      join_method: 'ec2',
      aws_iid_ttl: '15m',
      allow: [{ aws_account: '111111111111', aws_regions: ['us-west-1', 'us-west-2', 'eu-west-1'] }, { aws_account: '222222222222' }],
    });
    expect((await server.client().listTokens()).map((t) => t.metadata.name)).toEqual(['ec2-token']);
  });

  it('destroys the token', async () => {
    await mustSucceed(['destroy', STACK, '--auto-approve', '--no-color']);
    expect(await server.client().getToken('ec2-token')).toBeUndefined();
  });
});
