// `npm run release`, used as a new user would use it: the single-file joinery on a machine with
// no Node.js, the provider zip as Terraform's and OpenTofu's filesystem mirror with a lock file
// that is the same everywhere, and the npm tarballs installed into an empty project.
// One file, so that the release is built once per run (ensureRelease skips an unchanged build).

import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { startTestServer, type TestServer } from '../support/server';
import { terraformBinary } from '../support/terraform';
import { ensureRelease, type Release } from './release-build';

let release: Release;
let server: TestServer;
const roots: string[] = [];
const tmp = (prefix: string) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `joinery-rel-${prefix}-`));
  roots.push(d);
  return d;
};

beforeAll(async () => {
  release = ensureRelease();
  server = await startTestServer();
}, 20 * 60_000);
afterAll(async () => {
  await server?.stop();
  for (const d of roots) fs.rmSync(d, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program with exactly `env` (nothing inherited), bounded in time. */
function run(file: string, args: string[], opts: { cwd: string; env: Record<string, string>; timeoutMs?: number }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr });
    });
  });
}

function ok(r: Run, what: string): Run {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  return r;
}

describe('the single-file joinery', () => {
  let dir: string;
  let env: Record<string, string>;
  beforeAll(() => {
    dir = tmp('sea');
    fs.copyFileSync(release.joinery, path.join(dir, 'joinery'));
    fs.chmodSync(path.join(dir, 'joinery'), 0o755);
    // A PATH with nothing on it: no node, no npm, no shell tools.
    const emptyBin = path.join(dir, 'empty-bin');
    fs.mkdirSync(emptyBin);
    env = { PATH: emptyBin, HOME: dir };
  });

  test('alone in a directory, with no Node.js on PATH, joins with the token method and prints status', async () => {
    const secret = randomBytes(16).toString('hex');
    await server.client().createToken({ version: 'v2', metadata: { name: secret }, spec: { roles: ['Node'] } });
    expect(fs.readdirSync(dir).sort()).toEqual(['empty-bin', 'joinery']);

    const join = ok(await run('./joinery', ['join', '--method', 'token', '--token', secret, '--server', server.addr, '--ca-pin', server.caPin, '--data-dir', 'agent'], { cwd: dir, env }), 'join');
    const identity = JSON.parse(fs.readFileSync(path.join(dir, 'agent', 'identity.json'), 'utf8'));
    expect(join.stdout).toContain(`joined as ${identity.host_id}`);
    expect((await server.client().listNodes()).map((n) => n.host_id)).toContain(identity.host_id);

    const status = ok(await run('./joinery', ['status', '--addr', server.addr, '--ca-pin', server.caPin, '--admin-token', server.adminToken], { cwd: dir, env }), 'status');
    expect(status.stdout).toContain('test-cluster');
    expect(status.stdout).toContain(server.caPin);
    expect(status.stdout).toContain(release.version);

    const nodes = ok(await run('./joinery', ['nodes', 'ls', '--addr', server.addr, '--ca-pin', server.caPin, '--admin-token', server.adminToken], { cwd: dir, env }), 'nodes ls');
    expect(nodes.stdout).toContain(identity.host_id);
  });

  // Two stages (scripts/release/entries/sea-commands.js): the main script is the command tree, and
  // the commands' bundle, an asset with its own code cache, is compiled only when a command runs.
  // NODE_DEBUG=joinery-sea makes the executable say when it compiles that bundle.
  const COMPILED = /^JOINERY-SEA \d+: compiled the command bundle; code cache (\w+)$/m;
  const debugEnv = () => ({ ...env, NODE_DEBUG: 'joinery-sea' });

  test.each([[['--version']], [['version']], [['--help']]])('joinery %j answers from the command tree, without compiling the commands', async (argv) => {
    const r = ok(await run('./joinery', argv, { cwd: dir, env: debugEnv() }), argv.join(' '));
    expect(r.stdout).toMatch(argv[0].includes('version') ? new RegExp(`^joinery ${release.version.replace(/\./g, '\\.')}\n$`) : /^Usage: joinery/);
    expect(r.stderr).not.toMatch(COMPILED);
  });

  test('a command compiles the commands once, with the code cache the build made for the embedded Node', async () => {
    const help = ok(await run('./joinery', ['join', '--help'], { cwd: dir, env: debugEnv() }), 'join --help');
    expect(help.stdout).toMatch(/^Usage: joinery join \[options\]/);
    expect(help.stdout).toContain('--ca-pin');
    expect(help.stderr.match(new RegExp(COMPILED.source, 'gm'))).toHaveLength(1);
    expect(COMPILED.exec(help.stderr)?.[1]).toBe('accepted');
  });

  test('a code cache V8 refuses (another V8 flag set, here --jitless) only costs the compile: the command still runs', async () => {
    const r = ok(await run('./joinery', ['join', '--help'], { cwd: dir, env: { ...debugEnv(), NODE_OPTIONS: '--jitless' } }), 'join --help, jitless');
    expect(r.stdout).toMatch(/^Usage: joinery join \[options\]/);
    expect(COMPILED.exec(r.stderr)?.[1]).toBe('rejected');
  });

  test("a command's usage error from the commands' bundle is still a usage error (exit 2): one UsageError class for both stages", async () => {
    const r = await run('./joinery', ['agent'], { cwd: dir, env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: .*auth_server \(--auth-server HOST:PORT\) is required/m);
  });

  test('serve says that the server is in the npm package', async () => {
    const r = await run('./joinery', ['serve', '--data-dir', 'server-data', '--listen', '127.0.0.1:0'], { cwd: dir, env, timeoutMs: 30_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^error: .*no SQLite module.*npm install joinery-[\d.]+\.tgz.*npx joinery serve/m);
  });

  test('provider install takes the release zip beside it, checked against SHA256SUMS', async () => {
    const d = tmp('sea-provider');
    fs.copyFileSync(release.joinery, path.join(d, 'joinery'));
    fs.chmodSync(path.join(d, 'joinery'), 0o755);
    const home = path.join(d, 'home');
    fs.mkdirSync(home);
    const runInstall = () => run('./joinery', ['provider', 'install'], { cwd: d, env: { PATH: env.PATH, HOME: home } });

    const missing = await runInstall();
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/^error: terraform-provider-teleport_[\d.]+_linux_amd64\.zip is not beside /m);

    fs.copyFileSync(release.providerZip, path.join(d, path.basename(release.providerZip)));
    fs.copyFileSync(release.providerSums, path.join(d, path.basename(release.providerSums)));
    ok(await runInstall(), 'provider install');
    const packed = path.join(home, '.terraform.d', 'plugins', 'joinery.local', 'joinery', 'teleport', path.basename(release.providerZip));
    expect(fs.readFileSync(packed).equals(fs.readFileSync(release.providerZip))).toBe(true);

    // A zip that is not the one the checksums name is refused.
    fs.appendFileSync(path.join(d, path.basename(release.providerZip)), 'tampered');
    const tampered = await runInstall();
    expect(tampered.code).not.toBe(0);
    expect(tampered.stderr).toMatch(/does not match .*SHA256SUMS/);
  });
});

describe('the release provider package', () => {
  test('the SHA256SUMS, the zip and the network mirror agree', () => {
    const zip = fs.readFileSync(release.providerZip);
    const sha = createHash('sha256').update(zip).digest('hex');
    expect(fs.readFileSync(release.providerSums, 'utf8')).toBe(`${sha}  ${path.basename(release.providerZip)}\n`);
    const typeDir = path.join(release.mirror, 'joinery.local', 'joinery', 'teleport');
    expect(JSON.parse(fs.readFileSync(path.join(typeDir, 'index.json'), 'utf8'))).toEqual({ versions: { [release.version]: {} } });
    expect(release.mirrorHashes).toEqual([expect.stringMatching(/^h1:[A-Za-z0-9+/]{43}=$/), `zh:${sha}`]);
    expect(fs.readFileSync(path.join(typeDir, path.basename(release.providerZip))).equals(zip)).toBe(true);
  });
});

/** A static HTTPS server for `dir` on loopback, with a self-signed certificate for 127.0.0.1. */
async function serveMirror(dir: string): Promise<{ url: string; caFile: string; requests: string[]; close(): Promise<void> }> {
  const certDir = tmp('mirror-tls');
  const key = path.join(certDir, 'key.pem');
  const caFile = path.join(certDir, 'cert.pem');
  ok(
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', caFile, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], {
      cwd: certDir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    }),
    'openssl req',
  );
  const requests: string[] = [];
  const server = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(caFile) }, (req, res) => {
    const url = decodeURIComponent(new URL(req.url ?? '/', 'https://127.0.0.1').pathname);
    requests.push(url);
    const file = path.join(dir, url);
    if (!file.startsWith(dir + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': file.endsWith('.json') ? 'application/json' : 'application/zip' });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return { url: `https://127.0.0.1:${port}/`, caFile, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const PROVIDER_BLOCK = (version: string) => `terraform {
  required_providers {
    teleport = {
      source  = "joinery.local/joinery/teleport"
      version = "${version}"
    }
  }
}
`;

describe.each(['terraform', 'tofu'] as const)('a portable lock file with %s', (name) => {
  /** A working directory with its own HOME and a CLI config naming `mirror` as the only source. */
  function workspace(mirror: string) {
    const root = tmp(`${name}-ws`);
    const dir = path.join(root, 'work');
    const home = path.join(root, 'home');
    fs.mkdirSync(dir);
    fs.mkdirSync(home);
    const cliConfig = path.join(root, 'cli.tfrc');
    fs.writeFileSync(cliConfig, `provider_installation {\n  filesystem_mirror {\n    path    = ${JSON.stringify(mirror)}\n    include = ["joinery.local/joinery/teleport"]\n  }\n}\n`);
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, TF_CLI_CONFIG_FILE: cliConfig, TF_IN_AUTOMATION: '1', TF_INPUT: '0', CHECKPOINT_DISABLE: '1' };
    const tf = (args: string[], extra: Record<string, string> = {}) => run(terraformBinary(name), [args[0], '-no-color', ...args.slice(1)], { cwd: dir, env: { ...env, ...extra } });
    return { root, dir, home, tf };
  }
  const lockOf = (dir: string) => fs.readFileSync(path.join(dir, '.terraform.lock.hcl'), 'utf8');
  const hashesOf = (lock: string) => [...lock.matchAll(/"((?:h1|zh):[^"]+)"/g)].map((m) => m[1]).sort();

  test('init under two HOMEs in two directories records the same hashes; a lock from one works in the other; apply through it', async () => {
    // Two machines: each installs the release zip into its own mirror with `joinery provider install`.
    const { installProvider } = await import('../../cli/provider-install');
    const a = workspace(path.join(tmp(`${name}-mirror-a`), 'plugins'));
    const bMirror = path.join(tmp(`${name}-mirror-b`), 'deeper', 'plugins');
    const b = workspace(bMirror);
    const mirrorOf = (w: { root: string }) => fs.readFileSync(path.join(w.root, 'cli.tfrc'), 'utf8').match(/path\s+=\s+"([^"]+)"/)![1];
    for (const w of [a, b]) {
      const r = await installProvider({ pluginDir: mirrorOf(w), zip: release.providerZip });
      expect(r.from).toBe('release');
    }

    for (const w of [a, b]) {
      fs.writeFileSync(path.join(w.dir, 'main.tf'), PROVIDER_BLOCK(release.version));
      ok(await w.tf(['init']), `${name} init in ${w.dir}`);
    }
    const lockA = lockOf(a.dir);
    expect(lockOf(b.dir)).toBe(lockA);
    // The lock holds the release's h1: hash, as the network mirror advertises it.
    expect(hashesOf(lockA)).toEqual(release.mirrorHashes.filter((h) => h.startsWith('h1:')));

    // A lock committed from machine A is accepted as is on machine C, with the checkout's mirror.
    const c = workspace(release.mirror);
    fs.writeFileSync(path.join(c.dir, 'main.tf'), PROVIDER_BLOCK(release.version));
    fs.writeFileSync(path.join(c.dir, '.terraform.lock.hcl'), lockA);
    ok(await c.tf(['init', '-lockfile=readonly']), `${name} init with A's lock`);
    expect(lockOf(c.dir)).toBe(lockA);

    // A lock that names other bytes is refused: the check is real.
    const d = workspace(release.mirror);
    fs.writeFileSync(path.join(d.dir, 'main.tf'), PROVIDER_BLOCK(release.version));
    fs.writeFileSync(path.join(d.dir, '.terraform.lock.hcl'), lockA.replace(/h1:[^"]+/, `h1:${Buffer.alloc(32).toString('base64')}`));
    const refused = await d.tf(['init', '-lockfile=readonly']);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout + refused.stderr).toMatch(/checksum|match/i);

    // And the release provider does real work: a token through apply, then destroy.
    const tokenName = `release-${name}-token`;
    fs.writeFileSync(
      path.join(c.dir, 'main.tf'),
      `${PROVIDER_BLOCK(release.version)}
provider "teleport" {
  addr        = "${server.addr}"
  admin_token = "${server.adminToken}"
  ca_pin      = "${server.caPin}"
}

resource "teleport_provision_token" "t" {
  version  = "v2"
  metadata = { name = "${tokenName}" }
  spec     = { roles = ["Node"], join_method = "ec2", allow = [{ aws_account = "111111111111" }] }
}
`,
    );
    ok(await c.tf(['apply', '-auto-approve']), `${name} apply`);
    expect((await server.client().getToken(tokenName))?.spec).toMatchObject({ join_method: 'ec2', roles: ['Node'] });
    ok(await c.tf(['destroy', '-auto-approve']), `${name} destroy`);
    expect(await server.client().getToken(tokenName)).toBeUndefined();
  }, 240_000);

  test('release/mirror served over HTTPS is a network mirror whose lock file works with the filesystem mirror', async () => {
    const mirror = await serveMirror(release.mirror);
    try {
      const w = workspace(release.mirror);
      fs.writeFileSync(
        path.join(w.root, 'cli.tfrc'),
        `provider_installation {\n  network_mirror {\n    url     = "${mirror.url}"\n    include = ["joinery.local/joinery/teleport"]\n  }\n}\n`,
      );
      fs.writeFileSync(path.join(w.dir, 'main.tf'), PROVIDER_BLOCK(release.version));
      ok(await w.tf(['init'], { SSL_CERT_FILE: mirror.caFile }), `${name} init from the network mirror`);
      const lock = lockOf(w.dir);
      // The h1: hash of the package checked, the same as from the filesystem mirror; OpenTofu 1.10
      // also records the zh: hash the mirror's <version>.json lists (Terraform and OpenTofu 1.6 do not).
      const h1 = release.mirrorHashes.filter((h) => h.startsWith('h1:'));
      expect(hashesOf(lock)).toEqual(name === 'tofu' ? release.mirrorHashes : h1);
      expect(mirror.requests).toEqual(expect.arrayContaining([`/joinery.local/joinery/teleport/${release.version}.json`, `/joinery.local/joinery/teleport/${path.basename(release.providerZip)}`]));

      // The same lock file is accepted where the provider comes from the filesystem mirror.
      const fsw = workspace(release.mirror);
      fs.writeFileSync(path.join(fsw.dir, 'main.tf'), PROVIDER_BLOCK(release.version));
      fs.writeFileSync(path.join(fsw.dir, '.terraform.lock.hcl'), lock);
      ok(await fsw.tf(['init', '-lockfile=readonly']), `${name} init from the filesystem mirror with the network mirror's lock`);
    } finally {
      await mirror.close();
    }
  }, 120_000);
});

