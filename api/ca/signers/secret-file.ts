// The CA's secrets on disk (a key file, a PKCS#11 PIN file) are read as OpenSSH reads a private
// key: a regular file, owned by the server's user or root, that nobody else can read or write.
// The checks are made on the open descriptor, so the file checked is the file read. A link is
// followed (Kubernetes mounts secrets through links), but what it leads to must pass the same
// checks. O_NONBLOCK: a FIFO or a terminal named here is refused instead of blocking the server.

import * as fs from 'node:fs';

/** More than any key file or PIN: a device or a huge file named by mistake is not read whole. */
const MAX_SECRET_BYTES = 64 * 1024;

export function readSecretFile(file: string, what: string): Buffer {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  } catch (err) {
    throw new Error(`cannot read ${what} ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw new Error(`${what} ${file} is not a regular file`);
    const mode = stat.mode & 0o777;
    if (mode & 0o077) throw new Error(`${what} ${file} is readable by others (mode ${mode.toString(8)}); run chmod 600 ${file}`);
    const uid = process.getuid?.();
    if (uid !== undefined && stat.uid !== uid && stat.uid !== 0) {
      throw new Error(`${what} ${file} belongs to uid ${stat.uid}, who could replace it; it must belong to the server's user (uid ${uid}) or root: run chown ${uid} ${file}`);
    }
    if (stat.size > MAX_SECRET_BYTES) throw new Error(`${what} ${file} is ${stat.size} bytes, more than a key or PIN file holds`);
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
