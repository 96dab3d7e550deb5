// A Node.js single executable application (Node 24: the blob is made with
// --experimental-sea-config and injected with postject; --build-sea arrives only in Node 25.5).
// The CLI (the agent a host runs at every boot and renewal) starts in two stages, each with a V8
// code cache: the main script is the command tree alone, with the SEA's own cache (useCodeCache),
// and the commands' 8.4 MiB bundle is an asset compiled with vm.Script on first use, with the
// cache scriptCodeCache() makes (entries/sea-commands.js, bundle.js's bundleTwoStage).
// `joinery --version` costs 1.3x the CPU of a bare `node -e 0` of the same Node (2.4x to 2.7x with
// one bundle and its cache, 6.8x without a cache; `npm run bench -- startup`, docs/install.md).
// Both caches are made with --predictable, without which V8's random seeds make every build's
// bytes differ (the release is reproducible); V8 still accepts them at run time. The provider has
// none (Terraform starts it once a run). No startup snapshot: the commands require built-ins
// (https, tls) that Node's userland snapshots do not support.
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/**
 * @param {object} o
 * @param {string} o.root     the checkout (for postject)
 * @param {string} o.node     the Node binary to embed (it also makes the blob: the versions must match)
 * @param {string} o.workDir  scratch directory; the config names files relative to it
 * @param {string} o.main     bundled script, inside workDir
 * @param {Record<string, string>} [o.assets] asset name -> file inside workDir
 * @param {string} o.output   the executable to write
 * @param {boolean} [o.codeCache] embed V8's code cache of the bundle (faster start)
 */
async function buildSea({ root, node, workDir, main, assets = {}, output, codeCache = false }) {
  const name = path.basename(output);
  const config = path.join(workDir, `${name}.sea-config.json`);
  const blob = `${name}.blob`;
  fs.writeFileSync(
    config,
    JSON.stringify({ main: path.relative(workDir, main), output: blob, disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: codeCache, assets }, null, 2),
  );
  execFileSync(node, [...(codeCache ? ['--predictable'] : []), '--experimental-sea-config', path.basename(config)], { cwd: workDir, stdio: ['ignore', 'ignore', 'inherit'] });

  const tmp = `${output}.tmp`;
  fs.copyFileSync(node, tmp);
  fs.chmodSync(tmp, 0o755);
  // postject's CLI in a child, to drop its harmless complaints about unnamed ELF note sections.
  const cli = path.join(root, 'node_modules', 'postject', 'dist', 'cli.js');
  const r = spawnSync(process.execPath, [cli, tmp, 'NODE_SEA_BLOB', path.join(workDir, blob), '--sentinel-fuse', SEA_FUSE], { encoding: 'utf8' });
  const noise = /^warning: Can't find string offset for section name '\.note[^']*'$/;
  const said = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim() && !noise.test(l));
  if (r.status !== 0) throw new Error(`postject failed (${r.status}):\n${said.join('\n')}`);
  fs.renameSync(tmp, output);
}

/**
 * V8's code cache of a script that the executable compiles itself with vm.Script (the command
 * bundle, see entries/sea-commands.js), made by `node`, the binary the executable embeds: V8
 * accepts a cache only from its own version and flags. --predictable makes its bytes the same on
 * every build, and V8 still accepts it from a Node run without the flag (the release test checks).
 */
function scriptCodeCache({ node, script, output, filename }) {
  const make = `
    const fs = require('node:fs');
    const vm = require('node:vm');
    const [script, output, filename] = process.argv.slice(1);
    const compiled = new vm.Script(fs.readFileSync(script, 'utf8'), { filename });
    fs.writeFileSync(output, compiled.createCachedData());`;
  execFileSync(node, ['--predictable', '-e', make, script, output, filename], { stdio: ['ignore', 'ignore', 'inherit'] });
}

module.exports = { buildSea, scriptCodeCache };