describe('the npm tarballs in an empty project', () => {
  const npm = (args: string[], cwd: string, timeoutMs = 300_000) =>
    run('npm', args, { cwd, timeoutMs, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? os.homedir(), npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' } });

  test('the server package installs with its runtime dependencies only and `npx joinery serve` starts', async () => {
    const project = tmp('npm-server');
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'empty-project', version: '1.0.0', private: true }));
    // Dependencies come from the registry. better-sqlite3's install script would download a
    // prebuilt binary from GitHub, which this machine cannot reach, and otherwise compile SQLite
    // for minutes: scripts are skipped and the checkout's build of the same version stands in for
    // the download.
    ok(await npm(['install', '--ignore-scripts', release.serverTarball], project), 'npm install');
    const installed = path.join(project, 'node_modules');
    const pkg = JSON.parse(fs.readFileSync(path.join(installed, 'joinery', 'package.json'), 'utf8'));
    expect(pkg.devDependencies).toBeUndefined();
    for (const dev of ['cdktf', 'cdktf-cli', '@cdktf/provider-aws', 'jest', 'typescript', 'esbuild']) expect(fs.existsSync(path.join(installed, dev))).toBe(false);
    const sqliteBuild = path.join(installed, 'better-sqlite3', 'build', 'Release');
    fs.mkdirSync(sqliteBuild, { recursive: true });
    fs.copyFileSync(require.resolve('better-sqlite3/build/Release/better_sqlite3.node'), path.join(sqliteBuild, 'better_sqlite3.node'));

    const child = spawn('npx', ['--no-install', 'joinery', 'serve', '--data-dir', 'data', '--listen', '127.0.0.1:0'], {
      cwd: project,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: project, JOINERY_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`npx joinery serve did not start within 60s:\n${out}`)), 60_000);
        child.stderr!.on('data', () => {
          const m = /serving https:\/\/127\.0\.0\.1:(\d+)/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(Number(m[1]));
          }
        });
        child.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`npx joinery serve exited ${code}:\n${out}`));
        });
      });
      const status = ok(await run(path.join(installed, '.bin', 'joinery'), ['status', '--addr', `127.0.0.1:${port}`, '--data-dir', 'data'], { cwd: project, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: project } }), 'status');
      expect(status.stdout).toContain(release.version);
    } finally {
      // npx runs joinery under a shell: stop the whole group.
      if (child.pid && child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        process.kill(-child.pid, 'SIGTERM');
        await exited;
      }
    }
  }, 420_000);

  test('the construct package, with its peers beside it, synthesizes an app that imports it by package name', async () => {
    const project = tmp('npm-constructs');
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'cdktf-app', version: '1.0.0', private: true }));
    // The package has no dependencies of its own; its peers (cdktf, constructs, the AWS provider
    // bindings, 600 MB) are the app's to install: here the checkout's copies stand in for them.
    ok(await npm(['install', '--legacy-peer-deps', '--ignore-scripts', '--offline', release.constructsTarball], project), 'npm install constructs');
    for (const peer of ['cdktf', 'constructs', '@cdktf/provider-aws']) {
      const link = path.join(project, 'node_modules', peer);
      fs.mkdirSync(path.dirname(link), { recursive: true });
      fs.symlinkSync(path.dirname(require.resolve(`${peer}/package.json`)), link);
    }
    const pkg = JSON.parse(fs.readFileSync(path.join(project, 'node_modules', '@joinery', 'cdktf-constructs', 'package.json'), 'utf8'));
    expect(Object.keys(pkg.peerDependencies).sort()).toEqual(['@cdktf/provider-aws', 'cdktf', 'constructs']);
    expect(pkg.dependencies).toBeUndefined();
    expect(fs.existsSync(path.join(project, 'node_modules', '@joinery', 'cdktf-constructs', 'README.md'))).toBe(true);

    fs.writeFileSync(
      path.join(project, 'main.js'),
      `const { App, TerraformStack } = require('cdktf');
const { AwsProvider } = require('@cdktf/provider-aws/lib/provider');
const { Ec2JoinToken, TeleportProvider, TELEPORT_PROVIDER_SOURCE } = require('@joinery/cdktf-constructs');
class Tokens extends TerraformStack {
  constructor(scope, id) {
    super(scope, id);
    new AwsProvider(this, 'aws', { region: 'us-west-2' });
    new TeleportProvider(this, 'teleport', {});
    new Ec2JoinToken(this, 'ec2', { name: 'package-token', allow: [{ aws_account: '222222222222' }] });
  }
}
const app = new App({ outdir: 'cdktf.out' });
new Tokens(app, 'tokens');
app.synth();
console.log(TELEPORT_PROVIDER_SOURCE);
`,
    );
    const synth = ok(await run(process.execPath, ['main.js'], { cwd: project, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: project } }), 'synth');
    expect(synth.stdout.trim()).toBe('joinery.local/joinery/teleport');
    const tf = JSON.parse(fs.readFileSync(path.join(project, 'cdktf.out', 'stacks', 'tokens', 'cdk.tf.json'), 'utf8'));
    expect(tf.terraform.required_providers.teleport.source).toBe('joinery.local/joinery/teleport');
    const tokens = Object.values(tf.resource.teleport_provision_token) as { metadata: { name: string }; spec: { join_method: string } }[];
    expect(tokens).toEqual([expect.objectContaining({ metadata: expect.objectContaining({ name: 'package-token' }), spec: expect.objectContaining({ join_method: 'ec2' }) })]);
  }, 120_000);
});
