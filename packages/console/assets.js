// Node entry of @margo-gitops/console: where the built console (index.html + assets/) lives, for
// `margo serve` to answer /ui and /ui/assets/* from. Built by scripts/build-console.mjs.
import { fileURLToPath } from 'node:url';

/** Absolute path of the console's dist folder (index.html and assets/). */
export function consoleAssetsDir() {
  return fileURLToPath(new URL('./dist/', import.meta.url)).replace(/[\\/]$/, '');
}
