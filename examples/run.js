#!/usr/bin/env node
// Runs an example app (its main.ts) without a build step, so that `npx cdktf synth` works from a
// fresh checkout: TypeScript files are compiled on load with @swc/core (the compiler the tests use).
//
//   node examples/run.js single-account-ec2      # examples/single-account-ec2/main.ts
//   node examples/run.js path/to/main.ts         # any app file

'use strict';
const fs = require('fs');
const path = require('path');
const swc = require('@swc/core');

const arg = process.argv[2];
if (!arg) {
  process.stderr.write('usage: node examples/run.js <example name | path to main.ts>\n');
  process.exit(2);
}

require.extensions['.ts'] = function compileTs(module, filename) {
  const source = fs.readFileSync(filename, 'utf8');
  const { code } = swc.transformSync(source, {
    filename,
    sourceMaps: 'inline',
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
  });
  module._compile(code, filename);
};

const candidate = path.resolve(arg);
const file = arg.endsWith('.ts') ? candidate : path.join(__dirname, arg, 'main.ts');
if (!fs.existsSync(file)) {
  const known = fs.readdirSync(__dirname).filter((d) => fs.existsSync(path.join(__dirname, d, 'main.ts')));
  process.stderr.write(`no app at ${file}; examples: ${known.join(', ')}\n`);
  process.exit(2);
}
require(file);
