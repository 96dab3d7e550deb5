// Requests Node's HTTP parser refuses before Express sees them (conflicting Content-Length and
// Transfer-Encoding, oversized headers, bad chunking, a header timeout). Node's own answer is a
// bare status line; here they get the API's JSON error shape like every other bad request.

import type { Duplex } from 'node:stream';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { RESPONSE_HEADERS } from './response-headers';

interface ParserError extends Error {
  code?: string;
}

/** Status and error code for a parser error code; everything not listed is a plain 400. */
const BY_CODE: Record<string, [number, string, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'headers_too_large', 'request headers are too large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'request_timeout', 'the request was not received in time'],
  HPE_UNEXPECTED_CONTENT_LENGTH: [400, 'bad_request', 'Content-Length and Transfer-Encoding must not both be sent'],
  HPE_INVALID_TRANSFER_ENCODING: [400, 'bad_request', 'Transfer-Encoding is not valid'],
  HPE_INVALID_CONTENT_LENGTH: [400, 'bad_request', 'Content-Length is not valid'],
  HPE_INVALID_CHUNK_SIZE: [400, 'bad_request', 'chunked body has an invalid chunk size'],
  HPE_INVALID_METHOD: [400, 'bad_request', 'the request method is not valid'],
  HPE_INVALID_URL: [400, 'bad_request', 'the request URL is not valid'],
  HPE_INVALID_HEADER_TOKEN: [400, 'bad_request', 'a request header is not valid'],
};

const errorBody = (code: string, message: string) => JSON.stringify({ error: { code, message } });

/** The raw HTTP/1.1 response written for a parser error, closing the connection. */
export function clientErrorResponse(code: string | undefined): string {
  const [status, errorCode, message] = BY_CODE[code ?? ''] ?? [400, 'bad_request', 'the request is not valid HTTP/1.1'];
  return rawErrorResponse(status, errorCode, message);
}

/**
 * An error answer in the API's JSON shape, with the headers every answer carries, written
 * straight to a socket that Express never saw (parser errors, TLS-layer refusals); it closes the
 * connection.
 */
export function rawErrorResponse(status: number, code: string, message: string): string {
  const body = errorBody(code, message);
  return [
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
    'Content-Type: application/json; charset=utf-8',
    ...RESPONSE_HEADERS.map(([name, value]) => `${name}: ${value}`),
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

/** The server's 'clientError' listener. */
export function clientErrorHandler(log: Logger): (err: ParserError, socket: Duplex) => void {
  return (err, socket) => {
    // A reset connection has no one to answer; a response already under way must not be
    // interleaved with another (Node's own handler makes the same checks).
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    // The HTTPS server passes TLS failures here too (a handshake timeout, a ClientHello it cannot
    // read): there is no HTTP conversation to answer, and a plaintext answer on a half-made TLS
    // socket would hold it open for the grace period below.
    const tlsFailure = /^ERR_(TLS|SSL)_/.test(err.code ?? '');
    if (err.code === 'ECONNRESET' || tlsFailure || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    log.info({ code: err.code, remote: (socket as Duplex & { remoteAddress?: string }).remoteAddress }, 'request refused by the HTTP parser');
    socket.end(clientErrorResponse(err.code));
    // end() flushes; if the peer never reads, do not hold the socket open forever.
    setTimeout(() => socket.destroy(), 5_000).unref();
  };
}

/**
 * The server's 'checkExpectation' listener: an Expect header other than 100-continue. Node's own
 * answer is a bare 417 with none of the API's headers; this is the same refusal in the API's shape.
 */
export function expectationFailed(req: IncomingMessage, res: ServerResponse): void {
  const body = errorBody('expectation_failed', 'the only Expect this server meets is 100-continue');
  res.writeHead(417, [...RESPONSE_HEADERS.flat(), 'Content-Type', 'application/json; charset=utf-8', 'Content-Length', String(Buffer.byteLength(body)), 'Connection', 'close']);
  res.end(body);
  req.resume();
}
