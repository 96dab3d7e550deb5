// Provider configuration: each attribute falls back to a JOINERY_* environment variable so CI
// and cdktf apps keep secrets out of code.

import * as fs from 'node:fs';
import type { ClientOptions } from '../client/api-client';
import { PIN_RE } from '../client/trust';
import { isUnknown, type CtyObject } from './cty';
import { error, type Diagnostic } from './diagnostics';

export const ENV = {
  addr: 'JOINERY_ADDR',
  admin_token: 'JOINERY_ADMIN_TOKEN',
  ca_pin: 'JOINERY_CA_PIN',
  ca_file: 'JOINERY_CA_FILE',
  insecure: 'JOINERY_INSECURE',
} as const;

function parseBool(v: string): boolean | undefined {
  const s = v.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(s)) return true;
  if (['', '0', 'false', 'no', 'off'].includes(s)) return false;
  return undefined;
}

/** Checks that need no network: unknown values are left for ConfigureProvider. */
export function validateProviderConfig(config: CtyObject): Diagnostic[] {
  const diags: Diagnostic[] = [];
  if (typeof config.ca_pin === 'string' && !PIN_RE.test(config.ca_pin.trim().toLowerCase())) {
    diags.push(error('Invalid ca_pin', `expected sha256:<64 hex digits> as \`joinery status\` prints it, got ${JSON.stringify(config.ca_pin)}`, ['ca_pin']));
  }
  if (typeof config.ca_pin === 'string' && typeof config.ca_file === 'string') {
    diags.push(error('Conflicting trust settings', 'set either ca_pin or ca_file, not both', ['ca_file']));
  }
  return diags;
}

/** Resolves the client options, or explains what is missing. */
export function resolveProviderConfig(config: CtyObject, env: NodeJS.ProcessEnv = process.env): { options?: ClientOptions; diagnostics: Diagnostic[] } {
  const diags = validateProviderConfig(config);
  const unknown = Object.entries(config).filter(([, v]) => isUnknown(v)).map(([k]) => k);
  if (unknown.length) {
    diags.push(error('Provider configuration is not known yet', `${unknown.join(', ')} depend(s) on values known only after apply; the teleport provider needs them to reach Joinery during plan.`, [unknown[0]]));
    return { diagnostics: diags };
  }
  const pick = (name: keyof typeof ENV): string | undefined => {
    const v = config[name];
    if (typeof v === 'string' && v !== '') return v;
    const e = env[ENV[name]];
    return e !== undefined && e !== '' ? e : undefined;
  };
  const addr = pick('addr') ?? '127.0.0.1:3025'; // the CLI's default too
  const adminToken = pick('admin_token');
  let caPin = pick('ca_pin');
  let caFile = pick('ca_file');
  // An explicit setting in the provider block wins over the environment's other trust option.
  if (typeof config.ca_pin === 'string' && config.ca_pin) caFile = typeof config.ca_file === 'string' && config.ca_file ? config.ca_file : undefined;
  if (typeof config.ca_file === 'string' && config.ca_file) caPin = typeof config.ca_pin === 'string' && config.ca_pin ? config.ca_pin : undefined;
  let insecure = typeof config.insecure === 'boolean' ? config.insecure : undefined;
  if (insecure === undefined && env[ENV.insecure] !== undefined) {
    insecure = parseBool(env[ENV.insecure]!);
    if (insecure === undefined) diags.push(error('Invalid JOINERY_INSECURE', `expected true or false, got ${JSON.stringify(env[ENV.insecure])}`));
  }

  if (!adminToken) diags.push(error('Missing admin token', `Set admin_token in the provider block or ${ENV.admin_token}.`, ['admin_token']));
  if (caPin && !PIN_RE.test(caPin.trim().toLowerCase()) && !diags.some((d) => d.path?.[0] === 'ca_pin')) {
    diags.push(error('Invalid CA pin', `expected sha256:<64 hex digits>, got ${JSON.stringify(caPin)}`, ['ca_pin']));
  }
  if (caPin && caFile) diags.push(error('Conflicting trust settings', `both a CA pin and a CA file are set (check ${ENV.ca_pin} and ${ENV.ca_file}); use one`, ['ca_file']));
  if (caFile && !fs.existsSync(caFile)) diags.push(error('CA file not found', `${caFile} does not exist`, ['ca_file']));
  if (!caPin && !caFile && !insecure) {
    diags.push(error('No way to trust the Joinery server', `Set ca_pin (${ENV.ca_pin}, from \`joinery status\`) or ca_file (${ENV.ca_file}); insecure = true is for development only.`, ['ca_pin']));
  }
  if (diags.some((d) => d.severity === 'ERROR')) return { diagnostics: diags };
  return { options: { addr: addr!, adminToken, caPin, caFile, insecure: insecure ?? false }, diagnostics: diags };
}
