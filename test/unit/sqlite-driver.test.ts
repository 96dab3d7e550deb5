// One place chooses the SQLite driver for the running Node (api/store/sqlite-driver.ts): a file
// loading better-sqlite3 directly gets the Node 20 build on Node 22/24, which fails to load there.

import { execFileSync } from 'node:child_process';
import { REPO_ROOT } from '../support/server';

test('nothing but the driver module loads better-sqlite3 directly', () => {
  const out = execFileSync('git', ['grep', '-lE', `(from|require\\()\\s*['"]better-sqlite3['"]`, '--', 'api', 'cli', 'client', 'provider', 'schema', 'test', 'bench', 'scripts'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim().split('\n');
  expect(out.filter((f) => f !== 'api/store/sqlite-driver.ts' && f !== 'test/unit/sqlite-driver.test.ts')).toEqual([]);
});
