// The one outbound call: the validated GetCallerIdentity, sent to the allowlisted STS host over
// verified TLS, through the operator's HTTPS_PROXY when one applies (a CONNECT tunnel: TLS stays
// end to end with the STS host). No redirects are followed (Node's http never does), the answer
// is capped in size and the whole exchange in time.

import * as http from 'node:http';
import * as https from 'node:https';
import { proxyAgentFor } from '../../aws/egress-proxy';
import type { StsAnswer } from './sts-response';
import { iamRefusal } from './refusals';

export const MAX_STS_RESPONSE_BYTES = 64 * 1024;

export interface ForwardOptions {
  timeoutMs: number;
  maxBytes?: number;
  /**
   * Tests only (ServerConfig.iamStsTestEndpoint): connect to this base URL instead of the STS
   * host. The Host header still names the STS host, so the signature stays valid.
   */
  testEndpoint?: string;
}

/** Checks a test endpoint setting: http(s)://host[:port] with no path, query or credentials. */
export function parseStsTestEndpoint(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`JOINERY_IAM_STS_TEST_ENDPOINT ${JSON.stringify(value)} is not a URL`);
  }
  if (!['http:', 'https:'].includes(url.protocol) || url.username || url.password || url.search || url.hash || url.pathname !== '/') {
    throw new Error(`JOINERY_IAM_STS_TEST_ENDPOINT must be http(s)://HOST[:PORT] with no path (got ${JSON.stringify(value)})`);
  }
  return url;
}

export function forwardStsRequest(req: { host: string; headers: [string, string][]; body: string }, opts: ForwardOptions): Promise<StsAnswer> {
  const maxBytes = opts.maxBytes ?? MAX_STS_RESPONSE_BYTES;
  const body = Buffer.from(req.body, 'utf8');
  // Headers go out exactly as signed (order and case), as a raw list.
  const headers: string[] = req.headers.flat();
  if (!req.headers.some(([n]) => n.toLowerCase() === 'content-length')) headers.push('Content-Length', String(body.length));

  const target = opts.testEndpoint ? parseStsTestEndpoint(opts.testEndpoint) : undefined;
  const common = { method: 'POST', path: '/', headers, agent: false as const, setHost: false };
  return new Promise<StsAnswer>((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | undefined, answer?: StsAnswer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        request.destroy();
        reject(err);
      } else resolve(answer!);
    };
    const onResponse = (res: http.IncomingMessage) => {
      const declared = Number(res.headers['content-length'] ?? 0);
      if (declared > maxBytes) return finish(iamRefusal('iam_sts_response_too_large', `the STS answer is ${declared} bytes; the limit is ${maxBytes}`));
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) return finish(iamRefusal('iam_sts_response_too_large', `the STS answer exceeds ${maxBytes} bytes`));
        chunks.push(chunk);
      });
      res.on('end', () => finish(undefined, { status: res.statusCode ?? 0, contentType: res.headers['content-type'], body: Buffer.concat(chunks) }));
      res.on('error', (e) => finish(unreachable(req.host, e)));
    };
    const request = target
      ? (target.protocol === 'https:' ? https : http).request({ ...common, hostname: target.hostname.replace(/^\[|\]$/g, ''), port: target.port || undefined }, onResponse)
      : https.request({ ...common, agent: proxyAgentFor(`https://${req.host}/`) ?? false, hostname: req.host, port: 443, servername: req.host, rejectUnauthorized: true }, onResponse);
    const timer = setTimeout(() => finish(iamRefusal('iam_sts_unreachable', `STS (${req.host}) did not answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    request.on('error', (e) => finish(unreachable(req.host, e)));
    request.end(body);
  });
}

function unreachable(host: string, e: Error): Error {
  const code = (e as NodeJS.ErrnoException).code;
  return iamRefusal('iam_sts_unreachable', `STS (${host}) could not be reached${code ? ` (${code})` : ''}`);
}
