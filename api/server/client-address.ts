// Who is the client? The socket peer, unless the peer is a proxy the operator trusts
// (JOINERY_TRUST_PROXY); then the right-most X-Forwarded-For address that is not itself a trusted
// proxy. A client can write anything into X-Forwarded-For, so only hops appended by trusted
// proxies are believed. The same answer feeds the rate limit, the audit and the access log.

import type { IncomingMessage } from 'node:http';
import { isIP, isIPv4, isIPv6 } from 'node:net';
import ipaddr from 'ipaddr.js';
import proxyaddr from 'proxy-addr';

type Trust = ReturnType<typeof proxyaddr.compile>;

const compiled = new WeakMap<readonly string[], Trust>();

/**
 * Parses JOINERY_TRUST_PROXY: comma-separated addresses or CIDRs, IPv4 or IPv6 (also proxy-addr's
 * names `loopback`, `linklocal`, `uniquelocal`). Throws a message naming the bad entry.
 */
export function parseTrustProxy(spec: string | undefined, setting = 'JOINERY_TRUST_PROXY'): string[] {
  const entries = (spec ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const entry of entries) {
    if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) continue;
    const slash = entry.lastIndexOf('/');
    const address = slash === -1 ? entry : entry.slice(0, slash);
    const bits = slash === -1 ? undefined : entry.slice(slash + 1);
    const family = isIP(address);
    // net.isIP is stricter than ipaddr.js (which takes "127.1" or "0x7f.0.0.1"): a typo must not
    // silently trust some other network.
    const max = family === 4 ? 32 : 128;
    const badBits = bits !== undefined && !(/^\d{1,3}$/.test(bits) && Number(bits) >= 1 && Number(bits) <= max);
    if (!family || badBits) {
      throw new Error(`${setting}: ${JSON.stringify(entry)} is not an IP address or CIDR (expected e.g. 10.0.0.0/8, 192.0.2.7, fd00::/8)`);
    }
  }
  try {
    proxyaddr.compile(entries.length ? entries : []);
  } catch (e) {
    throw new Error(`${setting}: ${(e as Error).message}`, { cause: e });
  }
  return entries;
}

function trustFor(list: readonly string[]): Trust {
  let trust = compiled.get(list);
  if (!trust) {
    trust = list.length ? proxyaddr.compile([...list]) : () => false;
    compiled.set(list, trust);
  }
  return trust;
}

/**
 * One spelling per address, or undefined when `raw` is not an address. A trusted proxy may pass
 * any of the forms that mean the same host, and a client chooses which one its proxy sees:
 * brackets and a port (`[2001:db8::1]:443`, `192.0.2.1:8080`), a zone id (`fe80::1%eth0`),
 * zero padding and upper case (`2001:0DB8::1`), a trailing dotted quad (`2001:db8::1.2.3.4`,
 * which ipaddr.js does not parse but Node accepts) and IPv4-mapped IPv6 (`::ffff:192.0.2.1`,
 * written back as the IPv4 address it is). The result is RFC 5952 text: lower case, compressed.
 * IPv4 is held to Node's strict dotted decimal (no `127.1`, no leading zeros, which some parsers
 * read as octal), as JOINERY_TRUST_PROXY is.
 */
export function normalizeAddress(raw: string): string | undefined {
  let s = raw.trim();
  const withPort = /^\[([^\]]*)\](?::(\d{1,5}))?$/.exec(s) ?? /^([\d.]+):(\d{1,5})$/.exec(s);
  if (withPort) {
    if (withPort[2] !== undefined && Number(withPort[2]) > 65535) return undefined;
    s = withPort[1];
  }
  if (isIPv4(s)) return s;
  const zone = s.indexOf('%');
  if (zone !== -1) s = s.slice(0, zone);
  if (!isIPv6(s)) return undefined;
  const lastColon = s.lastIndexOf(':');
  const tail = s.slice(lastColon + 1);
  if (tail.includes('.')) {
    // isIPv6 has checked the dotted quad; as two hex groups ipaddr.js reads it.
    const [a, b, c, d] = tail.split('.').map(Number);
    s = `${s.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const ip = ipaddr.IPv6.parse(s);
  return ip.isIPv4MappedAddress() ? ip.toIPv4Address().toString() : ip.toString();
}

/** True when `addr` (a socket peer) is one of the operator's trusted proxies. */
export function isTrustedProxy(addr: string, trustProxy: readonly string[]): boolean {
  const canonical = normalizeAddress(addr);
  return trustProxy.length > 0 && canonical !== undefined && trustFor(trustProxy)(canonical, 0);
}

/** The client's address as the operator's trusted proxies report it (see the file comment). */
export function clientAddress(req: IncomingMessage, trustProxy: readonly string[] = []): string {
  const peer = req.socket.remoteAddress ?? 'unknown';
  const canonicalPeer = normalizeAddress(peer) ?? peer;
  if (!trustProxy.length) return canonicalPeer;
  const trust = trustFor(trustProxy);
  // [peer, right-most X-Forwarded-For hop, ..., left-most]: walk left while the hop is trusted.
  // Each hop is normalised before the trust check, so a proxy written `[10.0.0.1]:80` is still
  // that proxy, and the answer is in the same spelling as every other client's.
  const hops = proxyaddr.all(req);
  let client = canonicalPeer;
  for (let i = 0; i < hops.length; i++) {
    const hop = normalizeAddress(hops[i]);
    // A trusted proxy that passes junk through is not a reason to key limits on attacker text.
    if (hop === undefined) return canonicalPeer;
    client = hop;
    if (!trust(hop, i)) break;
  }
  return client;
}

/**
 * The key one client is rate limited by. An IPv6 host is usually given a whole /64, so limiting
 * per address would let it rotate through 2^64 of them; IPv4-mapped addresses count as IPv4.
 */
export function rateLimitKey(addr: string): string {
  const c = normalizeAddress(addr);
  if (c === undefined) return addr;
  if (!c.includes(':')) return c;
  const parts = ipaddr.IPv6.parse(c).parts;
  const prefix = new ipaddr.IPv6([parts[0], parts[1], parts[2], parts[3], 0, 0, 0, 0]);
  return `${prefix.toString()}/64`;
}
