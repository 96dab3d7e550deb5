// The CLI's argument handling on commander: help for every command and subcommand, and strict
// refusal (one line `error: ...`, exit 2, nothing on stdout) of unknown commands, unknown flags,
// extra arguments, missing arguments and bad values. None of these need a server: they are refused
// before any connection.

import * as path from 'node:path';
import type { Command } from 'commander';
import { parseArgs, UsageError } from '../../cli/args';
import { AGENT_FLAGS } from '../../cli/agent/config';
import { CLI_JS, runCli } from '../support/server';

// The compiled CLI, in this process: api/version.ts finds package.json from dist/ only.
const { main } = require(CLI_JS) as typeof import('../../cli/main');
const { buildProgram } = require(path.join(path.dirname(CLI_JS), 'program.js')) as typeof import('../../cli/program');

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((stdout += String(s)), true));
  const err = jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((stderr += String(s)), true));
  try {
    const code = await main(argv);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

/** Every command path of the tree: ['tokens'], ['tokens', 'add'], ... */
function commandPaths(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands.flatMap((c) => [[...prefix, c.name()], ...commandPaths(c, [...prefix, c.name()])]);
}

describe('help', () => {
  const paths = commandPaths(buildProgram().root);

  test('the tree has the tctl verbs and every command that existed before', () => {
    const names = paths.map((p) => p.join(' '));
    for (const n of ['serve', 'status', 'create', 'get', 'rm', 'tokens add', 'tokens ls', 'tokens rm', 'nodes ls', 'nodes rm', 'join', 'agent', 'install systemd', 'provider install', 'completion', 'version']) {
      expect(names).toContain(n);
    }
  });

  test.each(paths.map((p) => [p.join(' '), p]))('joinery %s --help prints its own usage and exits 0', async (_name, p) => {
    const r = await run([...(p as string[]), '--help']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(`Usage: joinery ${(p as string[]).join(' ')}`);
  });

  test('a group lists its subcommands; a leaf lists its flags', async () => {
    const tokens = await run(['tokens', '--help']);
    expect(tokens.stdout).toMatch(/^\s+add \[options\]\s+create a token-method token/m);
    expect(tokens.stdout).toMatch(/^\s+ls \[options\]/m);
    const add = await run(['tokens', 'add', '--help']);
    for (const flag of ['--type <roles>', '--ttl <duration>', '--join-method <method>', '--value <name>', '--labels <k=v,...>', '--format <format>', '--addr <host:port>']) expect(add.stdout).toContain(flag);
    expect(add.stdout).not.toContain('--plugin-dir');
    // `help COMMAND` is the same as COMMAND --help.
    expect((await run(['help', 'tokens'])).stdout).toBe(tokens.stdout);
  });

  test('joinery alone prints the overview to stderr and exits 2; --help and help exit 0', async () => {
    const bare = await run([]);
    expect([bare.code, bare.stdout]).toEqual([2, '']);
    expect(bare.stderr).toMatch(/^Usage: joinery/);
    expect((await run(['--help'])).code).toBe(0);
    expect((await run(['help'])).stdout).toMatch(/^Commands:/m);
  });

  test('version and --version', async () => {
    expect((await run(['version'])).stdout).toMatch(/^joinery \d+\.\d+\.\d+/);
    expect((await run(['--version'])).stdout).toBe((await run(['version'])).stdout);
  });
});

describe('strict arguments', () => {
  test.each([
    [['frobnicate'], /^error: unknown command "frobnicate"; expected one of: serve, status, .*completion, version\n$/],
    [['tokens', 'frob'], /^error: unknown command "frob" for joinery tokens; expected one of: add, ls, rm, test\n$/],
    [['tokens', 'ls', '--bogus'], /^error: unknown flag --bogus\n$/],
    [['tokens', 'ls', '--fromat', 'json'], /^error: unknown flag --fromat; did you mean --format\?\n$/],
    [['tokens', 'ls', 'extra'], /^error: too many arguments for 'ls'\. Expected 0 arguments but got 1\.\n$/],
    [['status', 'extra'], /^error: too many arguments/],
    [['nodes', 'rm', 'a', 'b'], /^error: too many arguments for 'rm'\. Expected 1 argument but got 2\.\n$/],
    [['tokens', 'rm'], /^error: missing required argument 'name'\n$/],
    [['get'], /^error: missing required argument 'resource'\n$/],
    [['status', '--format', 'xml'], /^error: option '--format <format>' argument 'xml' is invalid\. Allowed choices are text, yaml, json\.\n$/],
    [['get', 'tokens', '--format', 'table'], /argument 'table' is invalid/],
    [['tokens', 'ls', '--format'], /^error: option '--format <format>' argument missing\n$/],
    [['join', '--insecure=maybe'], /^error: --insecure takes no value/],
    [['completion', 'fish'], /^error: command-argument value 'fish' is invalid for argument 'shell'\. Allowed choices are bash, zsh\.\n$/],
    [['agent', 'extra'], /^error: too many arguments for 'agent'/],
    [['install', 'systemd', '-o'], /^error: option '-o, --output <file>' argument missing\n$/],
    [['get', 'widgets/x'], /^error: get: unknown resource "widgets\/x"; use tokens, token\/NAME, nodes or node\/HOST_ID\n$/],
    [['rm', 'tokens'], /^error: rm needs token\/NAME\n$/],
    [['tokens', 'add', '--type', 'node', '--join-method', 'ec2'], /^error: --join-method ec2 needs allow rules.*joinery create -f FILE/],
    [['tokens', 'add'], /^error: tokens add needs --type ROLE/],
    [['tokens', 'add', '--type', 'node', '--ttl', 'forever'], /^error: --ttl must be a duration/],
    [['tokens', 'add', '--type', 'node', '--labels', 'novalue'], /^error: --labels must be KEY=VALUE/],
  ])('%j is a usage error', async (argv, message) => {
    const r = await run(argv as string[]);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect([r.code, r.stdout]).toEqual([2, '']);
  });

  test('the real process exits 2 with the same one line', async () => {
    const r = await runCli(['tokens', 'ls', 'extra', '--format', 'json']);
    expect([r.code, r.stdout, r.stderr]).toEqual([2, '', "error: too many arguments for 'ls'. Expected 0 arguments but got 1.\n"]);
  });

  test('flags may come before or after arguments, and as --flag=value', () => {
    // parseArgs is the same commander path for a flat spec (used by the agent's configuration).
    expect(parseArgs(['--config', 'a.yaml', '--once', '--role=App'], AGENT_FLAGS).flags).toEqual({ config: 'a.yaml', once: true, role: 'App' });
    expect(parseArgs(['--insecure=false', '--rotate-keys=false'], AGENT_FLAGS).flags).toEqual({ insecure: false, 'rotate-keys': false });
    expect(parseArgs(['--no-rotate-keys'], AGENT_FLAGS).flags).toEqual({ 'rotate-keys': false });
    expect(() => parseArgs(['--bogus'], AGENT_FLAGS)).toThrow(UsageError);
    expect(() => parseArgs(['--token'], AGENT_FLAGS)).toThrow(/argument missing/);
  });
});
