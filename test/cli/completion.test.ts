// `joinery completion bash|zsh`: the scripts are sourced into a real shell and their completion
// function called as the shell would, with the words typed so far.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../support/server';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'joinery-completion-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

let bashScript: string;
beforeAll(async () => {
  const r = await runCli(['completion', 'bash']);
  expect([r.code, r.stderr]).toEqual([0, '']);
  bashScript = path.join(dir, 'joinery.bash');
  fs.writeFileSync(bashScript, r.stdout);
});

/** What bash offers after `words` (the last one is the word being completed). */
function bashComplete(...words: string[]): string[] {
  const out = execFileSync(
    'bash',
    ['--norc', '--noprofile', '-c', 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); _joinery_completion; printf "%s\\n" "${COMPREPLY[@]}"', 'bash', bashScript, ...words],
    { encoding: 'utf8', cwd: dir, timeout: 10_000 },
  );
  return out.split('\n').filter(Boolean);
}

describe('bash', () => {
  test('registers itself for joinery', () => {
    expect(execFileSync('bash', ['--norc', '-c', 'source "$1"; complete -p joinery', 'bash', bashScript], { encoding: 'utf8' }).trim()).toBe('complete -F _joinery_completion joinery');
  });

  test('commands, then subcommands, then flags', () => {
    expect(bashComplete('joinery', '')).toEqual(expect.arrayContaining(['serve', 'status', 'tokens', 'nodes', 'get', 'rm', 'join', 'agent', 'completion']));
    expect(bashComplete('joinery', 'to')).toEqual(['tokens']);
    expect(bashComplete('joinery', 'tokens', '')).toEqual(['add', 'ls', 'rm', 'test', '--help']);
    expect(bashComplete('joinery', 'tokens', 'add', '--t')).toEqual(['--type', '--ttl']);
    expect(bashComplete('joinery', 'agent', '--no-r')).toEqual(['--no-rotate-keys']);
  });

  test('values: --format choices, completion shells, files and directories, nothing for free text', () => {
    expect(bashComplete('joinery', 'status', '--format', '')).toEqual(['text', 'yaml', 'json']);
    expect(bashComplete('joinery', 'tokens', 'ls', '--format', 'y')).toEqual(['yaml']);
    expect(bashComplete('joinery', 'completion', '')).toEqual(['bash', 'zsh', '--help']);
    fs.writeFileSync(path.join(dir, 'tokens.yaml'), '');
    fs.mkdirSync(path.join(dir, 'state'), { recursive: true });
    expect(bashComplete('joinery', 'create', '-f', 'tok')).toEqual(['tokens.yaml']);
    expect(bashComplete('joinery', 'serve', '--data-dir', '')).toEqual(['state']);
    expect(bashComplete('joinery', 'join', '--token', '')).toEqual([]);
  });

  test('flags and their values before the command path are skipped', () => {
    expect(bashComplete('joinery', 'tokens', '--addr', 'x:1', 'ls', '--format', 'j')).toEqual(['json']);
    expect(bashComplete('joinery', 'get', '')).toEqual(expect.arrayContaining(['tokens', 'token/', 'nodes', 'node/', '--format']));
  });
});

// scripts/install-test-deps.sh installs zsh, so this never skips (a missing zsh fails the suite).
const zsh = ['/usr/bin/zsh', '/bin/zsh'].find((p) => fs.existsSync(p)) ?? 'zsh';

describe('zsh', () => {
  test('parses, registers itself with compdef, and offers the same words', async () => {
    const r = await runCli(['completion', 'zsh']);
    const script = path.join(dir, '_joinery');
    fs.writeFileSync(script, r.stdout);
    expect(r.stdout.split('\n')[0]).toBe('#compdef joinery');
    execFileSync(zsh!, ['-n', script]);
    // compdef, compadd and _files are the completion system's; stand-ins print what they get.
    const driver = [
      'compdef() { print -r -- "compdef $*"; }',
      'compadd() { [[ $1 == -- ]] && shift; print -r -- "offer: $*"; }',
      '_files() { print -r -- "files $*"; }',
      `source ${script}`,
      "words=(joinery tokens ''); CURRENT=3; _joinery",
      "words=(joinery status --format ''); CURRENT=4; _joinery",
      "words=(joinery create -f ''); CURRENT=4; _joinery",
    ].join('\n');
    const out = execFileSync(zsh!, ['-f', '-c', driver], { encoding: 'utf8', timeout: 10_000 }).split('\n');
    expect(out).toEqual(['compdef _joinery joinery', 'offer: add ls rm test --help', 'offer: text yaml json', 'files ', '']);
  });
});
