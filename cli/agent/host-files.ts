// The agent's files on a host. Under systemd the agent runs as root, so a link or a loose mode in
// the path of a file it writes is a way to make it overwrite any file on the host, and a
// configuration anyone can write is a way to run any command (on_renew). Node has no openat(), so
// files are reached by path: every directory and link consulted on the way is checked to be
// changeable by root and the agent's user only (OpenSSH's StrictModes rule, with sticky
// directories such as /tmp allowed), and then each file is opened without following a final link,
// created only if it does not exist, and checked on its descriptor. What is refused is named in one
// line; nothing is ever followed.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { escapeUnsafeText } from '../../schema/text-safety';

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_NOCTTY, O_DIRECTORY } = fs.constants;
/** Never follows a final link, never blocks on a FIFO, never takes a terminal. */
const READ_FLAGS = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
const CREATE_FLAGS = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY;
/** As the kernel: a path resolving through more links than this is a loop. */
const MAX_LINKS = 40;
const STICKY = 0o1000;

/** A file or directory the agent will not use as it is; the message names it and says what to do. */
export class UnsafePathError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'UnsafePathError';
  }
}

/** The agent's user; files it owns are "ours". Without user IDs (Windows) nothing is checked. */
function ownUid(): number | undefined {
  return typeof process.geteuid === 'function' ? process.geteuid() : undefined;
}

