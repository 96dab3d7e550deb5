#!/usr/bin/env node
// joinery: the API server, the admin commands and the joining agent in one CLI.

// The AWS SDK's notice about Node.js versions is noise on an agent's terminal.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { CommanderError, type Command } from 'commander';
import { normalizeBooleanArgs, usageMessage, UsageError } from './args';
import { buildProgram } from './program';

// Only commander and the command tree load at start (see cli/program.ts): the HTTPS client and the
// terminal encoders (YAML) are loaded by the commands that use them, and here only to report an error.

/** Exit status of usage errors (unknown command, flag or value; missing or extra arguments). */
export const EXIT_USAGE = 2;

/**
 * An error as one printable message. The server's words (which may quote what any client sent)
 * keep no control or invisible character, line breaks included; local messages keep their line
 * breaks (see cli/output.ts).
 */
async function describe(e: unknown): Promise<string> {
  const [{ ApiError }, { terminalText, terminalValue }] = await Promise.all([import('../client/api-client'), import('./output')]);
  if (e instanceof ApiError) {
    const message = terminalValue(e.message);
    if (e.status === 401) return `${message} (401)`;
    return `${message}${e.field ? ` [${terminalValue(e.field)}]` : ''}${e.status ? ` (${e.status} ${terminalValue(e.code)})` : ''}`;
  }
  const err = e as NodeJS.ErrnoException;
  return terminalText(err?.message ?? String(e));
}

/** The boolean flags of a command, and those that also have a --no- form. */
function booleanFlags(cmd: Command): { all: Set<string>; negatable: Set<string> } {
  const all = new Set<string>();
  const negatable = new Set<string>();
  for (const o of cmd.options) {
    if (!o.long || o.required || o.optional) continue;
    if (o.negate) negatable.add(o.long.slice('--no-'.length));
    else all.add(o.long.slice(2));
  }
  return { all, negatable };
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    const flags = booleanFlags(await program.prepare(argv));
    await program.root.parseAsync(normalizeBooleanArgs(argv, (n) => flags.all.has(n), (n) => flags.negatable.has(n)), { from: 'user' });
    return program.result();
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and --version exit 0; help shown for a missing subcommand has already been printed.
      if (e.exitCode === 0) return 0;
      if (e.code !== 'commander.help') process.stderr.write(`error: ${(await import('./output')).terminalText(usageMessage(e))}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`error: ${await describe(e)}\n`);
    return e instanceof UsageError ? EXIT_USAGE : 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    async (e) => {
      process.stderr.write(`error: ${await describe(e)}\n`);
      process.exitCode = 1;
    },
  );
}
