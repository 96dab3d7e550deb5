// The HTTP handler of the server's own AWS SDK clients (EC2, STS, Organizations): the SDK's Node
// handler, through the egress proxy for the hosts HTTPS_PROXY / NO_PROXY send there and directly
// for the rest. The choice is made per request, from the host the SDK has resolved (its partition
// rules, FIPS, AWS_ENDPOINT_URL_*), so that no endpoint rule is repeated here.

import type { Agent } from 'node:http';
import { Transform, pipeline, type Readable } from 'node:stream';
import { NodeHttpHandler, type NodeHttpHandlerOptions } from '@smithy/node-http-handler';
import { proxyAgentFor } from './egress-proxy';

type Request = Parameters<NodeHttpHandler['handle']>[0];
type RequestOptions = Parameters<NodeHttpHandler['handle']>[1];
type Answer = Awaited<ReturnType<NodeHttpHandler['handle']>>;

export interface AwsRequestHandlerOptions {
  connectionTimeout: number;
  requestTimeout: number;
  /** Answers longer than this fail with ResponseTooLarge instead of being read into memory. */
  maxResponseBytes?: number;
}

/** The URL whose proxy settings apply to a request (the host and port the SDK will connect to). */
function targetUrl(request: Request): string {
  return `${request.protocol}//${request.hostname}${request.port ? `:${request.port}` : ''}/`;
}

export class AwsRequestHandler {
  readonly metadata = { handlerProtocol: 'http/1.1' };
  private readonly settings: NodeHttpHandlerOptions;
  private direct?: NodeHttpHandler;
  private readonly proxied = new Map<Agent, NodeHttpHandler>();

  constructor(private readonly opts: AwsRequestHandlerOptions) {
    this.settings = { connectionTimeout: opts.connectionTimeout, requestTimeout: opts.requestTimeout };
  }

  /** The CONNECT agent a request to `url` goes through, or undefined when it goes directly. */
  proxyAgentFor(url: string): Agent | undefined {
    // HTTP_PROXY is not honoured: AWS endpoints are HTTPS; plain http is a local stand-in.
    return url.startsWith('https:') ? proxyAgentFor(url) : undefined;
  }

  private handlerFor(request: Request): NodeHttpHandler {
    const agent = this.proxyAgentFor(targetUrl(request));
    if (!agent) return (this.direct ??= new NodeHttpHandler(this.settings));
    let handler = this.proxied.get(agent);
    if (!handler) this.proxied.set(agent, (handler = new NodeHttpHandler({ ...this.settings, httpsAgent: agent as NodeHttpHandlerOptions['httpsAgent'] })));
    return handler;
  }

  async handle(request: Request, options?: RequestOptions): Promise<Answer> {
    const answer = await this.handlerFor(request).handle(request, options);
    const max = this.opts.maxResponseBytes;
    const body = answer.response.body as Readable | undefined;
    if (max !== undefined && body && typeof body.pipe === 'function') answer.response.body = bounded(body, max);
    return answer;
  }

  updateHttpClientConfig(key: keyof NodeHttpHandlerOptions, value: NodeHttpHandlerOptions[typeof key]): void {
    (this.settings as Record<string, unknown>)[key] = value;
    this.direct?.updateHttpClientConfig(key, value);
    for (const h of this.proxied.values()) h.updateHttpClientConfig(key, value);
  }

  httpHandlerConfigs(): NodeHttpHandlerOptions {
    return { ...this.settings };
  }

  destroy(): void {
    // The proxy agents are shared by every client (egress-proxy.ts): destroying them here would
    // cut other clients' requests. They keep no idle sockets, so only the direct one is closed.
    this.direct?.destroy();
    this.direct = undefined;
    this.proxied.clear();
  }
}

function bounded(body: Readable, max: number): Readable {
  let size = 0;
  const limit = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      size += chunk.length;
      if (size > max) done(Object.assign(new Error(`the answer is larger than ${max} bytes`), { name: 'ResponseTooLarge' }));
      else done(null, chunk);
    },
  });
  // An oversized answer also destroys the socket it came on.
  return pipeline(body, limit, () => undefined);
}

/** A handler for one SDK client (connection and request timeouts in ms). */
export function awsRequestHandler(opts: AwsRequestHandlerOptions): AwsRequestHandler {
  return new AwsRequestHandler(opts);
}
