// Who the client is behind proxies (JOINERY_TRUST_PROXY), and how the rate limit keys clients.

import type { IncomingMessage } from 'node:http';
import type { Request, Response } from 'express';
import { loadConfig } from '../../api/config';
import fc from 'fast-check';
import { clientAddress, normalizeAddress, parseTrustProxy, rateLimitKey } from '../../api/server/client-address';
import { rateLimit } from '../../api/server/rate-limit';

function req(peer: string, xff?: string): IncomingMessage {
  return { socket: { remoteAddress: peer }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } } as unknown as IncomingMessage;
}

describe('parseTrustProxy', () => {
  test('addresses and CIDRs, IPv4 and IPv6, named ranges, spaces and empty entries', () => {
    expect(parseTrustProxy(' 10.0.0.0/8, 192.0.2.7 ,fd00::/8,::1,,loopback')).toEqual(['10.0.0.0/8', '192.0.2.7', 'fd00::/8', '::1', 'loopback']);
    expect(parseTrustProxy(undefined)).toEqual([]);
    expect(parseTrustProxy('')).toEqual([]);
  });
  test.each(['10.0.0.0/33', 'fd00::/129', '10.0.0.0/0', '10.0.0.0/x', 'proxy.example.com', '127.1', '0x7f.0.0.1', '10.0.0.1/', '1.2.3.4.5', '*'])('%s is refused, naming the setting and the entry', (entry) => {
    expect(() => parseTrustProxy(`192.0.2.1,${entry}`)).toThrow(`JOINERY_TRUST_PROXY: ${JSON.stringify(entry)} is not an IP address or CIDR`);
  });
  test('loadConfig refuses an invalid list (the server does not start)', () => {
    expect(() => loadConfig({}, { JOINERY_TRUST_PROXY: '10.0.0.0/8,nonsense' })).toThrow(/JOINERY_TRUST_PROXY: "nonsense"/);
    expect(loadConfig({}, { JOINERY_TRUST_PROXY: '10.0.0.0/8' }).trustProxy).toEqual(['10.0.0.0/8']);
    expect(loadConfig({}, {}).trustProxy).toEqual([]);
  });
});

describe('clientAddress', () => {
  const trusted = parseTrustProxy('10.0.0.0/8,2001:db8:ffff::/48');

  test('without trusted proxies X-Forwarded-For is ignored', () => {
    expect(clientAddress(req('192.0.2.9', '203.0.113.5'), [])).toBe('192.0.2.9');
  });
  test('from an untrusted peer X-Forwarded-For is ignored', () => {
    expect(clientAddress(req('192.0.2.9', '203.0.113.5'), trusted)).toBe('192.0.2.9');
  });
  test('from a trusted peer the right-most untrusted hop is the client (a client cannot forge past the proxy)', () => {
    expect(clientAddress(req('10.1.2.3', '203.0.113.5'), trusted)).toBe('203.0.113.5');
    // The client sent "X-Forwarded-For: 198.51.100.1"; the proxy appended the real peer.
    expect(clientAddress(req('10.1.2.3', '198.51.100.1, 203.0.113.5'), trusted)).toBe('203.0.113.5');
    // Two trusted proxies in a row are skipped.
    expect(clientAddress(req('10.1.2.3', '198.51.100.1, 203.0.113.5, 10.9.9.9'), trusted)).toBe('203.0.113.5');
  });
  test('IPv6 proxies and clients; IPv4-mapped peers match IPv4 entries', () => {
    expect(clientAddress(req('2001:db8:ffff::1', '2001:db8:1:2::99'), trusted)).toBe('2001:db8:1:2::99');
    expect(clientAddress(req('::ffff:10.0.0.1', '203.0.113.5'), trusted)).toBe('203.0.113.5');
    expect(clientAddress(req('::ffff:192.0.2.1'), [])).toBe('192.0.2.1');
  });
  test('a trusted proxy with an empty header, or junk, leaves the peer as the client', () => {
    expect(clientAddress(req('10.1.2.3'), trusted)).toBe('10.1.2.3');
    expect(clientAddress(req('10.1.2.3', 'not-an-address'), trusted)).toBe('10.1.2.3');
  });
});

