// The operator's on_renew command, run through /bin/sh after each new certificate so services can
// reload it. It is bounded by a timeout, and its failure is reported but never stops the agent:
// the identity on disk is already good.

import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { IDENTITY_FILES } from './identity';

export const ON_RENEW_TIMEOUT_MS = 60_000;

export interface HookEvent {
  event: 'join' | 'renew' | 'rejoin';
  hostId: string;
  dataDir: string;
}

/** Resolves with a one-line outcome; never rejects. */
export function runOnRenew(command: string, ev: HookEvent, timeoutMs = ON_RENEW_TIMEOUT_MS): Promise<{ ok: boolean; summary: string }> {
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
