// What `joinery` loads before it answers: a host runs the agent at every boot and renewal, so
// `--version` and `--help` load commander and the command tree only, and each command loads its
// own code (and the flags it shares) when it runs or shows its help. Asserted on what a child
// process loaded (its require.cache and Node's list of built-in modules), never on a time.

import { spawnSync } from 'node:child_process';
import { CLI_JS, REPO_ROOT } from '../support/server';

interface Loaded {
  code: number;
  stdout: string;
  /** Files of this repository, relative to it (dist/cli/main.js, ...). */
  own: string[];
  /** Packages under node_modules. */
  packages: string[];
  /** Node's built-in modules (tls, https, ...). */
  builtins: string[];
}

/** Runs main(argv) in a child and answers what it had loaded once main returned. */
function loadedBy(argv: string[]): Loaded {
  const script = `
    const path = require('node:path');
    let out = '';
    process.stdout.write = (s) => ((out += s), true);
    require(${JSON.stringify(CLI_JS)}).main(${JSON.stringify(argv)}).then((code) => {
      const files = Object.keys(require.cache);
      process.stderr.write(JSON.stringify({
        code,
        stdout: out,
        own: files.filter((f) => !f.includes('node_modules')).map((f) => path.relative(${JSON.stringify(REPO_ROOT)}, f)),
        packages: [...new Set(files.filter((f) => f.includes('node_modules')).map((f) => f.split('node_modules' + path.sep).pop().split(path.sep)[0]))],
        builtins: process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length)),
      }));
    });`;
  const child = spawnSync(process.execPath, ['-e', script], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
  if (child.status !== 0) throw new Error(`the child failed (${child.status}): ${child.stderr}`);
  return JSON.parse(child.stderr) as Loaded;
}

/** What no command needs to print the version or the overview. */
const HEAVY_BUILTINS = ['tls', 'https', 'http', 'crypto', 'zlib'];
const HEAVY_FILES = ['dist/client/api-client.js', 'dist/cli/output.js', 'dist/cli/common.js', 'dist/cli/agent/config.js', 'dist/cli/join.js', 'dist/cli/admin.js'];

describe('what joinery loads', () => {
  test.each([[['--version']], [['version']], [['--help']], [['help']]])('joinery %j loads commander and the command tree only', (argv) => {
    const r = loadedBy(argv);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(argv[0].includes('version') ? /^joinery \d+\.\d+\.\d+/ : /^Usage: joinery/);
    expect(r.packages).toEqual(['commander']);
    for (const m of HEAVY_BUILTINS) expect(r.builtins).not.toContain(m);
    for (const f of HEAVY_FILES) expect(r.own).not.toContain(f);
    // The overview still says which commands take flags, before their flags are loaded.
    if (argv[0].includes('help')) expect(r.stdout).toMatch(/^\s+status \[options\]\s+cluster name/m);
  });

  test("a command's help loads its flags, and only its own: `status --help` loads the connection flags, not the agent's", () => {
    const r = loadedBy(['status', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--addr <host:port>');
    expect(r.own).toContain('dist/cli/common.js');
    expect(r.own).not.toContain('dist/cli/agent/config.js');
    expect(r.own).not.toContain('dist/cli/admin.js');
    expect(r.packages).not.toContain('yaml');
  });

  test('agent --help loads the agent flags and lists them', () => {
    const r = loadedBy(['agent', '--help']);
    expect(r.code).toBe(0);
    expect(r.own).toContain('dist/cli/agent/config.js');
    expect(r.stdout).toMatch(/--config <file>/);
  });
});
