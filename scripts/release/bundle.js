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

/** The options every bundle shares; `entryPoints` or `stdin` and `outfile` come from the caller. */
const common = (root, plugins) => ({
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
  plugins: [noNativeModules(root), ...plugins],
});

const entryPath = (root, entry) => path.join(root, 'scripts', 'release', 'entries', entry);

/** The checkout-relative inputs of a build, refusing any from outside it (they would make the bytes depend on the machine). */
function inputsOf(result, entry) {
  const inputs = Object.keys(result.metafile.inputs);
  const absolute = inputs.filter((p) => path.isAbsolute(p) || p.startsWith('..'));
  if (absolute.length) throw new Error(`bundle ${entry} has inputs outside the checkout: ${absolute.slice(0, 3).join(', ')}`);
  return inputs;
}

async function bundle(root, entry, outfile) {
  const esbuild = require(path.join(root, 'node_modules', 'esbuild'));
  const result = await esbuild.build({ ...common(root, []), entryPoints: [entryPath(root, entry)], outfile });
  return { inputs: inputsOf(result, entry) };
}

// The single-file joinery in two stages (scripts/release/entries/sea-commands.js loads the second).
// cli/program.ts imports every command lazily, `await import('./admin')`, which tsc emits as
// `Promise.resolve().then(() => __importStar(require('./admin')))`. In the main script such a
// require becomes a stub that asks the command bundle for the module; everything the main script
// reaches without one (commander, the command tree, cli/args.js, api/version.js) stays in it. The
// command bundle has every module the stubs name, and takes the main script's own instance of
// any module both reach. Plain `node dist/cli/main.js` and the npm package are untouched.

/** A require that tsc emitted for an `import()`; the same call without the wrapper is a static import. */
const DYNAMIC_REQUIRE = /Promise\.resolve\(\)\.then\(\(\) => (?:__importStar\()?require\((['"])([^'"]+)\1\)/g;

const rel = (root, p) => path.relative(root, p).split(path.sep).join('/');

/**
 * The main script's plugin. Lazy imports of modules outside `keep` become stubs in the namespace
 * joinery-command (`lazy` collects their paths); `keep` is the main script's static closure,
 * unknown (null) in the first pass, which only learns it.
 */
function lazyCommands(root, keep, lazy) {
  const fs = require('node:fs');
  const LAZY = 'joinery-lazy:';
  return {
    name: 'lazy-commands',
    setup(build) {
      // Our compiled files mark their lazy requires (a static require of the same module stays as is).
      build.onLoad({ filter: /\.js$/ }, (args) => {
        if (!args.path.startsWith(path.join(root, 'dist') + path.sep)) return undefined;
        const source = fs.readFileSync(args.path, 'utf8');
        return { contents: source.replace(DYNAMIC_REQUIRE, (call, quote, spec) => call.replace(`${quote}${spec}${quote}`, JSON.stringify(LAZY + spec))), loader: 'js' };
      });
      build.onResolve({ filter: /^joinery-lazy:/ }, async (args) => {
        const resolved = await build.resolve(args.path.slice(LAZY.length), { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir });
        if (resolved.errors.length) return { errors: resolved.errors };
        const key = rel(root, resolved.path);
        if (keep?.has(key)) return { path: resolved.path };
        lazy.add(key);
        return { path: key, namespace: 'joinery-command' };
      });
      build.onLoad({ filter: /.*/, namespace: 'joinery-command' }, (args) => ({
        contents: `module.exports = require('joinery:sea-commands').load(${JSON.stringify(args.path)});\n`,
        resolveDir: root,
      }));
      build.onResolve({ filter: /^joinery:sea-commands$/ }, () => ({ path: entryPath(root, 'sea-commands.js') }));
      // The main script's modules, by path, for the command bundle (each require is the one instance).
      build.onResolve({ filter: /^joinery:sea-shared$/ }, () => ({ path: 'shared', namespace: 'joinery-shared' }));
      build.onLoad({ filter: /.*/, namespace: 'joinery-shared' }, () => ({
        contents: `module.exports = {\n${[...(keep ?? [])].map((k) => `  ${JSON.stringify(k)}: () => require(${JSON.stringify(`./${k}`)}),`).join('\n')}\n};\n`,
        resolveDir: root,
      }));
    },
  };
}

/** The command bundle's plugin: a module the main script has is taken from it (`__joineryShared`, see sea-commands.js). */
function sharedFromMain(root, shared) {
  return {
    name: 'shared-from-main',
    setup(build) {
      build.onResolve({ filter: /.*/ }, async (args) => {
        if (args.pluginData?.inner || args.kind === 'entry-point' || args.namespace !== 'file') return undefined;
        const resolved = await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: { inner: true } });
        if (resolved.errors.length || resolved.external || resolved.namespace !== 'file') return undefined;
        const key = rel(root, resolved.path);
        return shared.has(key) ? { path: key, namespace: 'joinery-shared' } : undefined;
      });
      build.onLoad({ filter: /.*/, namespace: 'joinery-shared' }, (args) => ({ contents: `module.exports = __joineryShared(${JSON.stringify(args.path)});\n` }));
    },
  };
}

/** The parameters the command bundle is wrapped in; sea-commands.js passes them in this order. */
const COMMANDS_WRAPPER = ['(function (exports, require, module, __filename, __dirname, __joineryShared) {', '})'];

/**
 * The two bundles of the single-file joinery: `main` (the command tree, the SEA's main script) and
 * `commands` (every command, wrapped in a function for sea-commands.js).
 */
async function bundleTwoStage(root, entry, { main, commands }) {
  const esbuild = require(path.join(root, 'node_modules', 'esbuild'));
  const entryPoints = [entryPath(root, entry)];
  // First pass: what the main script reaches without a lazy import.
  const first = await esbuild.build({ ...common(root, [lazyCommands(root, null, new Set())]), entryPoints, write: false, outfile: main });
  // The stubs and the loader are the main script's own; the rest may serve the commands too.
  const keep = new Set(inputsOf(first, entry).filter((p) => !p.includes(':') && !p.startsWith('scripts/')));
  const lazy = new Set();
  const mainResult = await esbuild.build({ ...common(root, [lazyCommands(root, keep, lazy)]), entryPoints, outfile: main });
  if (!lazy.size) throw new Error(`bundle ${entry}: no lazy import found; has tsc's output for import() changed?`);
  const keys = [...lazy].sort();
  const commandsResult = await esbuild.build({
    ...common(root, [sharedFromMain(root, keep)]),
    stdin: { contents: `module.exports = {\n${keys.map((k) => `  ${JSON.stringify(k)}: () => require(${JSON.stringify(`./${k}`)}),`).join('\n')}\n};\n`, resolveDir: root, sourcefile: 'joinery-commands-entry.js' },
    outfile: commands,
    // A few dependencies import() built-ins (node:http, node:async_hooks); as requires, the bundle
    // needs no module loader of vm.Script's (whose default loader is still experimental in Node 24).
    supported: { 'dynamic-import': false },
    banner: { js: COMMANDS_WRAPPER[0] },
    footer: { js: COMMANDS_WRAPPER[1] },
  });
  return { main: inputsOf(mainResult, entry), commands: inputsOf(commandsResult, 'commands'), shared: [...keep].sort(), lazy: keys };
}

module.exports = { bundle, bundleTwoStage };
