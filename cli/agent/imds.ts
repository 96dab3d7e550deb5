// A minimal IMDSv2 client: a session token first (PUT), then reads with that token. Only what the
// EC2 join needs. AWS_EC2_METADATA_SERVICE_ENDPOINT overrides the address, as in the AWS SDKs.

export const DEFAULT_IMDS_ENDPOINT = 'http://169.254.169.254';
const TOKEN_TTL_SECONDS = 300;
const TIMEOUT_MS = 5_000;

export class ImdsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImdsError';
  }
}

export class ImdsClient {
  readonly endpoint: string;
  private token?: string;

  constructor(endpoint?: string) {
    this.endpoint = (endpoint || DEFAULT_IMDS_ENDPOINT).replace(/\/+$/, '');
    if (!/^https?:\/\/[^/]+$/.test(this.endpoint)) {
      throw new ImdsError(`AWS_EC2_METADATA_SERVICE_ENDPOINT must be an http(s) URL such as http://169.254.169.254 (got ${JSON.stringify(endpoint)})`);
    }
  }

  static fromEnv(env: NodeJS.ProcessEnv = process.env): ImdsClient {
    return new ImdsClient(env.AWS_EC2_METADATA_SERVICE_ENDPOINT);
  }

  private async request(method: 'GET' | 'PUT', path: string, headers: Record<string, string>): Promise<string> {
    let res: Response;
    try {
      res = await fetch(`${this.endpoint}${path}`, { method, headers, signal: AbortSignal.timeout(TIMEOUT_MS) });
    } catch (e) {
      throw new ImdsError(`cannot reach the EC2 instance metadata service at ${this.endpoint} (${(e as Error).message}); the ec2 join method only works on an EC2 instance with IMDSv2 reachable`);
    }
    const text = await res.text();
    if (!res.ok) throw new ImdsError(`instance metadata ${method} ${path} answered ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`);
    return text;
  }

  private async sessionToken(): Promise<string> {
    if (!this.token) {
      this.token = (await this.request('PUT', '/latest/api/token', { 'X-aws-ec2-metadata-token-ttl-seconds': String(TOKEN_TTL_SECONDS) })).trim();
      if (!this.token) throw new ImdsError('the instance metadata service returned an empty session token');
    }
    return this.token;
  }

  async get(path: string): Promise<string> {
    return this.request('GET', path, { 'X-aws-ec2-metadata-token': await this.sessionToken() });
  }
}
