// Preloaded (NODE_OPTIONS=--require) into every Node process of a test run on another Node.js
// than the one node_modules was installed with: `require('better-sqlite3')` then loads the copy
// built for this Node's ABI by build-sqlite-for-node.sh (JOINERY_BETTER_SQLITE3_DIR), so the
// servers the API suites spawn (process.execPath dist/cli/main.js serve) open SQLite too.
const Module = require('node:module');

const dir = process.env.JOINERY_BETTER_SQLITE3_DIR;
if (dir) {
  const resolve = Module._resolveFilename;
  Module._resolveFilename = function resolveBetterSqlite3(request, ...rest) {
    return resolve.call(this, request === 'better-sqlite3' ? dir : request, ...rest);
  };
}
