// A small, strict argument parser: unknown flags are errors, never silently ignored.

export class UsageError extends Error {}

export interface FlagSpec {
  [flag: string]: 'string' | 'boolean';
}

export interface Parsed {
  positional: string[];
  flags: Record<string, string | boolean | undefined>;
}

/** Parses `--flag value`, `--flag=value`, `-f value` (aliases map short to long names). */
export function parseArgs(argv: string[], spec: FlagSpec, aliases: Record<string, string> = {}): Parsed {
  const positional: string[] = [];
  const flags: Parsed['flags'] = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
      inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    } else {
      name = aliases[arg.slice(1)] ?? arg.slice(1);
    }
    const kind = spec[name];
    if (!kind) throw new UsageError(`unknown flag ${arg}`);
    if (kind === 'boolean') {
      if (inline !== undefined && !['true', 'false'].includes(inline)) throw new UsageError(`--${name} takes no value`);
      flags[name] = inline === undefined ? true : inline === 'true';
    } else {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      flags[name] = value;
    }
  }
  return { positional, flags };
}
