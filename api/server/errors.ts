// Every error leaves the API as {"error": {"code", "message", "field"?}} with a fitting status.

import type { ErrorRequestHandler } from 'express';
import type { Logger } from 'pino';
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
  if (err instanceof JoinError) return { status: err.status, body: { error: { code: err.code, message: err.message } } };
  if (err instanceof AlreadyExistsError) return { status: 409, body: { error: { code: 'already_exists', message: err.message } } };
  if (err instanceof NotFoundError) return { status: 404, body: { error: { code: 'not_found', message: err.message } } };
  if (err instanceof ConflictError) return { status: 409, body: { error: { code: 'revision_conflict', message: err.message, field: 'metadata.revision' } } };
  const e = err as { type?: string; status?: number; expose?: boolean; message?: string };
  // body-parser errors
  if (e?.type === 'entity.too.large') return { status: 413, body: { error: { code: 'body_too_large', message: 'request body is too large' } } };
  if (e?.type === 'entity.parse.failed') return { status: 400, body: { error: { code: 'invalid_json', message: `request body is not valid JSON: ${e.message}` } } };
  if (e?.type === 'charset.unsupported' || e?.type === 'encoding.unsupported') return { status: 415, body: { error: { code: 'unsupported_encoding', message: e.message ?? 'unsupported encoding' } } };
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500 && e.expose) {
    return { status: e.status, body: { error: { code: 'bad_request', message: e.message ?? 'bad request' } } };
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