export function modeString(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

function kindOf(st: fs.Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return st.isFile() ? 'a regular file' : 'of an unknown kind';
}

/**
 * Where a link points, for a message. Whoever planted the link chose this text: a line break in it
 * would forge a line of the agent's log (the journal under systemd), an escape sequence would act
 * on the terminal. Written out visibly, as the CLI does with a server's words.
 */
function shownTarget(target: string): string {
  return escapeUnsafeText(target);
}

function linkTarget(p: string): string {
  try {
    return shownTarget(fs.readlinkSync(p));
  } catch {
    return '?';
  }
}

function code(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code;
}

function lstatOrUndefined(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch (e) {
    if (code(e) === 'ENOENT') return undefined;
    throw e;
  }
}

/** Root and the agent's user are the only owners it trusts. */
function trustedOwner(uid: number): boolean {
  const own = ownUid();
  return own === undefined || uid === 0 || uid === own;
}

function checkDirectoryOnPath(dir: string, st: fs.Stats, subject: string): void {
  if (ownUid() === undefined) return;
  const of = dir === subject ? '' : ` (on the path of ${subject})`;
  if (!trustedOwner(st.uid)) throw new UnsafePathError(`${dir}${of} belongs to uid ${st.uid}, who could replace what the agent uses there; only root and uid ${ownUid()} may own it`);
  if (st.mode & 0o022 && !(st.mode & STICKY)) {
    throw new UnsafePathError(`${dir}${of} has mode ${modeString(st.mode)}: group or others could replace what the agent uses there; run chmod go-w ${dir}`);
  }
}

export interface ResolvedPath {
  /** The path with every link resolved. */
  real: string;
  /** lstat of the final component; undefined when it (or a directory above it) does not exist. */
  stat?: fs.Stats;
}

/**
 * Resolves `p` as the kernel does, one component at a time, and checks everything consulted on the
 * way: each directory must belong to root or the agent's user and be writable by no one else
 * (unless sticky: then others cannot rename or remove our entries), and each link must belong to
 * root or the agent's user (in a sticky directory another user could replace theirs). A path
 * that passes cannot be redirected later by anyone but root and the agent's user, which is what
 * makes the path-based opens that follow safe. A link as the final component is refused unless
 * `finalLink` allows it.
 */
export function resolveSafely(p: string, opts: { finalLink: boolean; what: string }): ResolvedPath {
  const subject = path.resolve(p);
  const pending = subject.split('/').filter(Boolean);
  let current = '/';
  checkDirectoryOnPath('/', fs.lstatSync('/'), subject);
  let links = 0;
  while (pending.length) {
    const name = pending.shift() as string;
    if (name === '.') continue;
    if (name === '..') {
      // `current` holds no links, so its parent is the real parent, and was checked on the way.
      current = path.dirname(current);
      continue;
    }
    const next = path.join(current, name);
    const st = lstatOrUndefined(next);
    if (!st) return { real: path.join(next, ...pending) };
    const last = pending.length === 0;
    if (st.isSymbolicLink()) {
      const target = fs.readlinkSync(next);
      if (last && !opts.finalLink) {
        throw new UnsafePathError(`${next} is a symbolic link (to ${shownTarget(target)}); the ${opts.what} must be a real directory, and the agent never follows a link there: give the real path`);
      }
      if (!trustedOwner(st.uid)) throw new UnsafePathError(`${next} (on the path of ${subject}) is a symbolic link owned by uid ${st.uid}; only root and uid ${ownUid()} may own links the agent follows`);
      if (++links > MAX_LINKS) throw new UnsafePathError(`${subject}: too many levels of symbolic links`);
      if (path.isAbsolute(target)) current = '/';
      pending.unshift(...target.split('/').filter(Boolean));
      continue;
    }
    if (last) return { real: next, stat: st };
    if (!st.isDirectory()) throw new UnsafePathError(`${next} (on the path of ${subject}) is not a directory`);
    checkDirectoryOnPath(next, st, subject);
    current = next;
  }
  return { real: current, stat: fs.lstatSync(current) };
}

/**
 * The checks on a file in the data directory, from lstat or from fstat of an open descriptor: a
 * regular file of the agent's user, with one name, that nobody else can write (it may have been
 * altered) and, for the key, nobody else can read (as OpenSSH refuses an unprotected key).
 */
export function checkOwnFile(file: string, st: fs.Stats, opts: { secret?: boolean } = {}): void {
  if (st.isSymbolicLink()) throw new UnsafePathError(`${file} is a symbolic link (to ${linkTarget(file)}); the agent never follows links in its data directory: remove it, and find out who put it there`);
  if (!st.isFile()) throw new UnsafePathError(`${file} is ${kindOf(st)}, not a file the agent wrote: remove it`);
  const own = ownUid();
  if (own === undefined) return;
  if (st.uid !== own) throw new UnsafePathError(`${file} belongs to uid ${st.uid}, not to the agent's user (uid ${own}): the agent did not write it; remove it`);
  if (st.nlink !== 1) throw new UnsafePathError(`${file} has ${st.nlink} hard links (another name for it exists on this host); the agent's files have one: remove it`);
  if (st.mode & 0o022) throw new UnsafePathError(`${file} has mode ${modeString(st.mode)}: group or others could have altered it; remove it (or, if you trust it, run chmod go-w ${file})`);
  if (opts.secret && st.mode & 0o077) {
    throw new UnsafePathError(`UNPROTECTED PRIVATE KEY FILE: ${file} has mode ${modeString(st.mode)}, readable by others; run chmod 600 ${file} (and treat the key as exposed)`);
  }
}

/**
 * Makes sure the data directory is safe to use: reached through a safe path, itself a real
 * directory (never a link) of the agent's user. A directory writable by group or others is
 * repaired to 0700 (it is ours, and only that mode keeps others from planting names in it), and
 * `warn` says so. Then every name the agent uses in it must be absent or one of its own files.
 * `..` in the path is read lexically, as path.join and the CLI read it. Returns false when the directory does not exist and `create` is false.
 */
export function prepareDataDir(given: string, opts: { create: boolean; names: readonly string[]; secretNames: readonly string[]; warn: (line: string) => void }): boolean {
  const what = 'data directory';
  // The path as resolveSafely reads it (`..` taken lexically, as path.join does for every file
  // in it): handed raw to mkdir or open, the kernel would take `link/..` through the link, to a
  // place no check has seen.
  const dataDir = path.resolve(given);
  let resolved = resolveSafely(dataDir, { finalLink: false, what });
  if (!resolved.stat) {
    if (!opts.create) return false;
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    resolved = resolveSafely(dataDir, { finalLink: false, what });
    if (!resolved.stat) throw new UnsafePathError(`${dataDir} disappeared as the agent created it`);
  }
  const st = resolved.stat;
  if (!st.isDirectory()) throw new UnsafePathError(`${dataDir} is ${kindOf(st)}; the ${what} must be a directory`);
  const own = ownUid();
  if (own !== undefined) {
    if (st.uid !== own) throw new UnsafePathError(`${dataDir} belongs to uid ${st.uid}, not to the agent's user (uid ${own}); run chown ${own} ${dataDir} (and chmod 700), or use another ${what}`);
    if (st.mode & 0o022) {
      const fd = fs.openSync(dataDir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      try {
        const now = fs.fstatSync(fd);
        if (now.ino !== st.ino || now.dev !== st.dev) throw new UnsafePathError(`${dataDir} was replaced while the agent checked it`);
        fs.fchmodSync(fd, 0o700);
      } finally {
        fs.closeSync(fd);
      }
      opts.warn(`warning: ${dataDir} had mode ${modeString(st.mode)}, writable by group or others; repaired to 0700`);
    }
  }
  // Only now, with nobody else able to add names, are the names in it worth checking.
  for (const name of opts.names) {
    const file = path.join(dataDir, name);
    const entry = lstatOrUndefined(file);
    if (entry) checkOwnFile(file, entry, { secret: opts.secretNames.includes(name) });
  }
  return true;
}

/** Reads one of the agent's own files without following a link; undefined when it does not exist. */
export function readOwnFile(file: string, opts: { secret?: boolean } = {}): string | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, READ_FLAGS);
  } catch (e) {
    if (code(e) === 'ENOENT') return undefined;
    const st = lstatOrUndefined(file);
    if (st && !st.isFile()) checkOwnFile(file, st, opts);
    throw e;
  }
  try {
    checkOwnFile(file, fs.fstatSync(fd), opts);
    return fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/** Creates a new file (never an existing name, never through a link), writes and syncs it. */
export function createOwnFile(file: string, content: string, mode: number): void {
  let fd: number;
  try {
    fd = fs.openSync(file, CREATE_FLAGS, mode);
  } catch (e) {
    if (code(e) === 'EEXIST' || code(e) === 'ELOOP') {
      const st = lstatOrUndefined(file);
      const what = st?.isSymbolicLink() ? `a symbolic link (to ${linkTarget(file)})` : st ? kindOf(st) : 'a name that came and went';
      throw new UnsafePathError(`${file} already exists as ${what}; joinery creates its files anew and never writes through an existing name: remove it (is another joinery using this directory?)`, { cause: e });
    }
    throw e;
  }
  try {
    fs.writeFileSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Removes one of the agent's own files if present (unlink never follows a link either). */
export function removeOwnFile(file: string): void {
  const st = lstatOrUndefined(file);
  if (!st) return;
  checkOwnFile(file, st);
  fs.unlinkSync(file);
}

export function ownFileExists(file: string): boolean {
  const st = lstatOrUndefined(file);
  if (st) checkOwnFile(file, st);
  return st !== undefined;
}

/** Makes renames in the directory durable. */
export function syncDirectory(dir: string): void {
  const fd = fs.openSync(path.resolve(dir), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Opens a file that tells the agent what to do or whom to trust (its configuration, a CA file, the
 * program on_renew runs): links may lead to it, but only through directories and links that root
 * or the agent's user alone can change, and the file itself must belong to one of them and be
 * writable by no one else. Returns the descriptor (the caller closes it), or undefined when the
 * file does not exist.
 */
function openTrustedFile(file: string, what: string): number | undefined {
  const resolved = resolveSafely(file, { finalLink: true, what });
  if (!resolved.stat) return undefined;
  let fd: number;
  try {
    fd = fs.openSync(resolved.real, READ_FLAGS);
  } catch (e) {
    if (code(e) === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const st = fs.fstatSync(fd);
    const shown = resolved.real === path.resolve(file) ? file : `${file} (${resolved.real})`;
    if (!st.isFile()) throw new UnsafePathError(`${shown} is ${kindOf(st)}; the ${what} must be a regular file`);
    if (ownUid() !== undefined) {
      if (!trustedOwner(st.uid)) throw new UnsafePathError(`${shown} belongs to uid ${st.uid}; the ${what} must belong to root or to the agent's user (uid ${ownUid()}): run chown root ${resolved.real}`);
      if (st.mode & 0o022) throw new UnsafePathError(`${shown} has mode ${modeString(st.mode)}: group or others can write the ${what}; run chmod go-w ${resolved.real}`);
    }
    return fd;
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
}

/** Reads a file the agent trusts (see openTrustedFile); undefined when it does not exist. */
export function readTrustedFile(file: string, what: string): Buffer | undefined {
  const fd = openTrustedFile(file, what);
  if (fd === undefined) return undefined;
  try {
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Checks a file the agent trusts without reading it (see openTrustedFile); false when absent. */
export function checkTrustedFile(file: string, what: string): boolean {
  const fd = openTrustedFile(file, what);
  if (fd === undefined) return false;
  fs.closeSync(fd);
  return true;
}
