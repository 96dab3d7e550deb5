// Who is the client? The socket peer, unless the peer is a proxy the operator trusts
// (JOINERY_TRUST_PROXY); then the right-most X-Forwarded-For address that is not itself a trusted
// proxy. A client can write anything into X-Forwarded-For, so only hops appended by trusted
// proxies are believed. The same answer feeds the rate limit, the audit and the access log.

import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
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

/** IPv4-mapped IPv6 (`::ffff:192.0.2.1`) written as the IPv4 address it is. */
function canonical(addr: string): string {
  if (!ipaddr.IPv6.isValid(addr)) return addr;
  const ip = ipaddr.IPv6.parse(addr);
  return ip.isIPv4MappedAddress() ? ip.toIPv4Address().toString() : ip.toString();
}

/** The client's address as the operator's trusted proxies report it (see the file comment). */
export function clientAddress(req: IncomingMessage, trustProxy: readonly string[] = []): string {
  const peer = req.socket.remoteAddress ?? 'unknown';
  if (!trustProxy.length) return canonical(peer);
  const addr = proxyaddr(req, trustFor(trustProxy));
  // A trusted proxy that passes junk through is not a reason to key limits on attacker text.
  return isIP(addr) ? canonical(addr) : canonical(peer);
}

/**
 * The key one client is rate limited by. An IPv6 host is usually given a whole /64, so limiting
 * per address would let it rotate through 2^64 of them; IPv4-mapped addresses count as IPv4.
 */
export function rateLimitKey(addr: string): string {
  const c = canonical(addr);
  if (!ipaddr.IPv6.isValid(c)) return c;
  const parts = ipaddr.IPv6.parse(c).parts;
  const prefix = new ipaddr.IPv6([parts[0], parts[1], parts[2], parts[3], 0, 0, 0, 0]);
  return `${prefix.toString()}/64`;
}
