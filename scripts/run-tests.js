#!/usr/bin/env node
// `npm test`: type-check (sources and tests), lint, then every jest suite (unit, API, moto-backed joins, provider
// protocol, real Terraform/OpenTofu and cdktf end to end) in one run, ending with an "N passed,
// N failed" line. Suites that need moto or Terraform fail, never skip, when those are missing.
//
// `npm run test:unit` (`--fast`): the inner loop. Type-check, then the suites that need nothing
// beyond `npm ci` (no Terraform, Go, Python, moto or PostgreSQL); no lint, no installs. What it
// leaves out is printed, so nobody mistakes it for the whole run.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const node = process.execPath;
const fast = process.argv.includes('--fast');
const extra = process.argv.slice(2).filter((a) => a !== '--fast');

// Suites that need a tool the fast loop does not install: real Terraform/OpenTofu and the CDK
// tools (Go builds), Python (jsii, moto), PostgreSQL (apt). Kept as path patterns so a new suite
// is in the fast loop unless it is listed here.
const NEEDS_TOOLS = [
  ['test/e2e-terraform/', 'Terraform, OpenTofu'],
  ['test/e2e-cdktf/', 'Terraform, cdktf-cli'],
  ['test/e2e-cdktn/', 'Terraform, cdktn, Python'],
  ['test/jsii/', 'Python, jsii'],
  ['test/release/', 'Terraform, Node 24'],
  ['test/replicas/', 'PostgreSQL, moto'],
  ['test/ca-keys/kms-signer.test.ts', 'moto'],
  ['test/ca-keys/pkcs11-signer.test.ts', 'SoftHSM2'],
  ['test/console/', 'Chromium (apt)'],
  ['test/unit/store.test.ts', 'PostgreSQL'],
  ['test/unit/bounds.test.ts', 'PostgreSQL'],
  ['test/unit/migrations.test.ts', 'PostgreSQL'],
  ['test/join-ec2/agent-ec2.test.ts', 'moto'],
  ['test/join-ec2/describe-instance.test.ts', 'moto'],
  ['test/join-ec2/join-ec2-server.test.ts', 'moto'],
  ['test/join-iam/iam-join-moto.test.ts', 'moto'],
  ['test/join-iam/organizations-e2e.test.ts', 'moto'],
  ['test/join-iam/organizations.test.ts', 'moto'],
  ['test/lifecycle/ec2-rejoin.test.ts', 'moto'],
  ['test/audit/store-query.test.ts', 'PostgreSQL'],
];

// Whatever the suites need (moto, Terraform, OpenTofu) is installed first; cached after one run.
if (!fast && process.env.JOINERY_SKIP_TEST_DEPS !== '1') {
  const deps = spawnSync('bash', [path.join(root, 'scripts/install-test-deps.sh')], { stdio: 'inherit', cwd: root });
  if (deps.status !== 0) {
    console.error('installing the test dependencies failed');
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
}

const tsc = spawnSync(node, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', root], { stdio: 'inherit', cwd: root });
// The suites run through swc, which strips types without checking them: a test that no longer
// matches the code's types would still run. tsconfig.test.json checks them with the sources.
const testsTsc = tsc.status === 0 && spawnSync(node, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.test.json')], { stdio: 'inherit', cwd: root });
// The web console is type-checked on its own (browser types, JSX) and bundled for its suite.
const consoleTsc = testsTsc && testsTsc.status === 0 && spawnSync(node, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'console')], { stdio: 'inherit', cwd: root });
const consoleBuild = consoleTsc && consoleTsc.status === 0 && spawnSync(node, [path.join(root, 'scripts/build-console.js')], { stdio: 'inherit', cwd: root });
if (tsc.status !== 0 || !consoleBuild || consoleBuild.status !== 0) {
  console.error('typecheck failed');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

// Lint is part of the full run: a finding fails it like a failing test.
let lintFailed = 0;
if (!fast) {
  const lint = spawnSync(node, [path.join(root, 'node_modules/eslint/bin/eslint.js'), '--max-warnings', '0', '.'], { stdio: 'inherit', cwd: root });
  if (lint.status !== 0) {
    console.error('lint failed (npm run lint)');
    lintFailed = 1;
  }
}

if (fast) {
  console.log(`test:unit leaves out ${NEEDS_TOOLS.length} suites that need tools (npm test runs them):`);
  for (const [p, why] of NEEDS_TOOLS) console.log(`  ${p}  (${why})`);
}
const ignore = fast ? NEEDS_TOOLS.map(([p]) => `--testPathIgnorePatterns=${p.replace(/[.]/g, '\\.')}`) : [];

const report = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-jest-')), 'report.json');
const jest = spawnSync(node, [path.join(root, 'node_modules/jest/bin/jest.js'), '--json', `--outputFile=${report}`, ...ignore, ...extra], {
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
failed += lintFailed;
if (passed === 0 && failed === 0) failed = 1; // running no test is a failure
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(jest.status !== 0 || failed > 0 || skipped > 0 ? 1 : 0);
