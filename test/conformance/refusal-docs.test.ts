// The refusal codes exist in one registry (api/join/refusals.ts); the docs' tables, the OpenAPI
// document and every code the server gives follow it.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { joinMethodModules } from '../../api/join/methods';
import { refusalReference } from '../../api/join/refusal-reference';
import { REFUSALS, refusalTable, refusalsFor, type RefusalScope } from '../../api/join/refusals';
import { openApiDocument } from '../../api/server/openapi';

const root = path.join(__dirname, '..', '..');
const read = (file: string) => fs.readFileSync(path.join(root, file), 'utf8');

test.each([
  ['docs/ec2.md', 'ec2'],
  ['docs/iam.md', 'iam'],
  ['docs/lifecycle.md', 'renew'],
] as [string, RefusalScope][])('%s carries the %s table exactly as the registry makes it (npm run docs:refusals)', (file, scope) => {
  const m = new RegExp(`<!-- refusal-codes:${scope} -->\\n([\\s\\S]*?)\\n<!-- /refusal-codes -->`).exec(read(file));
  expect(m).not.toBeNull();
  expect(m![1]).toBe(refusalTable(scope));
});

test('docs/refusals.md is the reference the registry makes, a section per join method (npm run docs:refusals)', () => {
  expect(read('docs/refusals.md')).toBe(refusalReference());
});

test('every code in a docs table or in the README is registered, with the status the registry gives', () => {
  for (const file of ['README.md', ...fs.readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]) {
    for (const m of read(file).matchAll(/^\| `([a-z0-9_]+)` \| (\d{3}) \|/gm)) {
      expect({ file, code: m[1], status: (REFUSALS as Record<string, { status: number }>)[m[1]]?.status }).toEqual({ file, code: m[1], status: Number(m[2]) });
    }
  }
});

test('the OpenAPI document lists each method\'s codes from the registry', () => {
  const doc = openApiDocument('test') as unknown as { paths: Record<string, { post: { 'x-refusal-codes': Record<string, unknown> } }>; 'x-refusal-codes': Record<string, unknown> };
  for (const { method } of joinMethodModules()) {
    expect(doc.paths[`/v1/join/${method}`].post['x-refusal-codes']).toEqual(refusalsFor(method));
  }
  expect(doc.paths['/v1/renew'].post['x-refusal-codes']).toEqual(refusalsFor('renew'));
});

test('every registered code has a status, a meaning and something to do, and belongs somewhere', () => {
  for (const [code, r] of Object.entries(REFUSALS)) {
    expect(code).toMatch(/^[a-z0-9_]+$/);
    expect([400, 401, 403, 409, 429]).toContain(r.status);
    expect(r.meaning.length).toBeGreaterThan(10);
    expect(r.action.length).toBeGreaterThan(5);
    expect(r.scopes.length).toBeGreaterThan(0);
  }
});
