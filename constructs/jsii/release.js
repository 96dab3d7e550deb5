#!/usr/bin/env node
// Release artifacts of the construct library's jsii builds, for `npm run release` to call:
//
//   node constructs/jsii/release.js [--out release]
//
// puts into OUT the Python wheel of the cdktf line (joinery_constructs-<version>-py3-none-any.whl),
// and of the CDK Terrain line its npm tarball (joinery-constructs-cdktn-<version>.tgz) and Python
// wheel (joinery_constructs_cdktn-<version>-py3-none-any.whl). The cdktf line's npm tarball is the
// construct package `npm run release` packs itself.
//
// Reproducible: timestamps come from SOURCE_DATE_EPOCH (default: the commit's time), which the
// Python build honours, and npm pack fixes its own. Tools: scripts/install-cdk-tools.sh.

'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');

const REPO = path.resolve(__dirname, '..', '..');

function main() {
  const args = process.argv.slice(2);
  let out = path.join(REPO, 'release');
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--out') out = path.resolve(args[++i]);
    else throw new Error(`unknown argument ${args[i]}`);
  }
  execFileSync(path.join(REPO, 'scripts', 'install-cdk-tools.sh'), { stdio: 'inherit' });
  const epoch = process.env.SOURCE_DATE_EPOCH || execFileSync('git', ['log', '-1', '--format=%ct'], { cwd: REPO, encoding: 'utf8' }).trim();
  const env = { ...process.env, SOURCE_DATE_EPOCH: epoch, PYTHONHASHSEED: '0' };
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-constructs-release-'));
  try {
    fs.mkdirSync(out, { recursive: true });
    const builds = [
      { line: 'cdktf', flags: ['--python'], pick: ['python'] },
      { line: 'cdktn', flags: ['--python', '--pack'], pick: ['python', 'js'] },
    ];
    for (const b of builds) {
      const dir = path.join(work, b.line);
      execFileSync(process.execPath, [path.join(__dirname, 'build.js'), '--line', b.line, '--out', dir, ...b.flags], { stdio: 'inherit', env });
      for (const kind of b.pick) {
        for (const f of fs.readdirSync(path.join(dir, 'dist', kind)).filter((n) => n.endsWith('.whl') || n.endsWith('.tgz'))) {
          fs.copyFileSync(path.join(dir, 'dist', kind, f), path.join(out, f));
          process.stdout.write(`${path.join(out, f)}\n`);
        }
      }
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

try {
  main();
} catch (err) {
  process.stderr.write(`error: ${err.message}\n`);
  process.exit(1);
}
