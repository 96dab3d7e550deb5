// Headers every answer of the server carries, whoever writes it: Express (successes, errors,
// 404s) and the HTTP parser error answers written on the raw socket (client-error.ts).
//
// Cache-Control: no-store on everything, not only on the routes known today to carry a
// token-method secret (token reads, lists and creates, join answers): a route added later is
// covered without anyone remembering, and nothing the API serves is worth a cache's copy (status
// and health are live, /metrics is scraped fresh). A route may set a weaker policy for a public
// document: GET /v1/crl says `public, max-age=60` with an ETag (relying services poll it
// cheaply; a revocation reaches them within a minute).
// X-Content-Type-Options: nosniff so no browser reads a JSON error quoting input as HTML.

import type { RequestHandler } from 'express';

export const RESPONSE_HEADERS: readonly (readonly [string, string])[] = [
  ['Cache-Control', 'no-store'],
  ['X-Content-Type-Options', 'nosniff'],
];

export const responseHeaders: RequestHandler = (_req, res, next) => {
  for (const [name, value] of RESPONSE_HEADERS) res.setHeader(name, value);
  next();
};
