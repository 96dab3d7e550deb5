// Request bodies: JSON everywhere; token endpoints also take YAML (one document). Anything else
// is 415; oversized bodies are 413 (body-parser's limit). Bodies are read as bytes and decoded
// and parsed strictly (schema/strict-documents.ts): invalid UTF-8, duplicate keys and YAML tags
// outside the core schema are refused with 400 rather than silently repaired.

import express, { type RequestHandler } from 'express';
import { decodeUtf8Strict, DocumentError, parseJsonStrict, parseYamlStrict } from '../../schema/strict-documents';
import { HttpError } from './errors';

export const BODY_LIMIT = '256kb';
/**
 * YAML costs about 10 µs per element to parse, JSON a hundred times less. A token needs a few
 * dozen elements; the largest the schema allows (256 rules of 64 regions) about 17,000. Beyond
 * this the body is refused before parsing, so that it cannot hold the event loop for seconds.
 */
export const MAX_YAML_SEPARATORS = 20_000;

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

const raw = express.raw({ limit: BODY_LIMIT, type: () => true });

function mediaType(header: string | undefined): { type: string; charset?: string } {
  const [type, ...params] = (header ?? '').split(';');
  const charset = params.map((p) => /^\s*charset\s*=\s*"?([^";\s]*)"?\s*$/i.exec(p)?.[1]).find((c) => c !== undefined);
  return { type: type.trim().toLowerCase(), charset: charset?.toLowerCase() };
}

function countSeparators(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2c || c === 0x0a) n++; // ',' and newline: one per flow or block element
  }
  return n;
}

function toHttp(e: unknown, kind: 'JSON' | 'YAML'): HttpError {
  if (e instanceof DocumentError) {
    const message = e.code === 'invalid_json' || e.code === 'invalid_yaml' ? `request body is ${e.message}` : e.message;
    return new HttpError(400, e.code, message, e.field);
  }
  return new HttpError(400, kind === 'JSON' ? 'invalid_json' : 'invalid_yaml', `request body is not valid ${kind}: ${(e as Error).message.split('\n')[0]}`);
}

function parse(bytes: Buffer, yaml: boolean): unknown {
  const text = decodeUtf8Strict(bytes);
  if (!yaml) return parseJsonStrict(text);
  if (countSeparators(text) > MAX_YAML_SEPARATORS) {
    throw new HttpError(400, 'too_many_elements', `YAML body has more than ${MAX_YAML_SEPARATORS} elements (lines or list items); no token needs that many`);
  }
  const docs = parseYamlStrict(text);
  if (docs.length !== 1) throw new HttpError(400, 'invalid_yaml', `expected exactly one YAML document, got ${docs.length}`);
  return docs[0].value;
}

/** Parses JSON (and YAML when allowed) into req.body; refuses other media types with 415. */
export function parseBody(opts: { yaml: boolean }): RequestHandler {
  return (req, res, next) => {
    const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
    if (!hasBody) {
      req.body = undefined;
      return next();
    }
    const { type, charset } = mediaType(req.headers['content-type']);
    const isJson = type === 'application/json' || type.endsWith('+json');
    const isYaml = opts.yaml && YAML_TYPES.includes(type);
    if (!isJson && !isYaml) {
      return next(new HttpError(415, 'unsupported_media_type', `Content-Type ${type || '(none)'} is not supported; send application/json${opts.yaml ? ' or application/yaml' : ''}`));
    }
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
      return next(new HttpError(415, 'unsupported_encoding', `charset ${JSON.stringify(charset.slice(0, 40))} is not supported; send UTF-8`));
    }
    raw(req, res, (err?: unknown) => {
      if (err) return next(err);
      const bytes = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      try {
        req.body = bytes.length === 0 ? undefined : parse(bytes, isYaml);
      } catch (e) {
        return next(e instanceof HttpError ? e : toHttp(e, isYaml ? 'YAML' : 'JSON'));
      }
      next();
    });
  };
}
