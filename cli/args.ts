// The bridge between commander and the commands: flags are declared once as a FlagSpec (kind,
// placeholder, help), turned into commander options, and handed to the commands as `Parsed`
// (flag name → value, as typed on the command line), so no command depends on commander.

import { Command, CommanderError, Option } from 'commander';

export class UsageError extends Error {}

export type FlagKind = 'string' | 'boolean';

export interface FlagDef {
  kind: FlagKind;
  /** Placeholder in help; <file> and <dir> also choose file or directory completion. */
  arg?: string;
  help?: string;
  short?: string;
  choices?: readonly string[];
  /** Also accept --no-NAME, so a flag can turn off what a configuration file turned on. */
  negatable?: boolean;
}

export interface FlagSpec {
  [flag: string]: FlagKind | FlagDef;
}

export interface Parsed {
  positional: string[];
  flags: Record<string, string | boolean | undefined>;
}

function def(spec: FlagKind | FlagDef): FlagDef {
  return typeof spec === 'string' ? { kind: spec } : spec;
}

/** Declares the flags of a spec on a command. */
export function addFlags(cmd: Command, spec: FlagSpec): Command {
  for (const [name, raw] of Object.entries(spec)) {
    const d = def(raw);
    const flags = `${d.short ? `-${d.short}, ` : ''}--${name}${d.kind === 'string' ? ` ${d.arg ?? '<value>'}` : ''}`;
    const option = new Option(flags, d.help ?? '');
    if (d.choices) option.choices(d.choices);
    cmd.addOption(option);
    if (d.kind === 'boolean' && d.negatable) cmd.addOption(new Option(`--no-${name}`, `turn --${name} off`));
  }
  return cmd;
}

/** The command's options by their long names, as the commands read them. */
export function parsedFrom(cmd: Command, positional: string[] = []): Parsed {
  const values = cmd.opts();
  const flags: Parsed['flags'] = {};
  for (const option of cmd.options) {
    if (option.negate || !option.long) continue;
    const value = values[option.attributeName()];
    if (value !== undefined) flags[option.long.slice(2)] = value as string | boolean;
  }
  return { positional, flags };
}

/**
 * `--flag=true|false` for boolean flags, as the agent's documentation has always allowed:
 * commander knows only `--flag` and `--no-flag`.
 */
export function normalizeBooleanArgs(argv: string[], isBoolean: (name: string) => boolean, isNegatable: (name: string) => boolean): string[] {
  const out: string[] = [];
  for (const [i, arg] of argv.entries()) {
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const m = /^--([^=]+)=(.*)$/s.exec(arg);
    if (!m || !isBoolean(m[1])) {
      out.push(arg);
      continue;
    }
    if (m[2] === 'true') out.push(`--${m[1]}`);
    else if (m[2] === 'false') {
      if (isNegatable(m[1])) out.push(`--no-${m[1]}`);
      // Otherwise false is what leaving the flag out means.
    } else throw new UsageError(`--${m[1]} takes no value (or =true / =false)`);
  }
  return out;
}

/** commander's messages, on one line, with the wording this CLI has always used. */
export function usageMessage(e: CommanderError): string {
  return e.message
    .replace(/^error: /, '')
    .replace(/^unknown option '([^']+)'/, 'unknown flag $1')
    .replace(/\s*\n\s*\(Did you mean (.+)\?\)\s*$/s, '; did you mean $1?')
    .replace(/\s*\n\s*/g, ' ')
    .trim();
}

/** Makes a command report its usage errors by throwing, never by exiting or printing. */
export function quiet(cmd: Command): Command {
  return cmd.exitOverride().configureOutput({ outputError: () => undefined }).showSuggestionAfterError(true);
}

/** Parses a flat argument list against one spec (tests, and commands that parse by hand). */
export function parseArgs(argv: string[], spec: FlagSpec, aliases: Record<string, string> = {}): Parsed {
  const withAliases: FlagSpec = {};
  for (const [name, raw] of Object.entries(spec)) {
    const short = Object.entries(aliases).find(([, long]) => long === name)?.[0];
    withAliases[name] = short ? { ...def(raw), short } : raw;
  }
  const cmd = quiet(new Command('joinery')).helpOption(false).argument('[args...]').allowExcessArguments(true);
  addFlags(cmd, withAliases);
  let positional: string[] = [];
  cmd.action((args: string[]) => {
    positional = args;
  });
  const isBoolean = (n: string) => spec[n] !== undefined && def(spec[n]).kind === 'boolean';
  const isNegatable = (n: string) => spec[n] !== undefined && def(spec[n]).negatable === true;
  try {
    cmd.parse(normalizeBooleanArgs(argv, isBoolean, isNegatable), { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) throw new UsageError(usageMessage(e));
    throw e;
  }
  return parsedFrom(cmd, positional);
}
