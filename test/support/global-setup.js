// Every suite runs against the compiled code (the CLI, the server and the provider are started
// as real processes), so compile once before the run. tsc is incremental.
const { execFileSync } = require('node:child_process');
const os = require('node:os');
const path = require('node:path');

module.exports = async () => {
  // SoftHSM2 reads SOFTHSM2_CONF from the real environment when the module is initialised, and a
  // test's process.env is jest's copy: name the run's own configuration here, where setting it
  // reaches the test processes (test/ca-keys/softhsm.ts writes it). Never the user's tokens.
  process.env.SOFTHSM2_CONF = path.join(os.tmpdir(), `joinery-test-softhsm-${process.pid}`, 'softhsm2.conf');
  if (process.env.JOINERY_SKIP_BUILD === '1') return;
  const root = path.resolve(__dirname, '..', '..');
  try {
    execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', root], { stdio: 'pipe' });
  } catch (e) {
    // Type errors still emit JavaScript; report them, the typecheck step fails the run separately.
    process.stderr.write(String(e.stdout || e.message).slice(0, 4000) + '\n');
  }
};
