#!/usr/bin/env node
// Builds the web console (console/) into dist/console/: index.html, app.js (Preact and the pages,
// one minified ES module bundled by esbuild) and app.css. `npm run build` runs it after tsc; the
// server serves what it finds there. Nothing is fetched at run time: no CDN, no fonts.
const fs = require('node:fs');
const path = require('node:path');
const esbuild = require('esbuild');

const root = path.resolve(__dirname, '..');
const out = path.join(root, 'dist', 'console');

function build() {
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  esbuild.buildSync({
    entryPoints: [path.join(root, 'console', 'src', 'main.tsx')],
    outfile: path.join(out, 'app.js'),
    bundle: true,
    format: 'esm',
    minify: true,
    target: ['chrome110', 'firefox110', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    tsconfig: path.join(root, 'console', 'tsconfig.json'),
    legalComments: 'none',
    // The shared schema modules are plain functions; nothing of Node's may reach the browser.
    platform: 'browser',
    logLevel: 'warning',
  });
  for (const f of ['index.html', 'app.css']) fs.copyFileSync(path.join(root, 'console', f), path.join(out, f));
}

if (require.main === module) build();
module.exports = { build };
