// The project's jest configuration, for a run on another Node.js: jest resolves modules itself
// (the preload hook does not reach it), so better-sqlite3 is mapped to the copy built for it.
const path = require('node:path');
const base = require('../../jest.config.js');

const dir = process.env.JOINERY_BETTER_SQLITE3_DIR;
if (!dir) throw new Error('JOINERY_BETTER_SQLITE3_DIR is not set: run scripts/node-versions/test-on-node.sh');

module.exports = { ...base, rootDir: path.resolve(__dirname, '..', '..'), moduleNameMapper: { ...base.moduleNameMapper, '^better-sqlite3$': dir } };
