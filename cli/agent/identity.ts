// The agent's data directory: key (0600), certificate, CA and a small identity record. A directory
// that already holds another host's identity is refused, as the seed warns for /var/lib/teleport.

import * as fs from 'node:fs';
import * as path from 'node:path';

export interface Identity {
  host_id: string;
  join_method: string;
  role: string;
  server: string;
  joined_at: string;
  /** When the agent last renewed the certificate. */
  renewed_at?: string;
}

export const IDENTITY_FILES = { identity: 'identity.json', key: 'key.pem', cert: 'cert.pem', ca: 'ca.pem' } as const;

export function readIdentity(dataDir: string): Identity | undefined {
  recoverIdentity(dataDir);
  const file = path.join(dataDir, IDENTITY_FILES.identity);
  if (!fs.existsSync(file)) return undefined;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Identity;
  } catch {
    throw new Error(`${file} exists but is not readable JSON; the data directory holds a damaged identity — remove it to join again`);
  }
}

/**
 * Refuses a data directory holding an identity other than `expectedHostId` (when known).
 * Returns the existing identity when it is the same host (already joined).
 */
export function checkDataDir(dataDir: string, expectedHostId?: string): Identity | undefined {
  const existing = readIdentity(dataDir);
  if (existing) {
    if (expectedHostId && existing.host_id === expectedHostId) return existing;
    throw new Error(
      `${dataDir} already holds the identity of host ${existing.host_id} (joined by ${existing.join_method}); ` +
        `${expectedHostId ? `this host would join as ${expectedHostId}. ` : ''}use an empty data directory, or remove it to join again`,
    );
  }
  if (fs.existsSync(dataDir)) {
    const stray = fs.readdirSync(dataDir).filter((f) => (Object.values(IDENTITY_FILES) as string[]).includes(f));
    if (stray.length) throw new Error(`${dataDir} holds ${stray.join(', ')} from an incomplete join; remove them (or use an empty data directory) to join again`);
  }
  return undefined;
}

const COMMIT_MARKER = '.commit';

function fsyncPath(p: string): void {
  const fd = fs.openSync(p, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Writes key, certificate, CA and record so that a crash at any point leaves either the old
 * identity or the new one, never a key of one with the certificate of the other: every file is
 * written and synced under a temporary name, then a commit marker says the set is complete, then
 * the renames happen. recoverIdentity finishes (or discards) an interrupted write.
 */
export function writeIdentity(dataDir: string, files: { keyPem: string; certPem: string; caPem: string; identity: Identity }): void {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  recoverIdentity(dataDir);
  const entries: [string, string, number][] = [
    [IDENTITY_FILES.key, files.keyPem, 0o600],
    [IDENTITY_FILES.cert, files.certPem, 0o644],
    [IDENTITY_FILES.ca, files.caPem, 0o644],
    [IDENTITY_FILES.identity, JSON.stringify(files.identity, null, 2) + '\n', 0o644],
  ];
  for (const [name, content, mode] of entries) {
    const tmp = path.join(dataDir, `.${name}.tmp`);
    fs.rmSync(tmp, { force: true });
    fs.writeFileSync(tmp, content, { mode, flag: 'wx' });
    fsyncPath(tmp);
  }
  const marker = path.join(dataDir, COMMIT_MARKER);
  fs.writeFileSync(`${marker}.tmp`, entries.map(([n]) => n).join('\n') + '\n', { mode: 0o600 });
  fsyncPath(`${marker}.tmp`);
  fs.renameSync(`${marker}.tmp`, marker);
  fsyncPath(dataDir);
  for (const [name] of entries) fs.renameSync(path.join(dataDir, `.${name}.tmp`), path.join(dataDir, name));
  fsyncPath(dataDir);
  fs.rmSync(marker);
}

/** Completes a write that got as far as its commit marker; discards one that did not. */
export function recoverIdentity(dataDir: string): void {
  if (!fs.existsSync(dataDir)) return;
  const marker = path.join(dataDir, COMMIT_MARKER);
  const names = Object.values(IDENTITY_FILES) as string[];
  if (fs.existsSync(marker)) {
    for (const name of fs.readFileSync(marker, 'utf8').split('\n').filter((n) => names.includes(n))) {
      const tmp = path.join(dataDir, `.${name}.tmp`);
      if (fs.existsSync(tmp)) fs.renameSync(tmp, path.join(dataDir, name));
    }
    fsyncPath(dataDir);
    fs.rmSync(marker);
  }
  for (const name of [...names, COMMIT_MARKER]) fs.rmSync(path.join(dataDir, `.${name}.tmp`), { force: true });
}
