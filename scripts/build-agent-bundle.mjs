// Bundles the device agent (`margo-agent`, packages/agent/src/device-main.ts) into one ES module
// plus lazily loaded chunks under packages/agent/dist/bundle/. Devices run this file with node
// alone: no node_modules, and about 20 MB less resident memory than the unbundled packages, since
// only the code the agent reaches is parsed (minified, tree-shaken). Chunks hold what only some
// devices load: Helm and the Kubernetes client, OpenPGP, enrolment. Run after `tsc -b`.
import { build } from 'esbuild';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}packages/agent/dist/bundle`;

/** isomorphic-git's `pako` becomes scripts/agent-bundle/pako-native.cjs (zlib for whole buffers). */
const nativeZlibForIsomorphicGit = {
  name: 'pako-native',
  setup(b) {
    b.onResolve({ filter: /^pako$/ }, (args) =>
      /[\\/]isomorphic-git[\\/]/.test(args.importer)
        ? { path: `${root}scripts/agent-bundle/pako-native.cjs` }
        : undefined,
    );
  },
};

const result = await build({
  absWorkingDir: root,
  entryPoints: { 'margo-agent': './packages/agent/dist/device-main.js' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  sourcemap: 'linked',
  legalComments: 'linked',
  metafile: true,
  chunkNames: 'chunks/[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  // CommonJS dependencies call require() for node built-ins; an ES module has none of its own.
  banner: {
    js: "import { createRequire as __margoRequire } from 'node:module'; const require = __margoRequire(import.meta.url);",
  },
  // isomorphic-git deflates each object it writes through the web CompressionStream when the
  // runtime has one; wrapping the result in a web Response then loads Node's whole fetch stack
  // (undici, web streams, http2: about 8 MB resident) for every status commit. Without the
  // global it uses pako, which it already loads for inflating. Nothing else in the agent uses it.
  define: { CompressionStream: 'undefined' },
  plugins: [nativeZlibForIsomorphicGit],
  logLevel: 'warning',
});
writeFileSync(`${outdir}/meta.json`, JSON.stringify(result.metafile));
