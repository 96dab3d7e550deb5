// Outbound HTTPS through the operator's egress proxy. Enterprises often reach AWS only through an
// HTTPS proxy named by HTTPS_PROXY (and NO_PROXY for exceptions), as curl and the AWS CLI read
// them. The proxy only sees a CONNECT to host:443: TLS is still end to end with the AWS host, and
// verified against its name. Which hosts may be contacted at all is decided before this point.

import type { Agent } from 'node:http';
import { HttpsProxyAgent } from 'https-proxy-agent';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { getProxyForUrl } = require('proxy-from-env') as { getProxyForUrl(url: string): string };

/** The proxy URL for an https URL per HTTPS_PROXY / NO_PROXY (lower-case variants too), if any. */
export function proxyFor(url: string): string | undefined {
  return getProxyForUrl(url) || undefined;
}

/** Checks a proxy setting at start, so a typo stops the server rather than every AWS call. */
export function checkProxyEnvironment(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env.HTTPS_PROXY ?? env.https_proxy;
  if (!value) return undefined;
  let url: URL;
  try {
    url = new URL(value.includes('://') ? value : `http://${value}`);
  } catch {
    throw new Error(`HTTPS_PROXY ${JSON.stringify(value)} is not a URL (expected http://host:port)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`HTTPS_PROXY must be an http:// or https:// URL (got ${url.protocol})`);
  return url.origin;
}

const agents = new Map<string, Agent>();

/** A keep-alive-free CONNECT agent for the proxy of `url`, or undefined to connect directly. */
export function proxyAgentFor(url: string): Agent | undefined {
  const proxy = proxyFor(url);
  if (!proxy) return undefined;
  let agent = agents.get(proxy);
  if (!agent) {
    agent = new HttpsProxyAgent(proxy.includes('://') ? proxy : `http://${proxy}`);
    agents.set(proxy, agent);
  }
  return agent;
}
