// A tiny local STS stand-in for answer shapes real STS (or moto) will not produce on demand:
// errors, throttling, junk, two results. It records every request it receives, so tests can
// also assert that a refused join never reached it.

import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeStsAnswer {
  status: number;
  contentType?: string;
  body: string;
  /** Accept the request and never answer (for timeouts). */
  hang?: boolean;
}

export interface RecordedRequest {
  method: string;
  url: string;
  rawHeaders: [string, string][];
  body: string;
}

export interface FakeSts {
  /** Base URL for JOINERY_IAM_STS_TEST_ENDPOINT. */
  url: string;
  requests: RecordedRequest[];
  /** What the next requests get. */
  answer: FakeStsAnswer;
  stop(): Promise<void>;
}

export function callerIdentityXml(account: string, arn: string): string {
  return (
    `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>` +
    `<Arn>${arn}</Arn><UserId>AIDAFAKE</UserId><Account>${account}</Account></GetCallerIdentityResult>` +
    `<ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></GetCallerIdentityResponse>`
  );
}

export function callerIdentityJson(account: string, arn: string): string {
  return JSON.stringify({ GetCallerIdentityResponse: { GetCallerIdentityResult: { Account: account, Arn: arn, UserId: 'AIDAFAKE' }, ResponseMetadata: { RequestId: 'fake' } } });
}

export async function startFakeSts(initial: FakeStsAnswer): Promise<FakeSts> {
  const requests: RecordedRequest[] = [];
  const fake = { answer: initial } as FakeSts;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rawHeaders: [string, string][] = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) rawHeaders.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
      requests.push({ method: req.method ?? '', url: req.url ?? '', rawHeaders, body: Buffer.concat(chunks).toString('utf8') });
      const { status, contentType, body, hang } = fake.answer;
      if (hang) return;
      res.writeHead(status, contentType ? { 'Content-Type': contentType } : {});
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.requests = requests;
  fake.stop = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return fake;
}
