// A throwaway PostgreSQL server for the replica bench (Debian's server binaries, as the store
// tests use): initdb into a temp directory, trust auth, loopback only. Runs as the `postgres`
// system user when started as root (initdb refuses root).
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

function binDir() {
  const base = '/usr/lib/postgresql';
  const versions = fs.existsSync(base) ? fs.readdirSync(base).filter((v) => fs.existsSync(path.join(base, v, 'bin', 'postgres'))).sort() : [];
  if (!versions.length) return undefined;
  return path.join(base, versions[versions.length - 1], 'bin');
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Resolves undefined when no PostgreSQL server is installed (the bench then says so). */
async function startPostgres() {
  const bin = binDir();
  if (!bin) return undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-bench-pg-'));
  const asRoot = process.getuid?.() === 0;
  const run = (cmd, args) => (asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]);
  if (asRoot) execFileSync('chown', ['postgres', dir]);
  const [c1, a1] = run(path.join(bin, 'initdb'), ['-D', path.join(dir, 'data'), '-A', 'trust', '-U', 'joinery', '--no-sync']);
  execFileSync(c1, a1, { stdio: 'pipe' });
  const port = await freePort();
  // Durable settings (fsync on), as a deployment would run it.
  const [c2, a2] = run(path.join(bin, 'postgres'), ['-D', path.join(dir, 'data'), '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1']);
  const child = spawn(c2, a2, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`postgres exited:\n${log}`);
    if (/ready to accept connections/.test(log)) break;
    if (Date.now() > deadline) throw new Error(`postgres did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `postgres://joinery@127.0.0.1:${port}/postgres`,
    async stop() {
      const exited = child.exitCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', r));
      // Signal the postmaster itself: runuser does not forward signals.
      const pidFile = path.join(dir, 'data', 'postmaster.pid');
      const pid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]) : undefined;
      if (pid) process.kill(pid, 'SIGINT');
      else child.kill('SIGINT');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

module.exports = { startPostgres };