describe('rate-limit keys', () => {
  test('IPv6 clients are keyed by their /64; IPv4 and IPv4-mapped by the address', () => {
    expect(rateLimitKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(rateLimitKey('2001:db8:1:2:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(rateLimitKey('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(rateLimitKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(rateLimitKey('192.0.2.1')).toBe('192.0.2.1');
  });

  test('the limiter shares one budget across a /64 and separates other prefixes', () => {
    const limiter = rateLimit({ joinRatePerMinute: 2 }, () => 1_000_000);
    const outcome = (peer: string): string => {
      let result = '';
      const res = { setHeader: () => undefined } as unknown as Response;
      limiter(req(peer) as Request, res, (err?: unknown) => (result = err ? (err as { code: string }).code : 'ok'));
      return result;
    };
    expect(outcome('2001:db8:1:2::1')).toBe('ok');
    expect(outcome('2001:db8:1:2::2')).toBe('ok');
    expect(outcome('2001:db8:1:2:ffff::3')).toBe('rate_limited');
    expect(outcome('2001:db8:1:3::1')).toBe('ok');
    expect(outcome('192.0.2.1')).toBe('ok');
    expect(outcome('::ffff:192.0.2.1')).toBe('ok');
    expect(outcome('192.0.2.1')).toBe('rate_limited');
  });

  test('the limiter believes X-Forwarded-For only from trusted proxies', () => {
    const outcome = (limiter: ReturnType<typeof rateLimit>, xff: string): string => {
      let result = '';
      limiter(req('10.0.0.1', xff) as Request, { setHeader: () => undefined } as unknown as Response, (err?: unknown) => (result = err ? 'limited' : 'ok'));
      return result;
    };
    const behind = rateLimit({ joinRatePerMinute: 1, trustProxy: parseTrustProxy('10.0.0.0/8') }, () => 0);
    expect([outcome(behind, '203.0.113.1'), outcome(behind, '203.0.113.2'), outcome(behind, '203.0.113.1')]).toEqual(['ok', 'ok', 'limited']);
    const direct = rateLimit({ joinRatePerMinute: 1 }, () => 0);
    expect([outcome(direct, '203.0.113.1'), outcome(direct, '203.0.113.2')]).toEqual(['ok', 'limited']);
  });
});

describe('every spelling of an address is one client (issue 17, item 6)', () => {
  const trusted = parseTrustProxy('10.0.0.0/8,2001:db8:ffff::/48');

  test.each([
    ['2001:db8:1:2::1.2.3.4', '2001:db8:1:2::102:304'],
    ['2001:0DB8:0001:0002:0000:0000:0102:0304', '2001:db8:1:2::102:304'],
    ['[2001:db8:1:2::102:304]:443', '2001:db8:1:2::102:304'],
    ['[2001:db8:1:2::102:304]', '2001:db8:1:2::102:304'],
    ['fe80::1%eth0', 'fe80::1'],
    ['[fe80::1%25eth0]:80', 'fe80::1'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['::FFFF:c000:0201', '192.0.2.1'],
    ['0:0:0:0:0:ffff:192.0.2.1', '192.0.2.1'],
    ['[::ffff:192.0.2.1]:8080', '192.0.2.1'],
    ['192.0.2.1:8080', '192.0.2.1'],
    [' 192.0.2.1 ', '192.0.2.1'],
  ])('%s from a trusted proxy is the client %s', (spelling, expected) => {
    expect(clientAddress(req('10.1.2.3', spelling), trusted)).toBe(expected);
    expect(normalizeAddress(spelling)).toBe(expected);
  });

  test.each(['127.1', '0x7f.0.0.1', '192.000.002.001', '2001:db8::1.2.3', '2001:db8::1.2.3.256', '[2001:db8::1', 'unknown', '1.2.3.4:99999', ''])('%s is not an address: the peer stays the client', (junk) => {
    expect(normalizeAddress(junk)).toBeUndefined();
    expect(clientAddress(req('10.1.2.3', junk), trusted)).toBe('10.1.2.3');
  });

  test('a trusted proxy written with brackets and a port in the chain is still skipped', () => {
    expect(clientAddress(req('10.1.2.3', '203.0.113.5, [::ffff:10.9.9.9]:3128'), trusted)).toBe('203.0.113.5');
    expect(clientAddress(req('::ffff:10.1.2.3', '2001:db8:1:2::1.2.3.4, [2001:DB8:FFFF::7]:80'), trusted)).toBe('2001:db8:1:2::102:304');
  });

  test('the peer itself is normalised (a zone id on a link-local peer)', () => {
    expect(clientAddress(req('fe80::1%eth0'), [])).toBe('fe80::1');
  });

  const hex = (n: number, pad: boolean, upper: boolean): string => {
    const h = n.toString(16).padStart(pad ? 4 : 1, '0');
    return upper ? h.toUpperCase() : h;
  };
  /** One of the many ways to write the eight groups `g`. */
  const spelling = (g: number[], style: { pad: boolean; upper: boolean; dotted: boolean; compress: number; zone: boolean; bracket: number }): string => {
    let groups = g.map((n) => hex(n, style.pad, style.upper));
    let tail: string[] = [];
    if (style.dotted) {
      tail = [[g[6] >> 8, g[6] & 255, g[7] >> 8, g[7] & 255].join('.')];
      groups = groups.slice(0, 6);
    }
    // Compress one run of zero groups (any run, not only the longest: all are valid spellings).
    const runs: [number, number][] = [];
    for (let i = 0; i < groups.length; i++) {
      if (Number.parseInt(groups[i], 16) !== 0) continue;
      let j = i;
      while (j < groups.length && Number.parseInt(groups[j], 16) === 0) j++;
      runs.push([i, j]);
      i = j;
    }
    let text: string;
    if (runs.length && style.compress % (runs.length + 1) !== 0) {
      const [i, j] = runs[(style.compress % (runs.length + 1)) - 1];
      text = `${groups.slice(0, i).join(':')}::${groups.slice(j).concat(tail).join(':')}`;
    } else text = groups.concat(tail).join(':');
    if (style.zone) text += '%eth0';
    if (style.bracket === 1) text = `[${text}]`;
    if (style.bracket === 2) text = `[${text}]:443`;
    return text;
  };
  const group = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
  const style = fc.record({ pad: fc.boolean(), upper: fc.boolean(), dotted: fc.boolean(), compress: fc.nat(8), zone: fc.boolean(), bracket: fc.integer({ min: 0, max: 2 }) });

  test('property: every spelling of an address in a /64 lands in the bucket of that /64', () => {
    fc.assert(
      fc.property(fc.array(group, { minLength: 4, maxLength: 4 }), fc.array(group, { minLength: 4, maxLength: 4 }), style, fc.array(group, { minLength: 4, maxLength: 4 }), style, (prefix, host1, style1, host2, style2) => {
        fc.pre(!(prefix[0] === 0 && prefix[1] === 0 && prefix[2] === 0 && prefix[3] === 0));
        const a = spelling([...prefix, ...host1], style1);
        const b = spelling([...prefix, ...host2], style2);
        const key = rateLimitKey(clientAddress(req('10.0.0.1', a), trusted));
        expect(key).toBe(rateLimitKey(clientAddress(req('10.0.0.1', b), trusted)));
        expect(key).toBe(`${normalizeAddress(prefix.map((n) => n.toString(16)).join(':') + '::')}/64`);
      }),
      { numRuns: 500 },
    );
  });

  test('property: every spelling of an IPv4 address, mapped or not, is that IPv4 address', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }), style, fc.integer({ min: 0, max: 3 }), (octets, s, form) => {
        const v4 = octets.join('.');
        const mapped = spelling([0, 0, 0, 0, 0, 0xffff, (octets[0] << 8) | octets[1], (octets[2] << 8) | octets[3]], s);
        const text = [v4, `${v4}:1234`, mapped, `[::ffff:${v4}]:80`][form];
        expect(rateLimitKey(clientAddress(req('10.0.0.1', text), trusted))).toBe(v4);
      }),
      { numRuns: 300 },
    );
  });
});
