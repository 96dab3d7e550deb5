#!/usr/bin/env node
// joinery: the API server, the admin commands and the joining agent in one CLI.

// The AWS SDK's notice about Node.js versions is noise on an agent's terminal.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { ApiError } from '../client/api-client';
import { VERSION } from '../api/version';
import { parseArgs, UsageError, type FlagSpec } from './args';
import { create, get, nodes, status, tokens } from './admin';
import { CONNECTION_FLAGS } from './common';
import { join } from './join';
import { agent } from './agent-command';
import { AGENT_FLAGS } from './agent/config';
import { serve } from './serve';

const HELP = `joinery ${VERSION}: cluster join tokens and AWS join verification

Server
  joinery serve [--data-dir DIR] [--listen HOST:PORT]      start the API (HTTPS, SQLite in DIR)

Admin (the admin credential comes from --admin-token, JOINERY_ADMIN_TOKEN or <data-dir>/admin-token)
  joinery status                                           cluster name, version, CA pin
  joinery create -f FILE [--force]                         create tokens from YAML/JSON (- for stdin)
  joinery get token/NAME [--format yaml|json]
  joinery tokens ls [--format text|yaml|json]
  joinery tokens rm NAME
  joinery nodes ls [--format text|yaml|json]
  joinery nodes rm HOST_ID                                 let a host join again

Agent
  joinery join --method token|ec2|iam --token NAME [--role Node] --server HOST:PORT
               (--ca-pin sha256:... | --ca-file FILE | --insecure) --data-dir DIR
               [--host-id ID] (ec2: must equal <account>-<instance id>)
               [--region REGION] (iam: regional STS endpoint; default AWS_REGION, else global)
  joinery agent --config FILE [--once]                     join, then renew the certificate at 2/3 of its
               lifetime, forever (--once: join or renew if due, then exit). Every key of FILE is also a
               flag: --auth-server --ca-pin --ca-file --insecure --data-dir --token --method --role
               --on-renew --rotate-keys. Reference: docs/agent.md
  joinery install systemd [--config FILE] [-o FILE]        a systemd unit running the agent (default
               config /etc/joinery.yaml; printed unless -o)

Terraform
  joinery provider install [--plugin-dir DIR]              install terraform-provider-teleport locally

Connection flags: --addr HOST:PORT (JOINERY_ADDR, default 127.0.0.1:3025), --ca-pin (JOINERY_CA_PIN),
  --ca-file (JOINERY_CA_FILE; default <data-dir>/ca.crt when present), --insecure (development only),
  --data-dir (JOINERY_DATA_DIR, default ./data)
`;

type Command = { flags: FlagSpec; aliases?: Record<string, string>; run: (p: ReturnType<typeof parseArgs>) => Promise<number> };

const COMMANDS: Record<string, Command> = {
  serve: { flags: { 'data-dir': 'string', listen: 'string' }, run: serve },
  status: { flags: { ...CONNECTION_FLAGS, format: 'string' }, run: status },
  create: { flags: { ...CONNECTION_FLAGS, filename: 'string', force: 'boolean' }, aliases: { f: 'filename' }, run: create },
  get: { flags: { ...CONNECTION_FLAGS, format: 'string' }, run: get },
  tokens: { flags: { ...CONNECTION_FLAGS, format: 'string' }, run: tokens },
  nodes: { flags: { ...CONNECTION_FLAGS, format: 'string' }, run: nodes },
  join: {
    flags: { method: 'string', token: 'string', role: 'string', server: 'string', 'ca-pin': 'string', 'ca-file': 'string', insecure: 'boolean', 'data-dir': 'string', 'host-id': 'string', region: 'string' },
    run: join,
  },
  agent: { flags: AGENT_FLAGS, run: (p) => agent(p) },
  install: {
    flags: { config: 'string', output: 'string' },
    aliases: { o: 'output' },
    run: async (p) => (await import('./install-systemd')).installSystemd(p),
  },
  provider: {
    flags: { 'plugin-dir': 'string' },
    run: async (p) => {
      if (p.positional[0] !== 'install') throw new UsageError('usage: joinery provider install [--plugin-dir DIR]');
      // Loaded lazily: only this command needs the provider code.
      const { installProvider } = await import('./provider-install');
      const dir = p.flags['plugin-dir'];
      const r = await installProvider({ pluginDir: typeof dir === 'string' ? dir : undefined });
      process.stdout.write(`installed ${r.source} ${r.version}:\n${r.paths.map((x: string) => `  ${x}`).join('\n')}\n\nUse it with:\n\n${r.requiredProvidersBlock}\n`);
      return 0;
    },
  },
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(HELP);
    return name ? 0 : 2;
  }
  if (name === 'version' || name === '--version') {
    process.stdout.write(`joinery ${VERSION}\n`);
    return 0;
  }
  const cmd = COMMANDS[name];
  try {
    if (!cmd) throw new UsageError(`unknown command ${JSON.stringify(name)}; run joinery help`);
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(HELP);
      return 0;
    }
    return await cmd.run(parseArgs(rest, cmd.flags, cmd.aliases));
  } catch (e) {
    process.stderr.write(`error: ${describe(e)}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}

function describe(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.status === 401) return `${e.message} (401)`;
    return `${e.message}${e.field ? ` [${e.field}]` : ''}${e.status ? ` (${e.status} ${e.code})` : ''}`;
  }
  const err = e as NodeJS.ErrnoException;
  return err?.message ?? String(e);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`error: ${describe(e)}\n`);
      process.exitCode = 1;
    },
  );
}
