// The command tree of `joinery`, on commander: help for every command and subcommand, strict
// arguments, and the completion scripts are all derived from it. Each command's code, and the
// flags it shares with other commands (connection, agent, join, audit), are loaded only when that
// command runs or shows its help: `joinery --version` and `joinery --help` load commander and this
// file, not the HTTPS client, YAML, the server, the provider or the AWS SDK (test/cli/startup.test.ts).
//
// Adding a command is one line: `leaf(parent, 'name', 'what it does', FLAGS, LOAD, ARGS)`, where
// FLAGS is a FlagSpec written here or a function loading it (`connected('text', {...})` for the
// admin commands, `async () => (await import('./x')).X_FLAGS` for a module's own), and LOAD imports
// the handler (`async () => (await import('./x')).run`). Never import a command's module at the top
// of this file: it would load at every start.

import { Argument, Command, Help } from 'commander';
import { VERSION } from '../api/version';
import { addFlags, parsedFrom, quiet, UsageError, type FlagSpec, type Parsed } from './args';
import { hintArguments } from './completion';

/** The inventory's filters, as GET /v1/nodes takes them. */
const NODES_LS_FLAGS: FlagSpec = {
  status: { kind: 'string', arg: '<status>', choices: ['active', 'expired', 'removed'], help: 'only hosts of this status' },
  method: { kind: 'string', arg: '<method>', choices: ['token', 'ec2', 'iam'], help: 'only hosts that joined with this method' },
  token: { kind: 'string', arg: '<name>', help: 'only hosts that joined with this token' },
  label: { kind: 'string', arg: '<k=v,...>', help: 'only hosts with every one of these labels (aws/Team=payments)' },
  stale: { kind: 'string', arg: '<duration>', help: 'only hosts last seen longer ago than this (1h, 30m)' },
};

type Handler = (p: Parsed) => Promise<number>;

/** A command's flags: written here, or loaded with the module that declares them. */
type Flags = FlagSpec | (() => Promise<FlagSpec>);

/** The admin commands' flags: their own, --format (when they print) and the connection flags. */
function connected(format?: 'text' | 'yaml', own: FlagSpec = {}): () => Promise<FlagSpec> {
  return async () => {
    const { CONNECTION_FLAGS, formatFlag } = await import('./common');
    return { ...own, ...(format ? formatFlag(format) : {}), ...CONNECTION_FLAGS };
  };
}

const AFTER_HELP = `
Admin commands find the server with --addr (JOINERY_ADDR, default 127.0.0.1:3025) and trust it with
--ca-pin or --ca-file (default <data-dir>/ca.crt when present); the admin credential comes from
--admin-token, JOINERY_ADMIN_TOKEN or <data-dir>/admin-token.
Exit status: 0 success, 1 failure, 2 usage error, 3 (agent) refused for good.
Run "joinery COMMAND --help" for the flags of a command.`;

/** An unknown subcommand names the ones that exist, so the one line is enough to fix it. */
function refuseUnknownSubcommands(cmd: Command): Command {
  return cmd.on('command:*', (operands: string[]) => {
    const names = cmd.commands.map((c) => c.name()).filter((n) => n !== 'help');
    const where = cmd.parent ? ` for joinery ${cmd.name()}` : '';
    throw new UsageError(`unknown command ${JSON.stringify(operands[0])}${where}; expected one of: ${names.join(', ')}`);
  });
}

export interface Program {
  root: Command;
  /**
   * Declares the flags of the commands the arguments name (subcommand words, skipping flags and
   * their values; after `help` too) and answers the last of them. Parsing needs it first.
   */
  prepare(argv: string[]): Promise<Command>;
  /** Declares the flags of every command (completion scripts and tests walk the whole tree). */
  prepareAll(): Promise<Command>;
  /** The exit status the command that ran asked for. */
  result(): number;
}

