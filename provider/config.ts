// Provider configuration: each attribute falls back to a JOINERY_* environment variable so CI
// and cdktf apps keep secrets out of code.

import * as fs from 'node:fs';
import type { ClientOptions } from '../client/api-client';
import { PIN_RE } from '../client/trust';
import { isUnknown, type CtyObject } from './cty';
import { parseGoDuration } from '../schema/duration';
import { error, warning, type Diagnostic } from './diagnostics';
import { TELEPORT_PROVIDER_ARGUMENTS } from './schema';

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

  // Teleport's own provider arguments: the CA ones are trust settings like ca_file.
  let caPem: string | undefined;
  const rootCaPath = typeof config.root_ca_path === 'string' && config.root_ca_path ? config.root_ca_path : undefined;
  const rootCaBase64 = typeof config.root_ca_base64 === 'string' && config.root_ca_base64 ? config.root_ca_base64 : undefined;
  const configured = (name: string) => typeof config[name] === 'string' && config[name] !== '';
  if (rootCaPath || rootCaBase64) {
    // Set in the provider block, they win over the environment's trust settings, as ca_file does.
    if (!configured('ca_file')) caFile = undefined;
    if (!configured('ca_pin')) caPin = undefined;
  }
  if (rootCaPath) {
    if (caFile && caFile !== rootCaPath) diags.push(error('Conflicting trust settings', 'root_ca_path and ca_file name different files; use one', ['root_ca_path']));
    else if (!fs.existsSync(rootCaPath)) diags.push(error('CA file not found', `${rootCaPath} does not exist`, ['root_ca_path']));
    else caFile = rootCaPath;
  }
  if (rootCaBase64) {
    caPem = Buffer.from(rootCaBase64, 'base64').toString('utf8');
    if (!caPem.includes('-----BEGIN CERTIFICATE-----')) diags.push(error('Invalid root_ca_base64', 'expected a PEM certificate encoded in base64', ['root_ca_base64']));
    if (caFile || caPin) diags.push(error('Conflicting trust settings', 'root_ca_base64 is set together with a CA pin or CA file; use one', ['root_ca_base64']));
  }
  let timeoutMs: number | undefined;
  if (typeof config.dial_timeout_duration === 'string' && config.dial_timeout_duration) {
    const ms = parseGoDuration(config.dial_timeout_duration);
    if (ms === undefined || ms <= 0) diags.push(error('Invalid dial_timeout_duration', `expected a Go duration such as 30s, got ${JSON.stringify(config.dial_timeout_duration)}`, ['dial_timeout_duration']));
    else timeoutMs = ms;
  }
  const ignored = TELEPORT_PROVIDER_ARGUMENTS.filter((a) => !a.used && typeof config[a.name] === 'string' && config[a.name] !== '');
  for (const a of ignored) diags.push(warning(`${a.name} is ignored by Joinery`, a.meaning.replace(/^ignored(: |, )/, ''), [a.name]));

  if (!adminToken) diags.push(error('Missing admin token', `Set admin_token in the provider block or ${ENV.admin_token}.`, ['admin_token']));
  if (caPin && !PIN_RE.test(caPin.trim().toLowerCase()) && !diags.some((d) => d.path?.[0] === 'ca_pin')) {
    diags.push(error('Invalid CA pin', `expected sha256:<64 hex digits>, got ${JSON.stringify(caPin)}`, ['ca_pin']));
  }
  if (caPin && caFile) diags.push(error('Conflicting trust settings', `both a CA pin and a CA file are set (check ${ENV.ca_pin} and ${ENV.ca_file}); use one`, ['ca_file']));
  if (caFile && !fs.existsSync(caFile)) diags.push(error('CA file not found', `${caFile} does not exist`, ['ca_file']));
  if (!caPin && !caFile && !caPem && !insecure) {
    diags.push(error('No way to trust the Joinery server', `Set ca_pin (${ENV.ca_pin}, from \`joinery status\`) or ca_file (${ENV.ca_file}); insecure = true is for development only.`, ['ca_pin']));
  }
  if (insecure && !caPin && !caFile && !caPem) {
    diags.push(
      warning(
        'The Joinery server is not verified',
        `insecure = true (or ${ENV.insecure}) skips verification of the server certificate: anyone on the network path can read the admin token and change tokens. Use ca_pin or ca_file outside development.`,
        ['insecure'],
      ),
    );
  }
  if (diags.some((d) => d.severity === 'ERROR')) return { diagnostics: diags };
  return { options: { addr: addr!, adminToken, caPin, caFile, caPem, insecure: insecure ?? false, ...(timeoutMs ? { timeoutMs } : {}) }, diagnostics: diags };
}
