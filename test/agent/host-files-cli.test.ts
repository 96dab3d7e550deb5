// `joinery join` and `joinery agent`, as processes against the real server, on a host where
// someone planted links in the data directory or loosened modes: they refuse with one line that
// names the path (before asking the server anything), and the link's target is never written.

import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLI_JS, REPO_ROOT, startTestServer, type TestServer } from '../support/server';

jest.setTimeout(60_000);

const TOKEN = '7a6b5c4d3e2f10f9e8d7c6b5a4938271';
const NOBODY = 65534;
const rootOnly = process.getuid?.() === 0 ? test : test.skip;

let server: TestServer;
let tmp: string;
beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-host-files-cli-'));
  server = await startTestServer();
  await server.client().createToken({ version: 'v2', metadata: { name: TOKEN }, spec: { roles: ['Node'] } });
});
afterAll(async () => {
  await server?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Runs the CLI, killing it after 20 s (a process blocked on a FIFO would otherwise never end). */
function run(args: string[]): Promise<{ code: number | string; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI_JS, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? String(signal), stdout, stderr });
    });
  });
}

let n = 0;
function place(): { dir: string; dataDir: string; victim: string } {
  const dir = fs.mkdtempSync(path.join(tmp, `t${n++}-`));
  const victim = path.join(dir, 'victim.txt');
  fs.writeFileSync(victim, 'precious\n', { mode: 0o644 });
  return { dir, dataDir: path.join(dir, 'data'), victim };
}

const joinArgs = (dataDir: string) => ['join', '--token', TOKEN, '--server', server.addr, '--ca-pin', server.caPin, '--data-dir', dataDir];

function agentConfig(dir: string, dataDir: string, mode = 0o600): string {
  const file = path.join(dir, 'agent.yaml');
  const yaml = ['version: v1', `auth_server: ${server.addr}`, `ca_pin: ${server.caPin}`, `data_dir: ${dataDir}`, 'join_params:', `  token_name: ${TOKEN}`, `on_renew: echo renewed >> ${path.join(dir, 'hook.log')}`, ''];
  fs.writeFileSync(file, yaml.join('\n'), { mode });
  fs.chmodSync(file, mode);
  return file;
}

const nodeCount = async () => (await server.client().listNodes()).length;
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('joinery join', () => {
  test.each(['.commit.tmp', '.key.pem.tmp', 'key.pem', '.commit'])('a link under %s is refused before joining; its target is untouched', async (name) => {
    const { dataDir, victim } = place();
    fs.mkdirSync(dataDir, { mode: 0o700 });
    fs.symlinkSync(victim, path.join(dataDir, name));
    const before = await nodeCount();
    const r = await run(joinArgs(dataDir));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^error: ${esc(path.join(dataDir, name))} is a symbolic link \\(to ${esc(victim)}\\); the agent never follows links in its data directory: remove it, and find out who put it there\\n$`));
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(await nodeCount()).toBe(before);
  });

  test('a linked data directory is refused, and the directory it points at stays empty', async () => {
    const { dir, dataDir } = place();
    fs.mkdirSync(path.join(dir, 'elsewhere'), { mode: 0o755 });
    fs.symlinkSync(path.join(dir, 'elsewhere'), dataDir);
    const r = await run(joinArgs(dataDir));
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: ${dataDir} is a symbolic link (to ${path.join(dir, 'elsewhere')}); the data directory must be a real directory, and the agent never follows a link there: give the real path\n`);
    expect(fs.readdirSync(path.join(dir, 'elsewhere'))).toEqual([]);
  });

  test('a data directory under a directory others can write (not sticky) is refused, naming that directory', async () => {
    const { dir, dataDir } = place();
    fs.chmodSync(dir, 0o777);
    const r = await run(joinArgs(dataDir));
    expect([r.code, r.stderr]).toEqual([1, `error: ${dir} (on the path of ${dataDir}) has mode 0777: group or others could replace what the agent uses there; run chmod go-w ${dir}\n`]);
    expect(fs.existsSync(dataDir)).toBe(false);
  });

  test('a CA file others can write: exit 2 with the chmod to run; nothing joined', async () => {
    const { dir, dataDir } = place();
    const caFile = path.join(dir, 'ca.crt');
    fs.copyFileSync(server.caFile, caFile);
    fs.chmodSync(caFile, 0o664);
    const r = await run(['join', '--token', TOKEN, '--server', server.addr, '--ca-file', caFile, '--data-dir', dataDir]);
    expect([r.code, r.stderr]).toEqual([2, `error: ${caFile} has mode 0664: group or others can write the CA file; run chmod go-w ${caFile}\n`]);
    expect(fs.existsSync(dataDir)).toBe(false);
  });

  test('a data directory with mode 0777 is repaired to 0700 and said so; the join goes on', async () => {
    const { dataDir } = place();
    fs.mkdirSync(dataDir);
    fs.chmodSync(dataDir, 0o777);
    const r = await run(joinArgs(dataDir));
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`joinery: warning: ${dataDir} had mode 0777, writable by group or others; repaired to 0700\n`);
    expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(fs.readdirSync(dataDir).sort()).toEqual(['ca.pem', 'cert.pem', 'identity.json', 'key.pem']);
  });
});

