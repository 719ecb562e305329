// Builds the operator console (packages/console/src/main.tsx, a Preact app) into
// packages/console/dist/: assets/ with content-hashed names (served with long cache headers by
// `margo serve` under /ui/assets/) and index.html naming them. No inline script or style, so the
// console runs under the server's Content-Security-Policy (default-src 'self'). Run after `tsc -b`
// (which type-checks the console; esbuild only strips types).
import { build } from 'esbuild';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = `${root}packages/console`;
const outdir = `${pkg}/dist/assets`;

rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });
const result = await build({
  absWorkingDir: pkg,
  entryPoints: { app: './src/main.tsx' },
  outdir,
  bundle: true,
  format: 'esm',
  splitting: true,
  chunkNames: '[name]-[hash]',
  platform: 'browser',
  target: ['chrome110', 'firefox110', 'safari16'],
  minify: true,
  sourcemap: 'linked',
  legalComments: 'linked',
  metafile: true,
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
});
const outputs = Object.keys(result.metafile.outputs).map((p) => basename(p));
const js = outputs.find((f) => /^app-.*\.js$/.test(f));
const css = outputs.find((f) => /^app-.*\.css$/.test(f));
if (!js || !css) throw new Error(`build-console: missing app bundle in ${outputs.join(', ')}`);
const html = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <meta name="color-scheme" content="light dark" />
    <title>margo console</title>
    <link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Cpath d='M8 0l7 4v8l-7 4-7-4V4z' fill='%230b6e75'/%3E%3C/svg%3E" />
    <link rel="stylesheet" href="/ui/assets/${css}" />
    <script type="module" src="/ui/assets/${js}"></script>
  </head>
  <body>
    <div id="app"></div>
    <noscript>The margo console needs JavaScript. The same data is available with <code>margo status</code>.</noscript>
  </body>
</html>
`;
writeFileSync(`${pkg}/dist/index.html`, html);
writeFileSync(`${pkg}/dist/meta.json`, JSON.stringify(result.metafile));
