// The single-file joinery's start against a bare start of the Node binary it embeds: `joinery
// --version` vs `node -e 0`, CPU (user + system) and wall time, interleaved runs, medians. The
// release is built first when it is not current (scripts/release/build.js --if-changed, about a
// minute). Each run goes through bash, whose `times` reports its children's CPU to the millisecond
// and whose EPOCHREALTIME brackets the run without the cost of spawning from Node.
// `npm run bench -- startup` runs this alone.
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const RUNS = 21;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** One run of `argv` under bash: its CPU and wall time in ms. */
function measure(argv) {
  const script = 's=$EPOCHREALTIME; "$@" >/dev/null 2>&1 || exit 97; e=$EPOCHREALTIME; times; echo "$s $e"';
  const r = spawnSync('bash', ['-c', script, 'bash', ...argv], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  // `times`: the shell's own user and system time, then its children's, as 0m0.012s.
  const secs = (t) => {
    const m = /^(\d+)m([\d.]+)s$/.exec(t);
    return Number(m[1]) * 60 + Number(m[2]);
  };
  const [user, sys] = lines[1].trim().split(/\s+/).map(secs);
  const [s, e] = lines[2].split(' ').map(Number);
  return { cpuMs: (user + sys) * 1000, wallMs: (e - s) * 1000 };
}

function ensureRelease() {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'release', 'build.js'), '--if-changed'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  const version = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;
  return path.join(ROOT, 'release', `joinery-${version}-linux-x64`);
}

async function run({ runs = RUNS } = {}) {
  const joinery = ensureRelease();
  // The same binary the release embeds (scripts/install-node.sh caches it).
  const node = execFileSync('sh', [path.join(ROOT, 'scripts', 'install-node.sh'), '24'], { encoding: 'utf8' }).trim();
  const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
  // A warm-up of each, then interleaved runs so that the machine's load falls on both alike.
  measure([node, '-e', '0']);
  measure([joinery, '--version']);
  const bare = [];
  const sea = [];
  for (let i = 0; i < runs; i++) {
    bare.push(measure([node, '-e', '0']));
    sea.push(measure([joinery, '--version']));
  }
  const pick = (rs, k) => median(rs.map((r) => r[k]));
  const b = { cpuMs: pick(bare, 'cpuMs'), wallMs: pick(bare, 'wallMs') };
  const j = { cpuMs: pick(sea, 'cpuMs'), wallMs: pick(sea, 'wallMs') };
  return { runs, nodeVersion: version, bare: b, joinery: j, cpuRatio: j.cpuMs / b.cpuMs, wallRatio: j.wallMs / b.wallMs };
}

function print(r) {
  const f = (n, d = 1) => n.toFixed(d);
  console.log(`  node -e 0 (${r.nodeVersion})  CPU ${f(r.bare.cpuMs)} ms  wall ${f(r.bare.wallMs)} ms`);
  console.log(`  joinery --version     CPU ${f(r.joinery.cpuMs)} ms  wall ${f(r.joinery.wallMs)} ms`);
  console.log(`  ratio                 CPU ${f(r.cpuRatio, 2)}x  wall ${f(r.wallRatio, 2)}x  (median of ${r.runs} interleaved runs; target <= 2x)`);
}

async function main() {
  console.log('the single-file joinery: `joinery --version` vs `node -e 0` of the Node it embeds');
  const r = await run();
  print(r);
  process.exit(r.cpuRatio <= 2 && r.wallRatio <= 2 ? 0 : 1);
}

module.exports = { run, print, main };
