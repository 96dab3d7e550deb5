#!/usr/bin/env node
// Rewrites the refusal-code tables in docs/*.md from the one registry (api/join/refusals.ts):
// every table between `<!-- refusal-codes:SCOPE -->` and `<!-- /refusal-codes -->`, and the whole
// of docs/refusals.md (a section per registered join method).
// Run after `npm run build`; test/conformance/refusal-docs.test.ts fails while a table differs.

const fs = require('node:fs');
const path = require('node:path');
const { refusalTable } = require('../dist/api/join/refusals');
const { refusalReference } = require('../dist/api/join/refusal-reference');

const MARKED = /(<!-- refusal-codes:([a-z0-9]+) -->)[\s\S]*?(<!-- \/refusal-codes -->)/g;
const docs = path.join(__dirname, '..', 'docs');
for (const name of fs.readdirSync(docs).filter((f) => f.endsWith('.md'))) {
  const file = path.join(docs, name);
  const text = fs.readFileSync(file, 'utf8');
  const next = text.replace(MARKED, (_m, open, scope, close) => `${open}\n${refusalTable(scope)}\n${close}`);
  if (next !== text) {
    fs.writeFileSync(file, next);
    process.stdout.write(`updated ${path.relative(process.cwd(), file)}\n`);
  }
}

const reference = path.join(docs, 'refusals.md');
const text = refusalReference();
if (!fs.existsSync(reference) || fs.readFileSync(reference, 'utf8') !== text) {
  fs.writeFileSync(reference, text);
  process.stdout.write(`updated ${path.relative(process.cwd(), reference)}\n`);
}
