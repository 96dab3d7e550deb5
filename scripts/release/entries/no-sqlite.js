// Stands in for better-sqlite3 in the single-file joinery: a native module cannot be bundled,
// and a missing one must not stop the commands that never open a database. Only opening the
// SQLite store reaches this, and it says where the server is.
const VERSION = require('../../../package.json').version;

function Database() {
  throw new Error(
    `the single-file joinery has no SQLite module, so \`joinery serve\` cannot use SQLite here: ` +
      `install the npm package (npm install joinery-${VERSION}.tgz) and run \`npx joinery serve\``,
  );
}
module.exports = Database;
