// The SQLite driver for this Node.js. better-sqlite3 12 is built against V8's own ABI and, on
// Node 24, aborts when the garbage collector finalises a statement (node's ObjectWrap cleanup-hook
// assertion); better-sqlite3 13 is built on Node-API and ships prebuilt binaries, but needs
// Node 22 or newer. Both are installed (13 under the alias better-sqlite3-napi), and the one that
// works on the running Node is loaded. Their JavaScript API is the same.

import type BetterSqlite3 from 'better-sqlite3';

const major = Number(process.versions.node.split('.')[0]);

/** The driver's module name, for a worker thread that opens its own connection (sqlite-checkpointer.ts). */
export const SQLITE_DRIVER = major >= 22 ? 'better-sqlite3-napi' : 'better-sqlite3';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const Database: typeof BetterSqlite3 = major >= 22 ? require('better-sqlite3-napi') : require('better-sqlite3');

export default Database;
export type { Database as SqliteDatabase } from 'better-sqlite3';
