// The export file: appended to, synced after every batch, and its own record of how far the
// export got. The id of its last complete line is the resume point, so the position can never
// disagree with what the file holds (a cursor stored elsewhere cannot be written atomically with
// the append). A line torn by a crash mid-write is cut off before anything else is appended.

import * as fs from 'node:fs';

/** Enough for the longest line the store's bounds allow (about 12 KB) several times over. */
const TAIL_BYTES = 256 * 1024;

export class ExportFileError extends Error {}

export interface Recovered {
  /** The id of the last complete line; undefined when the file is missing or empty. */
  lastId?: number;
  /** Bytes of a torn last line that were cut off. */
  truncatedBytes: number;
}

/** Cuts a torn last line off the file and reads the id of the last complete one. */
export async function recoverExportFile(file: string): Promise<Recovered> {
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(file, 'r+');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { truncatedBytes: 0 };
    throw e;
  }
  try {
    const { size } = await handle.stat();
    if (size === 0) return { truncatedBytes: 0 };
    const start = Math.max(0, size - TAIL_BYTES);
    const tail = Buffer.alloc(size - start);
    await handle.read(tail, 0, tail.length, start);
    const lastNewline = tail.lastIndexOf(0x0a);
    if (lastNewline < 0 && start > 0) throw new ExportFileError(`${file}: no line break in its last ${TAIL_BYTES} bytes, so it is not an audit export; move it aside`);
    let truncatedBytes = 0;
    if (lastNewline !== tail.length - 1) {
      // A crash mid-append: the partial line was never acknowledged as exported, so it goes and
      // is written again whole.
      truncatedBytes = tail.length - (lastNewline + 1);
      await handle.truncate(start + lastNewline + 1);
      await handle.datasync();
    }
    if (lastNewline < 0) return { truncatedBytes };
    const previous = tail.lastIndexOf(0x0a, lastNewline - 1);
    if (previous < 0 && start > 0) throw new ExportFileError(`${file}: its last line is longer than ${TAIL_BYTES} bytes, so it is not an audit export; move it aside`);
    const line = tail.subarray(previous + 1, lastNewline).toString('utf8');
    let id: unknown;
    try {
      id = (JSON.parse(line) as { id?: unknown }).id;
    } catch {
      id = undefined;
    }
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) {
      throw new ExportFileError(`${file}: its last line is not a Joinery audit event (no positive integer "id"); point JOINERY_AUDIT_EXPORT at a file of its own, or move this one aside`);
    }
    return { lastId: id, truncatedBytes };
  } finally {
    await handle.close();
  }
}

/** An append-only handle on the export file that can be reopened (logrotate moved the file). */
export class ExportFile {
  private handle?: fs.promises.FileHandle;

  constructor(readonly file: string) {}

  async open(): Promise<void> {
    await this.close();
    this.handle = await fs.promises.open(this.file, 'a', 0o640);
  }

  /** Appends the lines and syncs them to disk; resolves only once all of them are written. */
  async append(text: string): Promise<void> {
    if (!this.handle) await this.open();
    const buf = Buffer.from(text, 'utf8');
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await this.handle!.write(buf, off, buf.length - off);
      off += bytesWritten;
    }
    await this.handle!.datasync();
  }

  async close(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    await h?.close();
  }
}
