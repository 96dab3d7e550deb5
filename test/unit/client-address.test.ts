// Who the client is behind proxies (JOINERY_TRUST_PROXY), and how the rate limit keys clients.

import type { IncomingMessage } from 'node:http';
import type { Request, Response } from 'express';
import { loadConfig } from '../../api/config';
import { clientAddress, parseTrustProxy, rateLimitKey } from '../../api/server/client-address';
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