export function buildProgram(): Program {
  let code = 0;
  /** Commands whose flags are not declared yet, with the function that loads them. */
  const pending = new Map<Command, () => Promise<FlagSpec>>();
  const declare = async (cmd: Command): Promise<void> => {
    const load = pending.get(cmd);
    if (!load) return;
    pending.delete(cmd);
    addFlags(cmd, await load());
  };
  const root = quiet(new Command('joinery'))
    // A command listed in its parent's help shows [options] before its flags are loaded too.
    .configureHelp({
      subcommandTerm: (cmd) => {
        const term = new Help().subcommandTerm(cmd);
        return pending.has(cmd) ? term.replace(cmd.name(), `${cmd.name()} [options]`) : term;
      },
    })
    .description(`Joinery ${VERSION}: cluster join tokens, AWS join verification and the joining agent`)
    .version(`joinery ${VERSION}`, '--version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .helpCommand('help [command]', 'show help for a command')
    .addHelpText('after', AFTER_HELP);

  /** A command that runs: its flags, its arguments, and its code loaded on use. */
  const leaf = (parent: Command, name: string, description: string, flags: Flags, load: () => Promise<Handler>, args: Argument[] = []): Command => {
    const cmd = parent.command(name).description(description).helpOption('-h, --help', 'show help');
    for (const a of args) cmd.addArgument(a);
    if (typeof flags === 'function') pending.set(cmd, flags);
    else addFlags(cmd, flags);
    cmd.action(async () => {
      const positional = cmd.processedArgs.flat().filter((a): a is string => typeof a === 'string');
      code = await (await load())(parsedFrom(cmd, positional));
    });
    return cmd;
  };
  /** A command made of subcommands (tokens, nodes, install, provider). */
  const group = (name: string, description: string): Command =>
    refuseUnknownSubcommands(root.command(name).description(description).helpOption('-h, --help', 'show help').helpCommand('help [command]', 'show help for a subcommand'));
  refuseUnknownSubcommands(root);

  const admin = async () => import('./admin');

  leaf(root, 'serve', 'start the API (HTTPS; SQLite in the data directory, or PostgreSQL)', {
    'data-dir': { kind: 'string', arg: '<dir>', help: 'SQLite database, CA and generated admin credential (JOINERY_DATA_DIR; default ./data)' },
    listen: { kind: 'string', arg: '<host:port>', help: 'HTTPS listen address (JOINERY_LISTEN; default 127.0.0.1:3025)' },
    'ca-key': { kind: 'string', arg: '<spec>', help: 'where the CA key is: file (default, <data-dir>/ca.key), file:<path>, awskms:<key id, alias or ARN>, pkcs11:<RFC 7512 URI> (JOINERY_CA_KEY)' },
  }, async () => (await import('./serve')).serve);

  leaf(root, 'status', 'cluster name, version, CA pin and storage', connected('text'), async () => (await admin()).status);

  leaf(root, 'create', 'create tokens from YAML or JSON documents (all are validated before any is sent)', connected(undefined, {
    filename: { kind: 'string', short: 'f', arg: '<file>', help: 'the file (- for standard input)' },
    force: { kind: 'boolean', help: 'overwrite tokens that exist' },
  }), async () => (await admin()).create);

  hintArguments(
    leaf(root, 'get', 'print tokens or nodes (YAML by default, as `create -f` reads it)', connected('yaml'), async () => (await admin()).get, [
      new Argument('<resource>', 'tokens, token/NAME, nodes or node/HOST_ID'),
    ]),
    ['tokens', 'token/', 'nodes', 'node/'],
  );

  hintArguments(
    leaf(root, 'rm', 'delete a token, or remove a node (its renewals are refused and its certificates revoked)', connected(), async () => (await admin()).rm, [
      new Argument('<resource>', 'token/NAME or node/HOST_ID'),
    ]),
    ['token/', 'node/'],
  );

  const tokens = group('tokens', 'join tokens: add, ls, rm, test');
  leaf(tokens, 'add', 'create a token-method token with a generated secret and print how to join with it', connected('text', {
    type: { kind: 'string', arg: '<roles>', help: 'the roles it admits, comma-separated (node, proxy, app, db, ...)' },
    ttl: { kind: 'string', arg: '<duration>', help: 'lifetime, e.g. 30m, 1h, 24h (default 30m)' },
    'join-method': { kind: 'string', arg: '<method>', choices: ['token', 'ec2', 'iam'], help: 'only token here: ec2 and iam tokens need allow rules, so use create -f FILE' },
    value: { kind: 'string', arg: '<name>', help: 'the secret to use instead of a generated one' },
    labels: { kind: 'string', arg: '<k=v,...>', help: 'metadata labels' },
    'auth-server': { kind: 'string', arg: '<host:port>', help: 'the address the host reaches the API at, for the printed commands (default --addr)' },
  }), async () => (await import('./tokens-add')).tokensAdd);
  leaf(tokens, 'ls', 'list tokens', connected('text'), async () => (await admin()).tokensLs);
  leaf(tokens, 'rm', 'delete a token', connected(), async () => (await admin()).tokensRm, [new Argument('<name>', 'the token')]);
  leaf(tokens, 'test', 'would a host join? a captured EC2 document or an IAM ARN against a token (or every token of its method), every check with its outcome; changes nothing, exit 1 when refused', connected('text', {
    iid: { kind: 'string', arg: '<file>', help: 'an instance identity document as IMDS gives it (rsa2048, base64 or PEM; - for standard input)' },
    arn: { kind: 'string', arg: '<arn>', help: 'an IAM or STS ARN, as sts:GetCallerIdentity answers' },
    account: { kind: 'string', arg: '<id>', help: "the ARN's AWS account (default: the account in the ARN)" },
    role: { kind: 'string', arg: '<role>', help: 'also check the token grants this role' },
    'check-aws': { kind: 'boolean', help: 'also make the AWS lookups a join makes (ec2:DescribeInstances, AWS Organizations)' },
  }), async () => (await import('./tokens-test')).tokensTest, [new Argument('[name]', 'the token (default: every token of the proof\'s method)')]);

  const nodes = group('nodes', 'joined hosts: ls, rm');
  leaf(nodes, 'ls', 'list joined hosts: status, last seen, agent, verified identity, labels, certificate', connected('text', NODES_LS_FLAGS), async () => (await admin()).nodesLs);
  leaf(nodes, 'rm', 'remove a host: its renewals are refused, its certificates revoked, and it may join again', connected(), async () => (await admin()).nodesRm, [
    new Argument('<host_id>', 'the host'),
  ]);

  const locks = group('locks', 'keep hosts out: joins and renewals refused, certificates revoked: add, ls, rm');
  leaf(locks, 'add', 'lock a host, instance, account, ARN pattern or token (one of the target flags)', connected('text', {
    'host-id': { kind: 'string', arg: '<id>', help: 'a host ID' },
    'instance-id': { kind: 'string', arg: '<id>', help: 'an EC2 instance ID (any account)' },
    account: { kind: 'string', arg: '<id>', help: 'an AWS account ID (every ec2 and iam host of it)' },
    arn: { kind: 'string', arg: '<glob>', help: 'an IAM ARN pattern (* any run, ? one character)' },
    token: { kind: 'string', arg: '<name>', help: 'every host that joined, or joins, with this token' },
    ttl: { kind: 'string', arg: '<duration>', help: 'expire after this long (24h, 90m); default: until removed' },
    message: { kind: 'string', arg: '<text>', help: 'what a refused host is told (at most 256 characters)' },
  }), async () => (await import('./locks')).locksAdd);
  leaf(locks, 'ls', 'list the active locks', connected('text'), async () => (await import('./locks')).locksLs);
  leaf(locks, 'rm', 'remove a lock (the hosts may join again; revoked certificates stay revoked)', connected(), async () => (await import('./locks')).locksRm, [new Argument('<id>', 'the lock')]);

  const ca = group('ca', 'the cluster CA: rotate');
  leaf(ca, 'rotate', 'start a CA rotation, move it to a phase, or roll it back (docs/ca.md)', connected('text', {
    manual: { kind: 'boolean', help: 'step through the phases with --phase, one at a time (default: walk them, each lasting --grace)' },
    phase: { kind: 'string', arg: '<phase>', help: 'move the rotation in progress to this phase: update_clients, update_servers, standby (or rollback)' },
    grace: { kind: 'string', arg: '<duration>', help: 'how long each phase lasts without --manual, e.g. 48h (default: two host certificate lifetimes)' },
    'new-key': { kind: 'string', arg: '<spec>', help: "the new CA's key: file:<path>, awskms:<key>, pkcs11:<URI> (default for a file CA: a new key file in the data directory)" },
    rollback: { kind: 'boolean', help: 'return to the old CA (any phase before standby)' },
  }), async () => (await admin()).caRotate);

  const audit = group('audit', 'the audit: every join attempt, renewal and admin change');
  leaf(audit, 'ls', 'list audit events, newest first, one line each (refusals with the reason, down to the allow rule)', async () => ({ ...(await import('./audit')).AUDIT_LS_FLAGS, ...(await connected('text')()) }), async () => (await import('./audit')).auditLs);

  leaf(root, 'join', 'join this host once: prove its identity, write key, certificate and CA', async () => (await import('./join')).JOIN_FLAGS, async () => (await import('./join')).join);

  leaf(root, 'agent', 'join, then renew the host certificate at 2/3 of its lifetime, forever (docs/agent.md)', async () => (await import('./agent/config')).AGENT_FLAGS, async () => (await import('./agent-command')).agent);

  const install = group('install', 'install the agent as a service');
  leaf(install, 'systemd', 'write or print a systemd unit running the agent', {
    config: { kind: 'string', arg: '<file>', help: "the agent's configuration (default /etc/joinery.yaml)" },
    output: { kind: 'string', short: 'o', arg: '<file>', help: 'write the unit there instead of printing it' },
  }, async () => (await import('./install-systemd')).installSystemd);

  const provider = group('provider', 'the Terraform provider');
  leaf(provider, 'install', 'install terraform-provider-teleport where Terraform and OpenTofu find it', {
    'plugin-dir': { kind: 'string', arg: '<dir>', help: 'install there instead of the implied local mirror directories' },
  }, async () => (await import('./provider-command')).providerInstall);

  leaf(root, 'completion', 'print a shell completion script (source <(joinery completion bash))', {}, async () => async (p) => {
    const { completionScript } = await import('./completion');
    process.stdout.write(completionScript(await prepareAll(), p.positional[0]));
    return 0;
  }, [new Argument('<shell>', 'bash or zsh').choices(['bash', 'zsh'])]);

  leaf(root, 'version', 'print the version', {}, async () => async () => {
    process.stdout.write(`joinery ${VERSION}\n`);
    return 0;
  });

  const prepare = async (argv: string[]): Promise<Command> => {
    let cmd = root;
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i];
      if (arg === '--') break;
      if (arg.startsWith('-')) {
        const option = cmd.options.find((o) => o.long === arg || o.short === arg);
        if (option && (option.required || option.optional)) i++;
        continue;
      }
      // `joinery help tokens add` shows the help of `tokens add`, flags included.
      if (arg === 'help' && cmd.commands.length) continue;
      const sub = cmd.commands.find((c) => c.name() === arg);
      if (!sub) break;
      await declare(sub);
      cmd = sub;
    }
    return cmd;
  };
  const prepareAll = async (): Promise<Command> => {
    for (const cmd of [...pending.keys()]) await declare(cmd);
    return root;
  };

  return { root, prepare, prepareAll, result: () => code };
}
