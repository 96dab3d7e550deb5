// Child processes for the bench: the Joinery server as an operator starts it (bin/joinery's heap
// budget included), and the Express
// hello-world peer; both report their resident memory from /proc.
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
// JOINERY_BENCH_SERVER_ROOT: another checkout's build, to measure before and after a change.
const SERVER_ROOT = process.env.JOINERY_BENCH_SERVER_ROOT ? path.resolve(process.env.JOINERY_BENCH_SERVER_ROOT) : ROOT;
const CLI_JS = path.join(SERVER_ROOT, 'dist', 'cli', 'main.js');

/**
 * The heap budget bin/joinery gives `serve` (JOINERY_SERVER_HEAP_MB, its default read from the
 * script itself), so the bench measures the server as an operator starts it; the bench starts Node
 * itself to pass flags NODE_OPTIONS does not take (--trace-gc).
 */
function serverHeapArgs(nodeArgs) {
  if (nodeArgs.some((a) => /^--max[-_]old[-_]space[-_]size/.test(a))) return [];
  const script = path.join(SERVER_ROOT, 'bin', 'joinery');
  const dflt = fs.existsSync(script) ? /JOINERY_SERVER_HEAP_MB:-(\d+)/.exec(fs.readFileSync(script, 'utf8'))?.[1] : undefined;
  const mb = process.env.JOINERY_SERVER_HEAP_MB ?? dflt;
  return mb ? [`--max-old-space-size=${mb}`] : [];
}

/** Resident memory now (VmRSS), or its peak so far (VmHWM), in MB. */
function rssMb(pid, field = 'VmRSS') {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** How long a process's main thread has run and waited for a core so far (Linux schedstat), in ms. */
function schedMs(pid) {
  try {
    const [run, wait] = fs.readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ').map(Number);
    return { run: run / 1e6, wait: wait / 1e6 };
  } catch {
    return { run: NaN, wait: NaN };
  }
}

/** CPU time (user + system) the process has used so far, in ms; NaN where /proc is missing. */
function cpuMs(pid) {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
}

function waitFor(child, pattern, what, timeoutMs = 30_000) {
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start within ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const onData = (d) => {
      out += d;
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}:\n${out}`));
    });
  });
}

// Children still running when the bench ends (an error, the time bound) are not left behind.
const running = new Set();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function stopper(child) {
  running.add(child);
  child.once('exit', () => running.delete(child));
  const exited = new Promise((r) => child.once('exit', r));
  return async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(t);
  };
}

/** Starts `joinery serve` on a free loopback port with its own data directory (or `opts.dataDir`, one a server left). */
async function startJoinery(env = {}, nodeArgs = [], opts = {}) {
  const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-bench-'));
  // A replica shares the first one's CA (and its database, through the environment).
  if (opts.caFrom) for (const f of ['ca.key', 'ca.crt']) fs.copyFileSync(path.join(opts.caFrom, f), path.join(dataDir, f));
  const adminToken = 'bench-admin-credential-0123456789abcdef';
  const child = spawn(process.execPath, [...serverHeapArgs(nodeArgs), ...nodeArgs, CLI_JS, 'serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], {
    env: { ...process.env, JOINERY_LOG_LEVEL: 'warn', JOINERY_CLUSTER_NAME: 'bench', JOINERY_ADMIN_TOKEN: adminToken, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: dataDir,
  });
  // JOINERY_BENCH_SERVER_LOG: a file that gets the server's output (its warnings, --trace-gc).
  if (process.env.JOINERY_BENCH_SERVER_LOG) {
    const log = fs.createWriteStream(process.env.JOINERY_BENCH_SERVER_LOG, { flags: 'a' });
    child.stdout.pipe(log);
    child.stderr.pipe(log);
  }
  const m = await waitFor(child, /serving https:\/\/127\.0\.0\.1:(\d+)/, 'joinery serve');
  const stop = stopper(child);
  return {
    port: Number(m[1]),
    pid: child.pid,
    adminToken,
    dataDir,
    ca: fs.readFileSync(path.join(dataDir, 'ca.crt'), 'utf8'),
    caFile: path.join(dataDir, 'ca.crt'),
    rssMb: () => rssMb(child.pid),
    peakRssMb: () => rssMb(child.pid, 'VmHWM'),
    cpuMs: () => cpuMs(child.pid),
    /** Stops the server; its data directory goes too unless `keepData` (the caller removes it). */
    async stop({ keepData = false } = {}) {
      await stop();
      if (!keepData) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A throwaway ECDSA P-256 certificate for localhost, the same key type Joinery serves with. */
function localhostCert(dir) {
  const key = path.join(dir, 'hello.key');
  const cert = path.join(dir, 'hello.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  return { key, cert };
}

/** The peer: Express 5 answering "hello" over HTTPS. */
async function startHello() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-bench-hello-'));
  const { key, cert } = localhostCert(dir);
  const child = spawn(process.execPath, [path.join(__dirname, 'hello-server.js'), key, cert], { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT });
  const m = await waitFor(child, /listening (\d+)/, 'hello-world');
  const stop = stopper(child);
  return {
    port: Number(m[1]),
    pid: child.pid,
    ca: fs.readFileSync(cert, 'utf8'),
    rssMb: () => rssMb(child.pid),
    cpuMs: () => cpuMs(child.pid),
    async stop() {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

module.exports = { startJoinery, startHello, rssMb, cpuMs, schedMs, ROOT };
