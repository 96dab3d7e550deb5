// Every error leaves the API as {"error": {"code", "message", "field"?}} with a fitting status.

import type { ErrorRequestHandler } from 'express';
import type { Logger } from 'pino';
import { DocumentError } from '../../schema/strict-documents';
import { CaSigningError } from '../ca/signers/signer';
import { TokenValidationError } from '../../schema/token';
import { JoinError } from '../join/errors';
import { AlreadyExistsError, ConflictError, NotFoundError } from '../store/types';

export class HttpError extends Error {
  constructor(
    public readonly status: number,
    public readonly code: string,
    message: string,
    public readonly field?: string,
  ) {
    super(message);
  }
}

export interface ErrorBody {
  error: { code: string; message: string; field?: string; details?: unknown };
}

/** Maps a thrown error to its HTTP status and body; unknown errors are 500 with no internals. */
export function toHttpError(err: unknown): { status: number; body: ErrorBody } {
  if (err instanceof HttpError) return { status: err.status, body: { error: { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) } } };
  if (err instanceof TokenValidationError) {
    return { status: 400, body: { error: { code: 'invalid_token', message: err.message, field: err.field, details: err.errors } } };
  }
  if (err instanceof DocumentError) return { status: 400, body: { error: { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) } } };
  // The router's decodeURIComponent of a path parameter: malformed percent-encoding is the
  // client's mistake. The message names no value (a token name in a path can be a secret).
  if (err instanceof URIError) return { status: 400, body: { error: { code: 'invalid_path', message: 'the URL path holds malformed percent-encoding' } } };
  if (err instanceof JoinError) return { status: err.status, body: { error: { code: err.code, message: err.message } } };
  if (err instanceof AlreadyExistsError) return { status: 409, body: { error: { code: 'already_exists', message: err.message } } };
  if (err instanceof NotFoundError) return { status: 404, body: { error: { code: 'not_found', message: err.message } } };
  if (err instanceof ConflictError) return { status: 409, body: { error: { code: 'revision_conflict', message: err.message, field: 'metadata.revision' } } };
  // The CA's key service failed (the log has its message, which names the key): not the client's fault, and passing.
  if (err instanceof CaSigningError) return { status: 503, body: { error: { code: 'ca_unavailable', message: "the cluster CA's key service could not sign; nothing was issued or used up: try again shortly (the server's log says why)" } } };
  const e = err as { type?: string; status?: number; expose?: boolean; message?: string };
  // body-parser errors
  if (e?.type === 'entity.too.large') return { status: 413, body: { error: { code: 'body_too_large', message: 'request body is too large' } } };
  if (e?.type === 'entity.parse.failed') return { status: 400, body: { error: { code: 'invalid_json', message: `request body is not valid JSON: ${e.message}` } } };
  if (e?.type === 'charset.unsupported' || e?.type === 'encoding.unsupported') return { status: 415, body: { error: { code: 'unsupported_encoding', message: e.message ?? 'unsupported encoding' } } };
  // Any other error that says it is the client's (http-errors style): a 4xx, with its message
  // only when it is meant to be shown.
  if (typeof e?.status === 'number' && Number.isInteger(e.status) && e.status >= 400 && e.status < 500) {
    return { status: e.status, body: { error: { code: 'bad_request', message: e.expose ? e.message ?? 'bad request' : 'bad request' } } };
  }
  return { status: 500, body: { error: { code: 'internal', message: 'internal server error' } } };
}

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const { status, body } = toHttpError(err);
    if (status >= 500) log.error({ err, reqId: req.id }, 'request failed');
    if (res.headersSent) return;
    res.status(status).json(body);
  };
}
