// Runs the real API as a child process (`node dist/cli/main.js serve`) on a free loopback port
// with its own data directory, as an operator would start it.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { JoineryClient } from '../../client/api-client';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const CLI_JS = path.join(REPO_ROOT, 'dist', 'cli', 'main.js');

export interface TestServer {
  url: string;
  addr: string;
  port: number;
  adminToken: string;
  caPin: string;
  caFile: string;
  dataDir: string;
  process: ChildProcess;
  /** Everything the server wrote to stdout (JSON logs) and stderr so far. */
  output(): string;
  client(opts?: { adminToken?: string }): JoineryClient;
  /** SIGTERM and wait; removes the data directory unless keepDataDir. */
  stop(opts?: { keepDataDir?: boolean }): Promise<void>;
  /** SIGKILL, as a crash; keeps the data directory. */
  kill(): Promise<void>;
}

export interface TestServerOptions {
  env?: Record<string, string>;
  dataDir?: string;
  /** Do not set JOINERY_ADMIN_TOKEN: let the server generate one (read from <data-dir>/admin-token). */
  generatedAdmin?: boolean;
  port?: number;
}

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  if (!fs.existsSync(CLI_JS)) throw new Error(`${CLI_JS} is missing: run \`npm run build\` first (npm test does)`);
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-test-'));
  const adminToken = opts.generatedAdmin ? '' : opts.env?.JOINERY_ADMIN_TOKEN ?? randomBytes(24).toString('hex');
  const env: NodeJS.ProcessEnv = { ...process.env, JOINERY_LOG_LEVEL: 'warn', JOINERY_CLUSTER_NAME: 'test-cluster', ...opts.env };
  if (adminToken) env.JOINERY_ADMIN_TOKEN = adminToken;
  else delete env.JOINERY_ADMIN_TOKEN;

  const child = spawn(process.execPath, [CLI_JS, 'serve', '--data-dir', dataDir, '--listen', `127.0.0.1:${opts.port ?? 0}`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const { port, pin } = await new Promise<{ port: number; pin: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start within 30s:\n${out}`)), 30_000);
    const check = () => {
      const m = /serving https:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      const p = /CA pin: (sha256:[0-9a-f]{64})/.exec(out);
      if (m && p) {
        clearTimeout(timer);
        resolve({ port: Number(m[1]), pin: p[1] });
      }
    };
    child.stderr!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before it was ready:\n${out}`));
    });
  });

  const effectiveAdmin = adminToken || fs.readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim();
  const addr = `127.0.0.1:${port}`;
  const caFile = path.join(dataDir, 'ca.crt');
  let stopped = false;
  const server: TestServer = {
    url: `https://${addr}`,
    addr,
    port,
    adminToken: effectiveAdmin,
    caPin: pin,
    caFile,
    dataDir,
    process: child,
    output: () => out,
    client: (o = {}) => new JoineryClient({ addr, adminToken: o.adminToken ?? effectiveAdmin, caFile }),
    async stop(o = {}) {
      if (!stopped) {
        stopped = true;
        child.kill('SIGTERM');
        await exited;
      }
      if (!o.keepDataDir && !opts.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    },
    async kill() {
      stopped = true;
      child.kill('SIGKILL');
      await exited;
    },
  };
  return server;
}

/** Runs the CLI as a user would; resolves with its exit code and output. */
export function runCli(args: string[], opts: { env?: Record<string, string>; input?: string; cwd?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI_JS, ...args], { env: { ...process.env, ...opts.env }, cwd: opts.cwd ?? REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.stdin.end(opts.input ?? '');
    child.once('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
