#!/usr/bin/env node
// Builds the construct library with jsii, for one CDK line, into an output directory:
//
//   node constructs/jsii/build.js --line cdktf --out build/constructs-cdktf [--python] [--go] [--java] [--docs FILE] [--pack]
//   node constructs/jsii/build.js --line cdktn --out build/constructs-cdktn --pack
//   ... --go --java --code-only    generate the Go and Java sources without compiling them
//
// The same sources serve both lines; the CDK import is chosen here: for cdktn every `cdktf` import
// becomes `cdktn` and `@cdktf/provider-aws` becomes `@cdktn/provider-aws` (the L1 under
// constructs/teleport/ included: cdktn's generator makes the same code with the other import).
// The package is staged in OUT/package (sources under src/, a jsii package.json, node_modules
// linking to the line's dependencies), compiled there with jsii (a .jsii assembly and lib/*.js),
// then jsii-pacmak builds the requested targets into OUT/dist and `npm pack` the npm tarball.
// Tools come from scripts/install-cdk-tools.sh (JOINERY_CDK_TOOLS, default ~/.cache/joinery/cdk-tools).

'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');

const REPO = path.resolve(__dirname, '..', '..');
const TOOLS = process.env.JOINERY_CDK_TOOLS || path.join(os.homedir(), '.cache', 'joinery', 'cdk-tools');
const VERSION = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).version;

