// The second stage of the single-file joinery. Its main script is the command tree alone (what
// `joinery --version` and `--help` run); every command's code is the SEA asset commands.js,
// compiled here the first time a command needs it, with the V8 code cache that the build made of it
// with the very Node binary the executable embeds (asset commands.cache). A cache V8 refuses (it
// checks the V8 version, its flags and the source) only costs the compile it would have saved.
// `NODE_DEBUG=joinery-sea joinery ...` says when the bundle is compiled and whether its cache was
// accepted (the release test relies on it). See scripts/release/bundle.js for how the command
// tree's lazy imports arrive here, and what the two bundles share.
const sea = require('node:sea');
const vm = require('node:vm');
const debug = require('node:util').debuglog('joinery-sea');
// The modules of the main script that the commands use too (commander, cli/args.js, ...): one
// instance of each, so that `instanceof UsageError` holds across the two bundles.
const shared = require('joinery:sea-shared');

/** The name of the bundle in stack traces; build.js makes its cache under the same one. */
const FILENAME = 'joinery-commands.js';

let commands;

function compile() {
  const source = sea.getAsset('commands.js', 'utf8');
  let cachedData;
  try {
    cachedData = new Uint8Array(sea.getRawAsset('commands.cache'));
  } catch {
    cachedData = undefined; // built without a cache: compile from source
  }
  // No importModuleDynamically: the bundle has no import() (bundle.js turns them into requires).
  const script = new vm.Script(source, { filename: FILENAME, cachedData });
  debug('compiled the command bundle; code cache %s', cachedData === undefined ? 'absent' : script.cachedDataRejected ? 'rejected' : 'accepted');
  const module = { exports: {} };
  script.runInThisContext()(module.exports, require, module, __filename, __dirname, (key) => shared[key]());
  return module.exports;
}

/** The exports of a module of the command bundle, by its path in the checkout (dist/cli/admin.js). */
function load(key) {
  commands ??= compile();
  const get = commands[key];
  if (!get) throw new Error(`the single-file joinery has no module ${key}`);
  return get();
}

module.exports = { load };
