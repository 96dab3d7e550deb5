#!/usr/bin/env node
// `npm test`: type-check, then every jest suite (unit, API, moto-backed joins, provider protocol,
// real Terraform/OpenTofu and cdktf end to end) in one run, ending with an "N passed, N failed"
// line. Suites that need moto or Terraform fail, never skip, when those are missing.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const node = process.execPath;
const extra = process.argv.slice(2);

// Whatever the suites need (moto, Terraform, OpenTofu) is installed first; cached after one run.
if (process.env.JOINERY_SKIP_TEST_DEPS !== '1') {
  const deps = spawnSync('bash', [path.join(root, 'scripts/install-test-deps.sh')], { stdio: 'inherit', cwd: root });
  if (deps.status !== 0) {
    console.error('installing the test dependencies failed');
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
}

const tsc = spawnSync(node, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', root], { stdio: 'inherit', cwd: root });
if (tsc.status !== 0) {
  console.error('typecheck failed');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const report = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-jest-')), 'report.json');
const jest = spawnSync(node, [path.join(root, 'node_modules/jest/bin/jest.js'), '--json', `--outputFile=${report}`, ...extra], {
  stdio: 'inherit',
  cwd: root,
  env: { ...process.env, JOINERY_SKIP_BUILD: '1' },
});

let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const r = JSON.parse(fs.readFileSync(report, 'utf8'));
  passed = r.numPassedTests;
  failed = r.numFailedTests + r.numRuntimeErrorTestSuites;
  skipped = r.numPendingTests + r.numTodoTests;
  for (const s of r.testResults) if (s.status === 'failed' && s.message) console.error(`FAILED ${path.relative(root, s.name)}`);
} catch {
  failed = Math.max(failed, 1);
}
if (passed === 0 && failed === 0) failed = 1; // running no test is a failure
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(jest.status !== 0 || failed > 0 || skipped > 0 ? 1 : 0);