describe('joinery agent', () => {
  test('a dangling link under .identity.json.tmp in an empty data directory: exit 3, nothing created at its target', async () => {
    const { dir, dataDir } = place();
    fs.mkdirSync(dataDir, { mode: 0o700 });
    const target = path.join(dir, 'created-by-agent');
    fs.symlinkSync(target, path.join(dataDir, '.identity.json.tmp'));
    const before = await nodeCount();
    const r = await run(['agent', '--config', agentConfig(dir, dataDir), '--once']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(new RegExp(`^joinery agent: error: ${esc(path.join(dataDir, '.identity.json.tmp'))} is a symbolic link \\(to ${esc(target)}\\)`, 'm'));
    expect(fs.existsSync(target)).toBe(false);
    expect(await nodeCount()).toBe(before);
  });

  test.each(['.commit.tmp', '.cert.pem.tmp', 'ca.pem'])('on a joined host, a link under %s planted later: exit 3, the target untouched, the hook not run', async (name) => {
    const { dir, dataDir, victim } = place();
    const config = agentConfig(dir, dataDir);
    const first = await run(['agent', '--config', config, '--once']);
    expect(first.code).toBe(0);
    fs.rmSync(path.join(dir, 'hook.log'));
    fs.rmSync(path.join(dataDir, name), { force: true });
    fs.symlinkSync(victim, path.join(dataDir, name));
    const r = await run(['agent', '--config', config, '--once']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`joinery agent: error: ${path.join(dataDir, name)} is a symbolic link (to ${victim})`);
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(fs.existsSync(path.join(dir, 'hook.log'))).toBe(false);
  });

  test('cert.pem replaced by a FIFO: exit 3 at once, not a process blocked on it', async () => {
    const { dir, dataDir } = place();
    const config = agentConfig(dir, dataDir);
    expect((await run(['agent', '--config', config, '--once'])).code).toBe(0);
    fs.rmSync(path.join(dataDir, 'cert.pem'));
    execFileSync('mkfifo', ['-m', '600', path.join(dataDir, 'cert.pem')]);
    const r = await run(['agent', '--config', config, '--once']);
    expect([r.code, r.stderr]).toEqual([3, `joinery agent: error: ${path.join(dataDir, 'cert.pem')} is a FIFO, not a file the agent wrote: remove it\n`]);
  });

  test('key.pem readable by others: refused as OpenSSH refuses an unprotected key', async () => {
    const { dir, dataDir } = place();
    const config = agentConfig(dir, dataDir);
    expect((await run(['agent', '--config', config, '--once'])).code).toBe(0);
    const key = path.join(dataDir, 'key.pem');
    fs.chmodSync(key, 0o644);
    const r = await run(['agent', '--config', config, '--once']);
    expect([r.code, r.stderr]).toEqual([3, `joinery agent: error: UNPROTECTED PRIVATE KEY FILE: ${key} has mode 0644, readable by others; run chmod 600 ${key} (and treat the key as exposed)\n`]);
  });

  test('a data directory with mode 0775 is repaired to 0700, with a warning in the agent log', async () => {
    const { dir, dataDir } = place();
    fs.mkdirSync(dataDir);
    fs.chmodSync(dataDir, 0o775);
    const r = await run(['agent', '--config', agentConfig(dir, dataDir), '--once']);
    expect(r.code).toBe(0);
    expect(r.stderr.split('\n')[0]).toBe(`joinery agent: warning: ${dataDir} had mode 0775, writable by group or others; repaired to 0700`);
    expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
  });

  test.each(['0666', '0664', '0646'])('a configuration with mode %s: exit 2 with the chmod to run; nothing joined', async (octal) => {
    const mode = parseInt(octal, 8);
    const { dir, dataDir } = place();
    const config = agentConfig(dir, dataDir, mode);
    const before = await nodeCount();
    const r = await run(['agent', '--config', config, '--once']);
    expect([r.code, r.stderr]).toEqual([2, `error: ${config} has mode 0${mode.toString(8)}: group or others can write the configuration; run chmod go-w ${config}\n`]);
    expect(fs.existsSync(dataDir)).toBe(false);
    expect(await nodeCount()).toBe(before);
  });

  rootOnly('a configuration owned by another user (nobody): exit 2; a data directory owned by nobody: exit 3', async () => {
    const { dir, dataDir } = place();
    const config = agentConfig(dir, dataDir, 0o644);
    fs.chownSync(config, NOBODY, NOBODY);
    const r = await run(['agent', '--config', config, '--once']);
    expect([r.code, r.stderr]).toEqual([2, `error: ${config} belongs to uid ${NOBODY}; the configuration must belong to root or to the agent's user (uid 0): run chown root ${config}\n`]);

    fs.chownSync(config, 0, 0);
    fs.mkdirSync(dataDir, { mode: 0o700 });
    fs.chownSync(dataDir, NOBODY, NOBODY);
    const d = await run(['agent', '--config', config, '--once']);
    expect(d.code).toBe(3);
    expect(d.stderr).toContain(`joinery agent: error: ${dataDir} belongs to uid ${NOBODY}, not to the agent's user (uid 0); run chown 0 ${dataDir}`);
    expect(fs.readdirSync(dataDir)).toEqual([]);
  });
});
