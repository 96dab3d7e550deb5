// The agent's data directory: key (0600), certificate, CA and a small identity record. A directory
// that already holds another host's identity is refused, as the seed warns for /var/lib/teleport.
// Every file in it is reached through host-files.ts: no link is followed, nothing is created over
// an existing name, and nothing another user could have written is used.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { createOwnFile, ownFileExists, prepareDataDir, readOwnFile, removeOwnFile, syncDirectory } from './host-files';

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

const FINAL_NAMES = Object.values(IDENTITY_FILES) as string[];
const COMMIT_MARKER = '.commit';
/** The temporary name of a file while it is written: `.key.pem.tmp`, `.commit.tmp`. */
const tempName = (name: string) => `.${name.replace(/^\./, '')}.tmp`;
/** Every name the agent writes, reads or removes in its data directory. */
export const DATA_DIR_NAMES: readonly string[] = [...FINAL_NAMES, COMMIT_MARKER, ...[...FINAL_NAMES, COMMIT_MARKER].map(tempName)];
const SECRET_NAMES = [IDENTITY_FILES.key, tempName(IDENTITY_FILES.key)];

/** Where the data directory's warnings go (a mode it repaired); the agent passes its log. */
export type Warn = (line: string) => void;
const toStderr: Warn = (line) => process.stderr.write(`joinery: ${line}\n`);

/** Checks (and repairs the mode of) the data directory; false when it does not exist. */
export function prepareIdentityDir(dataDir: string, opts: { create?: boolean; warn?: Warn } = {}): boolean {
  return prepareDataDir(dataDir, { create: opts.create ?? false, names: DATA_DIR_NAMES, secretNames: SECRET_NAMES, warn: opts.warn ?? toStderr });
}

/** Reads one file of the identity; the key must be private. Undefined when absent. */
export function readIdentityFile(dataDir: string, name: string): string | undefined {
  return readOwnFile(path.join(dataDir, name), { secret: SECRET_NAMES.includes(name) });
}

export function readIdentity(dataDir: string, warn?: Warn): Identity | undefined {
  if (!prepareIdentityDir(dataDir, { warn })) return undefined;
  recover(dataDir);
  const file = path.join(dataDir, IDENTITY_FILES.identity);
  const text = readIdentityFile(dataDir, IDENTITY_FILES.identity);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as Identity;
  } catch (e) {
    throw new Error(`${file} exists but is not readable JSON; the data directory holds a damaged identity — remove it to join again`, { cause: e });
  }
}

/**
 * Refuses a data directory holding an identity other than `expectedHostId` (when known).
 * Returns the existing identity when it is the same host (already joined).
 */
export function checkDataDir(dataDir: string, expectedHostId?: string, warn?: Warn): Identity | undefined {
  const existing = readIdentity(dataDir, warn);
  if (existing) {
    if (expectedHostId && existing.host_id === expectedHostId) return existing;
    throw new Error(
      `${dataDir} already holds the identity of host ${existing.host_id} (joined by ${existing.join_method}); ` +
        `${expectedHostId ? `this host would join as ${expectedHostId}. ` : ''}use an empty data directory, or remove it to join again`,
    );
  }
  if (prepareIdentityDir(dataDir, { warn })) {
    const stray = fs.readdirSync(path.resolve(dataDir)).filter((f) => FINAL_NAMES.includes(f));
    if (stray.length) throw new Error(`${dataDir} holds ${stray.join(', ')} from an incomplete join; remove them (or use an empty data directory) to join again`);
  }
  return undefined;
}

/**
 * Writes key, certificate, CA and record so that a crash at any point leaves either the old
 * identity or the new one, never a key of one with the certificate of the other: every file is
 * created and synced under a temporary name, then a commit marker says the set is complete, then
 * the renames happen (a rename replaces a name, never writes through it). recover() finishes (or
 * discards) an interrupted write.
 */
export function writeIdentity(dataDir: string, files: { keyPem: string; certPem: string; caPem: string; identity: Identity }, warn?: Warn): void {
  prepareIdentityDir(dataDir, { create: true, warn });
  recover(dataDir);
  const entries: [string, string, number][] = [
    [IDENTITY_FILES.key, files.keyPem, 0o600],
    [IDENTITY_FILES.cert, files.certPem, 0o644],
    [IDENTITY_FILES.ca, files.caPem, 0o644],
    [IDENTITY_FILES.identity, JSON.stringify(files.identity, null, 2) + '\n', 0o644],
  ];
  const at = (name: string) => path.join(dataDir, name);
  for (const [name, content, mode] of entries) createOwnFile(at(tempName(name)), content, mode);
  createOwnFile(at(tempName(COMMIT_MARKER)), entries.map(([n]) => n).join('\n') + '\n', 0o600);
  fs.renameSync(at(tempName(COMMIT_MARKER)), at(COMMIT_MARKER));
  syncDirectory(dataDir);
  for (const [name] of entries) fs.renameSync(at(tempName(name)), at(name));
  syncDirectory(dataDir);
  removeOwnFile(at(COMMIT_MARKER));
}

/** Checks the data directory, then completes or discards an interrupted write. */
export function recoverIdentity(dataDir: string, warn?: Warn): void {
  if (prepareIdentityDir(dataDir, { warn })) recover(dataDir);
}

/** Completes a write that got as far as its commit marker; discards one that did not. */
function recover(dataDir: string): void {
  const at = (name: string) => path.join(dataDir, name);
  const listed = readOwnFile(at(COMMIT_MARKER));
  if (listed !== undefined) {
    for (const name of listed.split('\n').filter((n) => FINAL_NAMES.includes(n))) {
      if (ownFileExists(at(tempName(name)))) fs.renameSync(at(tempName(name)), at(name));
    }
    syncDirectory(dataDir);
    removeOwnFile(at(COMMIT_MARKER));
  }
  for (const name of [...FINAL_NAMES, COMMIT_MARKER]) removeOwnFile(at(tempName(name)));
}