// What each line builds against. The cdktf line uses the repository's own node_modules (the
// versions its tests run with); the cdktn line the tools cache's.
const LINES = {
  cdktf: {
    packageName: '@joinery/constructs',
    description: "Joinery's CDK for Terraform (cdktf) constructs: join tokens and the AWS IAM they need.",
    modules: path.join(REPO, 'node_modules'),
    peers: { cdktf: '0.21.0', constructs: '^10.4.2', '@cdktf/provider-aws': '>=21.22.1 <22' },
    devs: { cdktf: '0.21.0', constructs: '10.4.2', '@cdktf/provider-aws': '21.22.1' },
    python: { distName: 'joinery-constructs', module: 'joinery_constructs' },
    go: { moduleName: 'joinery.local/constructs-go', packageName: 'joineryconstructs' },
    java: { package: 'local.joinery.constructs', maven: { groupId: 'local.joinery', artifactId: 'constructs' } },
    rewrite: (text) => text,
  },
  cdktn: {
    packageName: '@joinery/constructs-cdktn',
    description: "Joinery's CDK Terrain (cdktn) constructs: join tokens and the AWS IAM they need.",
    modules: path.join(TOOLS, 'cdktn', 'node_modules'),
    peers: { cdktn: '^0.24.0', constructs: '>=10.6.0 <10.8.0', '@cdktn/provider-aws': '^25.0.0' },
    devs: { cdktn: '0.24.0', constructs: '10.6.0', '@cdktn/provider-aws': '25.0.0' },
    python: { distName: 'joinery-constructs-cdktn', module: 'joinery_constructs_cdktn' },
    go: { moduleName: 'joinery.local/constructs-cdktn-go', packageName: 'joineryconstructscdktn' },
    java: { package: 'local.joinery.constructs.cdktn', maven: { groupId: 'local.joinery', artifactId: 'constructs-cdktn' } },
    rewrite: (text) =>
      text
        .replace(/(from\s+|require\()(['"])cdktf(['"/])/g, '$1$2cdktn$3')
        .replace(/(from\s+|require\()(['"])@cdktf\/provider-aws(['"/])/g, '$1$2@cdktn/provider-aws$3'),
  },
};

// The sources of the package: the constructs (without the bindings generator, a build tool) and
// the token schema they validate with.
const SOURCES = [
  { from: 'constructs', skip: (rel) => rel === 'generate-bindings.ts' || rel.startsWith('jsii/') || rel.endsWith('.md') },
  // token.ts and what it imports (not the document readers, which need the yaml package).
  { from: 'schema', only: ['token.ts', 'token-fields.ts', 'aws.ts', 'aws-organizations.ts', 'duration.ts', 'roles.ts', 'text-safety.ts', 'time.ts', 'values.ts'] },
];

function parseArgs(argv) {
  const opts = { line: 'cdktf', out: undefined, python: false, go: false, java: false, docs: undefined, pack: false, codeOnly: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--line') opts.line = argv[++i];
    else if (a === '--out') opts.out = path.resolve(argv[++i]);
    else if (a === '--docs') opts.docs = path.resolve(argv[++i]);
    else if (a === '--python' || a === '--go' || a === '--java' || a === '--pack') opts[a.slice(2)] = true;
    else if (a === '--code-only') opts.codeOnly = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!LINES[opts.line]) throw new Error(`--line must be one of ${Object.keys(LINES).join(', ')} (got ${opts.line})`);
  if (!opts.out) throw new Error('--out DIR is required');
  return opts;
}

function copyTree(fromDir, toDir, rewrite, keep) {
  for (const entry of fs.readdirSync(fromDir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.endsWith('.d.ts')) continue;
    const abs = path.join(entry.parentPath ?? entry.path, entry.name);
    const rel = path.relative(fromDir, abs);
    if (!keep(rel)) continue;
    fs.mkdirSync(path.join(toDir, path.dirname(rel)), { recursive: true });
    fs.writeFileSync(path.join(toDir, rel), rewrite(fs.readFileSync(abs, 'utf8')));
  }
}

function link(modules, pkgDir, name) {
  const target = path.join(modules, name);
  if (!fs.existsSync(target)) throw new Error(`${target} is missing: run scripts/install-cdk-tools.sh`);
  const at = path.join(pkgDir, 'node_modules', name);
  fs.mkdirSync(path.dirname(at), { recursive: true });
  const manifest = JSON.parse(fs.readFileSync(path.join(target, 'package.json'), 'utf8'));
  if (!manifest.jsii || !manifest.jsii.tsconfig || manifest.jsii.tsc) {
    fs.symlinkSync(target, at);
    return;
  }
  // A jsii package built with its own tsconfig.json, which it does not ship (@cdktn/provider-aws):
  // jsii cannot then map its lib/*.d.ts to the src/*.ts its assembly names, and calls every type
  // "not exported". A copy with the mapping spelled out in package.json fixes that; hard links
  // (not symbolic ones, which the compiler resolves back to the original) keep it cheap.
  try {
    execFileSync('cp', ['-al', target, at], { stdio: 'ignore' });
  } catch {
    fs.rmSync(at, { recursive: true, force: true });
    execFileSync('cp', ['-a', target, at]); // another file system: no hard links
  }
  fs.rmSync(path.join(at, 'package.json'));
  const { tsconfig: _tsconfig, validateTsconfig: _validate, ...jsii } = manifest.jsii;
  manifest.jsii = { ...jsii, tsc: { rootDir: 'src', outDir: 'lib' } };
  fs.writeFileSync(path.join(at, 'package.json'), JSON.stringify(manifest, null, 2));
}

// The tools run on Node 22 (jsii warns on Node 20, and cdktn needs 22).
const NODE22_BIN = path.join(TOOLS, 'node22', 'bin');

function run(cmd, args, cwd) {
  const PATH = fs.existsSync(NODE22_BIN) ? `${NODE22_BIN}${path.delimiter}${process.env.PATH}` : process.env.PATH;
  execFileSync(cmd, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, PATH, JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION: '1' } });
}

function stage(line, pkgDir) {
  fs.rmSync(pkgDir, { recursive: true, force: true });
  for (const s of SOURCES) {
    copyTree(path.join(REPO, s.from), path.join(pkgDir, 'src', s.from), line.rewrite, (rel) => (s.only ? s.only.includes(rel) : !s.skip(rel)));
  }
  const readme = path.join(__dirname, `README.${line === LINES.cdktn ? 'cdktn' : 'cdktf'}.md`);
  fs.copyFileSync(fs.existsSync(readme) ? readme : path.join(__dirname, 'README.cdktf.md'), path.join(pkgDir, 'README.md'));
  fs.copyFileSync(path.join(REPO, 'constructs', 'API.md'), path.join(pkgDir, 'API.md'));
  const manifest = {
    name: line.packageName,
    version: VERSION,
    description: line.description,
    license: 'Apache-2.0',
    author: { name: 'Joinery authors', organization: false },
    repository: { type: 'git', url: 'https://joinery.local/joinery.git', directory: 'constructs' },
    main: 'lib/constructs/lib.js',
    types: 'lib/constructs/lib.d.ts',
    exports: { '.': { types: './lib/constructs/lib.d.ts', default: './lib/constructs/lib.js' }, './.jsii': './.jsii', './package.json': './package.json' },
    files: ['lib/**/*.js', 'lib/**/*.d.ts', '.jsii', 'README.md', 'API.md'],
    peerDependencies: line.peers,
    devDependencies: line.devs,
    engines: { node: line === LINES.cdktn ? '>=22.19' : '>=20' },
    jsii: {
      outdir: 'dist',
      tsc: { rootDir: 'src', outDir: 'lib' },
      excludeTypescript: ['src/constructs/index.ts'],
      targets: { python: line.python, go: line.go, java: line.java },
    },
  };
  fs.writeFileSync(path.join(pkgDir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  for (const name of Object.keys(line.peers)) link(line.modules, pkgDir, name);
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const line = LINES[opts.line];
  const pkgDir = path.join(opts.out, 'package');
  stage(line, pkgDir);
  const bin = path.join(TOOLS, 'jsii', 'node_modules', '.bin');
  run(path.join(bin, 'jsii'), ['--silence-warnings=reserved-word'], pkgDir);
  if (opts.docs) {
    run(path.join(bin, 'jsii-docgen'), ['--language', 'typescript', '--output', opts.docs], pkgDir);
  }
  const targets = ['python', 'go', 'java'].filter((t) => opts[t]);
  if (targets.length) {
    run(path.join(bin, 'jsii-pacmak'), ['--targets', targets.join(','), '--outdir', path.join(opts.out, 'dist'), `--code-only=${opts.codeOnly}`], pkgDir);
  }
  if (opts.pack) {
    fs.mkdirSync(path.join(opts.out, 'dist', 'js'), { recursive: true });
    run('npm', ['pack', '--silent', '--pack-destination', path.join(opts.out, 'dist', 'js')], pkgDir);
  }
}

try {
  main();
} catch (err) {
  process.stderr.write(`error: ${err.message}\n`);
  process.exit(1);
}
