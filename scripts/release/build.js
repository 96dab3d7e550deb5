#!/usr/bin/env node
// `npm run release`: builds release/ from this checkout's sources:
//   joinery-<version>-linux-x64                        single-file CLI and agent (Node 24 SEA)
//   terraform-provider-teleport_<version>_linux_amd64.zip, ..._SHA256SUMS
//   mirror/joinery.local/joinery/teleport/...          filesystem and network mirror
//   joinery-<version>.tgz, joinery-cdktf-constructs-<version>.tgz   npm packages
// Reproducible: the sources are compiled in a clean staging copy (never the working dist/), the
// toolchain is pinned (the build runs on the Node of scripts/install-node.sh, esbuild comes from the
// lock file; the tarballs are made by the machine's npm), and times inside archives come from the
// commit (SOURCE_DATE_EPOCH when set).
const { execFileSync, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const NODE_MAJOR = '24';
const PROVIDER = { host: 'joinery.local', namespace: 'joinery', type: 'teleport' };
const PLATFORM = { node: 'linux-x64', terraform: 'linux_amd64' };

const log = (msg) => process.stderr.write(`release: ${msg}\n`);

function pinnedNode() {
  return execFileSync('sh', [path.join(ROOT, 'scripts', 'install-node.sh'), NODE_MAJOR], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

/** Nothing in the release comes from these, so changing them needs no rebuild. */
const NOT_RELEASED = /^(test|bench|\.ci)\//;

/** The files of the checkout as git sees them (tracked and new, not ignored), deleted ones left out. */
function sourceFiles() {
  const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' });
  return [...new Set(out.split('\0').filter(Boolean))]
    .filter((f) => !NOT_RELEASED.test(f) && fs.existsSync(path.join(ROOT, f)) && !fs.statSync(path.join(ROOT, f)).isDirectory())
    .sort();
}

/** Identifies the inputs of a build; release/BUILD-ID lets callers (the tests) skip a rebuild. */
function buildId(files, node) {
  const h = crypto.createHash('sha256');
  h.update(`node ${execFileSync(node, ['--version'], { encoding: 'utf8' }).trim()}\n`);
  for (const f of files) h.update(`${f}\0`).update(fs.readFileSync(path.join(ROOT, f))).update('\0');
  return h.digest('hex');
}

/** Seconds since the epoch for times inside archives: the commit's, so a rebuild gives the same bytes. */
function sourceDate() {
  if (process.env.SOURCE_DATE_EPOCH) return new Date(Number(process.env.SOURCE_DATE_EPOCH) * 1000);
  try {
    return new Date(Number(execFileSync('git', ['log', '-1', '--format=%ct'], { cwd: ROOT, encoding: 'utf8' }).trim()) * 1000);
  } catch {
    return new Date(Date.UTC(2020, 0, 1));
  }
}

function stage(files, stageDir) {
  fs.rmSync(stageDir, { recursive: true, force: true });
  for (const f of files) {
    const to = path.join(stageDir, f);
    fs.mkdirSync(path.dirname(to), { recursive: true });
    fs.copyFileSync(path.join(ROOT, f), to);
  }
  fs.symlinkSync(fs.realpathSync(path.join(ROOT, 'node_modules')), path.join(stageDir, 'node_modules'));
  execFileSync(process.execPath, [path.join(stageDir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', stageDir], { cwd: stageDir, stdio: 'inherit' });
  // The web console's bundle (dist/console/), which the npm package ships and `joinery serve` serves.
  execFileSync(process.execPath, [path.join(stageDir, 'scripts', 'build-console.js')], { cwd: stageDir, stdio: 'inherit' });
}

/** npm pack of a directory, with npm's own CLI run on the pinned Node (its gzip is part of the bytes). */
function npmPack(node, dir, dest) {
  const npmCli = path.join(path.dirname(fs.realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim())), 'npm-cli.js');
  const out = execFileSync(node, [npmCli, 'pack', '--ignore-scripts', '--json', '--pack-destination', dest], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return path.join(dest, JSON.parse(out)[0].filename);
}

/** The server and CLI package: what `npm install` of it needs at run time, nothing else. */
function serverPackageDir(stageDir) {
  const pkg = JSON.parse(fs.readFileSync(path.join(stageDir, 'package.json'), 'utf8'));
  delete pkg.devDependencies;
  delete pkg.private;
  pkg.scripts = { start: 'joinery serve' };
  fs.writeFileSync(path.join(stageDir, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
  return stageDir;
}

/** The construct library package: dist/constructs and the schema it validates with. */
function constructsPackageDir(stageDir, version) {
  const src = path.join(stageDir, 'packages', 'cdktf-constructs');
  const dir = path.join(stageDir, '.pack', 'cdktf-constructs');
  fs.mkdirSync(dir, { recursive: true });
  const pkg = JSON.parse(fs.readFileSync(path.join(src, 'package.json'), 'utf8'));
  pkg.version = version;
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
  fs.copyFileSync(path.join(src, 'README.md'), path.join(dir, 'README.md'));
  for (const sub of ['constructs', 'schema']) fs.cpSync(path.join(stageDir, 'dist', sub), path.join(dir, 'dist', sub), { recursive: true });
  return dir;
}

async function main() {
  const node = pinnedNode();
  // The whole build runs on the pinned Node: its zlib makes the zip's and the tarballs' bytes.
  if (fs.realpathSync(process.execPath) !== fs.realpathSync(node)) {
    const r = spawnSync(node, [__filename, ...process.argv.slice(2)], { stdio: 'inherit' });
    process.exit(r.status ?? 1);
  }
  const files = sourceFiles();
  const id = buildId(files, node);
  const releaseDir = path.join(ROOT, 'release');
  const idFile = path.join(releaseDir, 'BUILD-ID');
  if (process.argv.includes('--if-changed') && fs.existsSync(idFile) && fs.readFileSync(idFile, 'utf8').trim() === id) {
    log(`release/ is current (${id.slice(0, 12)})`);
    return;
  }
  const version = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;
  const date = sourceDate();
  const work = path.join(ROOT, '.release-build');
  const stageDir = path.join(work, 'src');
  const seaDir = path.join(work, 'sea');

  log(`compiling ${files.length} source files in a clean copy`);
  stage(files, stageDir);
  fs.rmSync(seaDir, { recursive: true, force: true });
  fs.mkdirSync(seaDir, { recursive: true });
  fs.rmSync(releaseDir, { recursive: true, force: true });
  fs.mkdirSync(releaseDir, { recursive: true });

  const { bundle, bundleTwoStage } = require('./bundle');
  const { buildSea, scriptCodeCache } = require('./sea');
  const { providerPackage } = require('./provider-package');

  log('bundling the CLI and the provider');
  // The CLI in two stages: the command tree as the main script, every command's code as an asset
  // compiled on first use (entries/sea-commands.js), each with its code cache.
  const commandsJs = path.join(seaDir, 'commands.js');
  const commandsCache = path.join(seaDir, 'commands.cache');
  await bundleTwoStage(stageDir, 'cli.js', { main: path.join(seaDir, 'joinery.js'), commands: commandsJs });
  scriptCodeCache({ node, script: commandsJs, output: commandsCache, filename: 'joinery-commands.js' });
  await bundle(stageDir, 'provider.js', path.join(seaDir, 'provider.js'));

  // The plugin protocol's .proto files, embedded as descriptors (provider/proto-files.ts reads them).
  const protobuf = require(path.join(stageDir, 'node_modules', 'protobufjs'));
  const assets = {};
  for (const file of ['tfplugin6.proto', 'go-plugin.proto', 'health.proto']) {
    const root = new protobuf.Root().loadSync(path.join(stageDir, 'provider', 'proto', file), { keepCase: true });
    const out = path.join(seaDir, `${file}.json`);
    fs.writeFileSync(out, JSON.stringify(root.toJSON()));
    assets[`proto/${file}.json`] = path.basename(out);
  }

  const cliExe = path.join(releaseDir, `joinery-${version}-${PLATFORM.node}`);
  log(`building ${path.basename(cliExe)} on Node ${NODE_MAJOR}`);
  const cliAssets = { 'commands.js': path.basename(commandsJs), 'commands.cache': path.basename(commandsCache) };
  await buildSea({ root: stageDir, node, workDir: seaDir, main: path.join(seaDir, 'joinery.js'), assets: cliAssets, output: cliExe, codeCache: true });
  const providerExe = path.join(seaDir, `terraform-provider-${PROVIDER.type}_v${version}`);
  log(`building ${path.basename(providerExe)}`);
  await buildSea({ root: stageDir, node, workDir: seaDir, main: path.join(seaDir, 'provider.js'), assets, output: providerExe });

  const pkgd = await providerPackage({ root: stageDir, releaseDir, executable: providerExe, version, platform: PLATFORM.terraform, ...PROVIDER, date });
  log(`provider ${path.basename(pkgd.zip)} (${pkgd.hashes.join(' ')})`);

  log('packing the npm packages');
  const constructsDir = constructsPackageDir(stageDir, version);
  npmPack(node, serverPackageDir(stageDir), releaseDir);
  npmPack(node, constructsDir, releaseDir);

  fs.writeFileSync(idFile, `${id}\n`);
  const sums = fs
    .readdirSync(releaseDir)
    .filter((f) => fs.statSync(path.join(releaseDir, f)).isFile() && f !== 'BUILD-ID')
    .map((f) => `${crypto.createHash('sha256').update(fs.readFileSync(path.join(releaseDir, f))).digest('hex')}  ${f}`);
  process.stdout.write(sums.join('\n') + '\n');
}

main().catch((e) => {
  process.stderr.write(`release: ${e.stack || e.message}\n`);
  process.exit(1);
});
