// A large body written in slices through a shared pacer (api/server/paced-body.ts): all of it,
// byte for byte, with other work running between slices, and a client that stops reading dropped
// instead of holding the server.

import * as http from 'node:http';
import * as net from 'node:net';
import { randomBytes } from 'node:crypto';
import { Pacer, sendPaced, type PacedOutcome } from '../../api/server/paced-body';

interface Served {
  url: string;
  port: number;
  outcomes: PacedOutcome[];
  /** Bytes handed to res.write, per response, in order. */
  writes: number[][];
  /** Per response: resolves when the server's side of its connection has closed. */
  socketClosed: Promise<void>[];
  close(): Promise<void>;
}

async function serve(body: Buffer, opts: { sliceBytes: number; stallMs: number; pacer?: Pacer; onWrite?: (response: number) => void }): Promise<Served> {
  const outcomes: PacedOutcome[] = [];
  const writes: number[][] = [];
  const socketClosed: Promise<void>[] = [];
  const server = http.createServer((req, res) => {
    const mine: number[] = [];
    const index = writes.push(mine) - 1;
    socketClosed.push(new Promise((r) => (req.socket.destroyed ? r() : req.socket.once('close', () => r()))));
    const write = res.write.bind(res) as (chunk: Buffer) => boolean;
    res.write = ((chunk: Buffer) => {
      mine.push(chunk.length);
      opts.onWrite?.(index);
      return write(chunk);
    }) as typeof res.write;
    res.setHeader('Content-Type', 'application/octet-stream');
    void sendPaced(res, body, opts).then((o) => outcomes.push(o));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    outcomes,
    writes,
    socketClosed,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function get(url: string, method = 'GET'): Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http
      .request(url, { method, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      })
      .on('error', reject)
      .end();
  });
}

test('the whole body arrives byte for byte, in slices of the given size, with its Content-Length; HEAD gets the length alone', async () => {
  const body = randomBytes(1_000_003);
  const s = await serve(body, { sliceBytes: 64 * 1024, stallMs: 10_000 });
  try {
    const r = await get(s.url);
    expect(r.headers['content-length']).toBe(String(body.length));
    expect(r.body.equals(body)).toBe(true);
    expect(s.writes[0]).toEqual([...Array(15).fill(64 * 1024), body.length - 15 * 64 * 1024]);
    const head = await get(s.url, 'HEAD');
    expect(head.headers['content-length']).toBe(String(body.length));
    expect(head.body.length).toBe(0);
    const empty = await serve(Buffer.alloc(0), { sliceBytes: 1024, stallMs: 10_000 });
    try {
      const e = await get(empty.url);
      expect(e.headers['content-length']).toBe('0');
      expect(e.body.length).toBe(0);
    } finally {
      await empty.close();
    }
    expect(s.outcomes).toEqual(['sent', 'sent']);
  } finally {
    await s.close();
  }
});

test('responses take turns through the pacer, and work queued meanwhile runs between their slices', async () => {
  const body = randomBytes(40 * 1024);
  const order: string[] = [];
  // One slice per turn of the event loop, of all responses together.
  const s = await serve(body, { sliceBytes: 4 * 1024, stallMs: 10_000, pacer: new Pacer(1), onWrite: (i) => order.push(`r${i}`) });
  // Something else that wants the event loop the whole time: it must get a turn between slices.
  let ticking = true;
  const tick = () => {
    order.push('tick');
    if (ticking) setImmediate(tick);
  };
  try {
    setImmediate(tick);
    const [a, b] = await Promise.all([get(s.url), get(s.url)]);
    ticking = false;
    expect(a.body.equals(body) && b.body.equals(body)).toBe(true);
    const writes = order.filter((x) => x !== 'tick');
    expect(writes.length).toBe(20);
    // No two slices (of one response or of both) without a turn of the event loop between them.
    for (let i = 1; i < order.length; i++) if (order[i] !== 'tick') expect(order[i - 1]).toBe('tick');
    // Both progressed together: neither response wrote all its slices before the other began.
    const firstOfSecond = writes.indexOf('r1');
    expect(firstOfSecond).toBeGreaterThan(-1);
    expect(firstOfSecond).toBeLessThan(writes.lastIndexOf('r0'));
  } finally {
    ticking = false;
    await s.close();
  }
});

test('a client that stops reading is dropped after the stall time, having been sent a bounded part; others are served meanwhile', async () => {
  // Larger than what the kernel's socket buffers take on loopback, so the writes really stall.
  const body = randomBytes(48 * 1024 * 1024);
  const s = await serve(body, { sliceBytes: 64 * 1024, stallMs: 500 });
  try {
    const stalled = net.connect(s.port, '127.0.0.1');
    stalled.on('error', () => undefined);
    stalled.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    stalled.pause(); // and never reads
    // While it stalls, another client gets a whole answer.
    await new Promise((r) => setTimeout(r, 100));
    const other = await get(s.url);
    expect(other.body.length).toBe(body.length);
    // The server ends the stalled connection (the client, not reading, would only see it on its next read).
    await s.socketClosed[0];
    stalled.destroy();
    const sentToStalled = s.writes[0].reduce((a, b) => a + b, 0);
    expect(sentToStalled).toBeLessThan(body.length);
    expect(s.outcomes.sort()).toEqual(['sent', 'stalled']);
  } finally {
    await s.close();
  }
}, 30_000);

test('a client that leaves mid-body ends the write without an error', async () => {
  const body = randomBytes(48 * 1024 * 1024);
  const s = await serve(body, { sliceBytes: 64 * 1024, stallMs: 10_000 });
  try {
    const c = net.connect(s.port, '127.0.0.1');
    c.on('error', () => undefined);
    c.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise<void>((r) => c.once('data', () => r()));
    c.destroy();
    for (let i = 0; i < 200 && s.outcomes.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(s.outcomes).toEqual(['closed']);
  } finally {
    await s.close();
  }
});
