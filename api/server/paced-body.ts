// A large body written in slices, so that encrypting it never holds the event loop. TLS encrypts
// what a response writes synchronously, inside the write: one write of a 3.5 MiB CRL is 3.5 MiB of
// AES on the event loop before anything else runs, and 50 relying services fetching it at once
// queued every join and renewal behind 180 MB of it. Here each response writes one slice at a
// time, waits for the socket to take it when the socket's buffer is full (backpressure), and
// takes its turn through a pacer shared by every paced response: at most `slicesPerTurn` slices
// of all of them are written per turn of the event loop, and the requests that arrived meanwhile
// are served in between. A client that stops reading holds one slice of memory and no turn, and
// is dropped when a slice waits longer than `stallMs`.

import type { ServerResponse } from 'node:http';

/** Bytes one write encrypts: small enough to keep a turn short, large enough for few TLS records. */
export const SLICE_BYTES = 64 * 1024;
/** Slices of all paced responses together written in one turn of the event loop. */
export const SLICES_PER_TURN = 4;

/** Hands out turns: at most `perTurn` waiters go in each turn of the event loop (setImmediate). */
export class Pacer {
  private readonly waiting: (() => void)[] = [];
  private scheduled = false;

  constructor(private readonly perTurn: number) {}

  /** Resolves when it is the caller's turn to write one slice. */
  turn(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      for (const go of this.waiting.splice(0, this.perTurn)) go();
      // Waiters granted now come back for their next slice in a later turn: sockets are polled
      // (and other requests served) before it.
      if (this.waiting.length) this.schedule();
    });
  }
}

const sharedPacer = new Pacer(SLICES_PER_TURN);

export interface PacedOptions {
  /** A slice the client has not taken in this time ends the response (the connection is destroyed). */
  stallMs: number;
  sliceBytes?: number;
  pacer?: Pacer;
}

/** How a paced write ended: all of it written, the client gone, or dropped for not reading. */
export type PacedOutcome = 'sent' | 'closed' | 'stalled';

/** Waits until the response has handed what it buffered to the socket, the connection closed, or `stallMs` passed. */
function drained(res: ServerResponse, stallMs: number): Promise<'drained' | 'closed' | 'stalled'> {
  return new Promise((resolve) => {
    const done = (how: 'drained' | 'closed' | 'stalled') => {
      clearTimeout(timer);
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(how);
    };
    const onDrain = () => done('drained');
    const onClose = () => done('closed');
    const timer = setTimeout(() => done('stalled'), stallMs);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

/**
 * Ends `res` with `body`: Content-Length set here, the status and other headers already set by
 * the caller. A HEAD answer carries the length and no body. Never throws: a client that leaves or
 * stalls ends the response early, which is all that can be done once headers are out.
 */
export async function sendPaced(res: ServerResponse, body: Buffer, opts: PacedOptions): Promise<PacedOutcome> {
  const slice = opts.sliceBytes ?? SLICE_BYTES;
  const pacer = opts.pacer ?? sharedPacer;
  res.setHeader('Content-Length', body.length);
  if (res.req.method === 'HEAD') {
    res.end();
    return 'sent';
  }
  for (let offset = 0; offset < body.length; offset += slice) {
    await pacer.turn();
    if (res.destroyed) return 'closed';
    if (!res.write(body.subarray(offset, offset + slice))) {
      const how = await drained(res, opts.stallMs);
      if (how === 'closed') return 'closed';
      if (how === 'stalled') {
        res.destroy();
        return 'stalled';
      }
    }
  }
  res.end();
  return 'sent';
}
