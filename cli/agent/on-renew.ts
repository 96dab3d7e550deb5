// The operator's on_renew command, run through /bin/sh after each new certificate so services can
// reload it. It is bounded by a timeout, and its failure is reported but never stops the agent:
// the identity on disk is already good. The program it starts, when named by a path, is held to
// the configuration's rules: it runs as the agent's user (root under systemd), so a script others
// can write is a way to run any command, as a configuration others can write would be.

import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { checkTrustedFile, UnsafePathError } from './host-files';
import { IDENTITY_FILES } from './identity';

export const ON_RENEW_TIMEOUT_MS = 60_000;

export interface HookEvent {
  event: 'join' | 'renew' | 'rejoin';
  hostId: string;
  dataDir: string;
}

/**
 * The program the command starts, when it is named by a path (`/usr/local/bin/reload-nginx --now`,
 * `VAR=1 exec ./reload.sh`): the first word after variable assignments and `exec`, if it is a plain
 * word holding a `/`. A program found on PATH (`systemctl reload nginx`) is the system's; a script
 * handed to an interpreter (`sh /opt/x.sh`) is not seen here: name the script itself.
 */
export function onRenewProgram(command: string): string | undefined {
  const words = command.trim().split(/\s+/);
  let i = 0;
  while (i < words.length && (/^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i]) || words[i] === 'exec')) i++;
  const word = words[i];
  if (word === undefined || !word.includes('/') || /[^\w@%+=:,./-]/.test(word)) return undefined;
  return word;
}

/**
 * Why on_renew must not run as it is (its program is a file others can change; see
 * docs/agent.md), or undefined. A program that does not exist is left for the shell to report.
 */
export function onRenewProblem(command: string, cwd = process.cwd()): string | undefined {
  const program = onRenewProgram(command);
  if (program === undefined) return undefined;
  try {
    checkTrustedFile(path.resolve(cwd, program), 'on_renew program');
    return undefined;
  } catch (e) {
    if (e instanceof UnsafePathError) return e.message;
    throw e;
  }
}

/** Resolves with a one-line outcome; never rejects. */
export function runOnRenew(command: string, ev: HookEvent, timeoutMs = ON_RENEW_TIMEOUT_MS): Promise<{ ok: boolean; summary: string }> {
  // Checked again before each run: the program may have changed since the agent started.
  let problem: string | undefined;
  try {
    problem = onRenewProblem(command);
  } catch (e) {
    problem = `cannot check ${onRenewProgram(command)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
  }
  if (problem) return Promise.resolve({ ok: false, summary: `on_renew not run: ${problem}` });
  return new Promise((resolve) => {
    const env = {
      ...process.env,
      JOINERY_EVENT: ev.event,
      JOINERY_HOST_ID: ev.hostId,
      JOINERY_AGENT_DATA_DIR: ev.dataDir,
      JOINERY_CERT_PATH: path.join(ev.dataDir, IDENTITY_FILES.cert),
      JOINERY_KEY_PATH: path.join(ev.dataDir, IDENTITY_FILES.key),
      JOINERY_CA_PATH: path.join(ev.dataDir, IDENTITY_FILES.ca),
    };
    // The command's output goes to the agent's stderr, where the operator looks for the agent's log.
    const child = spawn('/bin/sh', ['-c', command], { env, stdio: ['ignore', 'inherit', 'inherit'], timeout: timeoutMs, killSignal: 'SIGKILL' });
    child.once('error', (e) => resolve({ ok: false, summary: `on_renew could not start: ${e.message}` }));
    child.once('exit', (code, signal) => {
      if (code === 0) resolve({ ok: true, summary: 'on_renew succeeded' });
      else if (signal) resolve({ ok: false, summary: `on_renew was killed by ${signal}${signal === 'SIGKILL' ? ` (timeout ${Math.round(timeoutMs / 1000)}s?)` : ''}` });
      else resolve({ ok: false, summary: `on_renew failed with exit code ${code}` });
    });
  });
}
