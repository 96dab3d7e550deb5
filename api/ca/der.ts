// A minimal DER writer (definite lengths, the handful of universal types certificates and CRLs
// need), shared by the host certificates and the CRL, which are written as bytes directly.

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** A tag and the definite length of `contentLength` bytes, for content written in pieces after it. */
export function header(tag: number, contentLength: number): Buffer {
  return Buffer.concat([Buffer.from([tag]), length(contentLength)]);
}

export function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = content.length === 1 ? content[0] : Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

export const seq = (...items: Buffer[]) => tlv(0x30, ...items);
export const set = (...items: Buffer[]) => tlv(0x31, ...items);
export const explicit = (n: number, inner: Buffer) => tlv(0xa0 | n, inner);
export const octets = (b: Buffer) => tlv(0x04, b);
export const bitString = (b: Buffer) => tlv(0x03, Buffer.from([0]), b);
export const TRUE = Buffer.from([0x01, 0x01, 0xff]);

export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const out: number[] = [arcs[0] * 40 + arcs[1]];
  for (const arc of arcs.slice(2)) {
    const chunk: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** A positive INTEGER from big-endian magnitude bytes, minimally encoded. */
export function unsignedInteger(magnitude: Buffer): Buffer {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const trimmed = magnitude.subarray(i);
  return tlv(0x02, trimmed[0] & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; whole seconds, Zulu. */
export function time(d: Date): Buffer {
  if (Number.isNaN(d.getTime())) throw new Error('certificate validity is not a valid time');
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const year = d.getUTCFullYear();
  if (year < 1950 || year > 9999) throw new Error(`certificate validity year ${year} is out of range`);
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '');
  return year < 2050 ? tlv(0x17, Buffer.from(digits.slice(2) + 'Z', 'ascii')) : tlv(0x18, Buffer.from(digits + 'Z', 'ascii'));
}

/** PEM armour for DER bytes (RFC 7468), 64 characters a line. */
export function toPem(der: Buffer, label: string): string {
  // Sliced in a loop: a regular expression over a CRL's 17 MB of base64 took a second.
  const b64 = der.toString('base64');
  const lines = new Array<string>(Math.ceil(b64.length / 64));
  for (let i = 0; i < lines.length; i++) lines[i] = b64.slice(i * 64, i * 64 + 64);
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
