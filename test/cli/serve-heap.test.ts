// `joinery serve` as bin/joinery starts it gets a heap budget (JOINERY_SERVER_HEAP_MB), so the
// server's memory stays bounded rather than growing with garbage V8 has not yet collected; a
// --max-old-space-size in NODE_OPTIONS wins, a bad budget stops the start with the setting named,
// and a server started without a budget says so. Read from the heap limit the server prints.

import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLI_JS, REPO_ROOT } from '../support/server';

const BIN = path.join(REPO_ROOT, 'bin', 'joinery');

/** Starts a server, reads its heap line, stops it. */
function heapLine(cmd: string, args: string[], env: Record<string, string>): Promise<string> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-heap-'));
  const child = spawn(cmd, [...args, 'serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], {
    env: { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH}`, JOINERY_LOG_LEVEL: 'warn', JOINERY_ADMIN_TOKEN: 'heap-test-admin-token-0123456789', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`no heap line within 30 s:\n${err}`)), 30_000);
    const finish = (e: Error | undefined, line?: string) => {
      clearTimeout(timer);
      child.kill('SIGTERM');
      child.once('exit', () => {
        fs.rmSync(dataDir, { recursive: true, force: true });
        if (e) reject(e);
        else resolve(line!);
      });
    };
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /^Heap limit: .*$/m.exec(err);
      if (m) finish(undefined, m[0]);
    });
  });
}

const limitMb = (line: string) => Number(/^Heap limit: (\d+) MB/.exec(line)?.[1]);

test('bin/joinery serve runs with the default budget, or JOINERY_SERVER_HEAP_MB, or NODE_OPTIONS', async () => {
  const dflt = limitMb(await heapLine('sh', [BIN], {}));
  const set = limitMb(await heapLine('sh', [BIN], { JOINERY_SERVER_HEAP_MB: '300' }));
  const own = limitMb(await heapLine('sh', [BIN], { JOINERY_SERVER_HEAP_MB: '300', NODE_OPTIONS: '--max-old-space-size=500' }));
  // The limit printed is the whole heap's: the old generation's budget plus the young one's.
  expect(dflt).toBeGreaterThanOrEqual(160);
  expect(dflt).toBeLessThan(300);
  expect(set).toBeGreaterThanOrEqual(300);
  expect(set).toBeLessThan(500);
  expect(own).toBeGreaterThanOrEqual(500);
  expect(own).toBeLessThan(1024);
});

test('a server started without a budget says how to give it one', async () => {
  const line = await heapLine(process.execPath, [CLI_JS], {});
  // Node sizes the heap from the machine's memory; on a small one it may already be bounded.
  if (limitMb(line) > 1024) expect(line).toMatch(/no budget: start it as `joinery serve`, or set NODE_OPTIONS=--max-old-space-size=160/);
  else expect(line).not.toMatch(/no budget/);
});

test('a budget that is not a whole number, or too small to run in, stops the start, naming the setting', () => {
  for (const bad of ['abc', '12MB', '-5', ' ']) {
    const r = spawnSync('sh', [BIN, 'serve'], { env: { ...process.env, JOINERY_SERVER_HEAP_MB: bad }, encoding: 'utf8', timeout: 10_000 });
    expect([r.status, r.stderr.trim()]).toEqual([2, `joinery: JOINERY_SERVER_HEAP_MB must be a whole number of MB (got '${bad}')`]);
  }
  const small = spawnSync('sh', [BIN, 'serve'], { env: { ...process.env, JOINERY_SERVER_HEAP_MB: '0' }, encoding: 'utf8', timeout: 10_000 });
  expect([small.status, small.stderr.trim()]).toEqual([2, "joinery: JOINERY_SERVER_HEAP_MB must be at least 64 (got '0')"]);
});
