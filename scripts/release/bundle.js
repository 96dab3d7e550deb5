// One CommonJS file per single executable, from the compiled dist/ (tsc's output keeps the
// relative requires such as api/version.js's ../../package.json pointing where they should).
// Deterministic: paths in the output are relative to the checkout, symlinks (a shared
// node_modules) are not followed, no source maps, no timestamps.
const path = require('node:path');

/**
 * Native modules cannot be bundled: the single-file joinery carries a stand-in for each that
 * explains (better-sqlite3 for the server's store, pkcs11js for a CA key in an HSM).
 */
const noNativeModules = (root) => ({
  name: 'no-native-modules',
  setup(build) {
    build.onResolve({ filter: /^better-sqlite3(-napi)?$/ }, () => ({ path: path.join(root, 'scripts', 'release', 'entries', 'no-sqlite.js') }));
    build.onResolve({ filter: /^pkcs11js$/ }, () => ({ path: path.join(root, 'scripts', 'release', 'entries', 'no-pkcs11.js') }));
  },
});

async function bundle(root, entry, outfile) {
  const esbuild = require(path.join(root, 'node_modules', 'esbuild'));
  const result = await esbuild.build({
    entryPoints: [path.join(root, 'scripts', 'release', 'entries', entry)],
    outfile,
    absWorkingDir: root,
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'cjs',
    preserveSymlinks: true,
    legalComments: 'eof',
    sourcemap: false,
    metafile: true,
    logLevel: 'warning',
    plugins: [noNativeModules(root)],
  });
  const inputs = Object.keys(result.metafile.inputs);
  const absolute = inputs.filter((p) => path.isAbsolute(p) || p.startsWith('..'));
  if (absolute.length) throw new Error(`bundle ${entry} has inputs outside the checkout: ${absolute.slice(0, 3).join(', ')}`);
  return { inputs };
}

module.exports = { bundle };
