// Request bodies: JSON everywhere; token endpoints also take YAML (one document). Anything else
// is 415; oversized bodies are 413 (body-parser's limit).

import express, { type RequestHandler } from 'express';
import * as YAML from 'yaml';
import { HttpError } from './errors';

export const BODY_LIMIT = '256kb';

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

const json = express.json({ limit: BODY_LIMIT, strict: false, type: () => true });
const text = express.text({ limit: BODY_LIMIT, type: () => true });

function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0].trim().toLowerCase();
}

/** Parses JSON (and YAML when allowed) into req.body; refuses other media types with 415. */
export function parseBody(opts: { yaml: boolean }): RequestHandler {
  return (req, res, next) => {
    const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
    if (!hasBody) {
      req.body = undefined;
      return next();
    }
    const type = mediaType(req.headers['content-type']);
    if (type === 'application/json' || type.endsWith('+json')) return json(req, res, next);
    if (opts.yaml && YAML_TYPES.includes(type)) {
      return text(req, res, (err?: unknown) => {
        if (err) return next(err);
        try {
          const docs = YAML.parseAllDocuments(String(req.body ?? ''), { prettyErrors: true });
          const real = docs.filter((d) => d.contents !== null);
          if (real.length !== 1) return next(new HttpError(400, 'invalid_yaml', `expected exactly one YAML document, got ${real.length}`));
          if (real[0].errors.length) return next(new HttpError(400, 'invalid_yaml', `request body is not valid YAML: ${real[0].errors[0].message}`));
          req.body = real[0].toJS({ maxAliasCount: 100 });
          next();
        } catch (e) {
          next(new HttpError(400, 'invalid_yaml', `request body is not valid YAML: ${(e as Error).message}`));
        }
      });
    }
    next(new HttpError(415, 'unsupported_media_type', `Content-Type ${type || '(none)'} is not supported; send application/json${opts.yaml ? ' or application/yaml' : ''}`));
  };
}
