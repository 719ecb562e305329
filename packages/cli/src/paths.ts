import { fileURLToPath } from 'node:url';

/** The repository root (this file is at packages/cli/{src,dist}/paths.*). */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const reposTemplateDir = fileURLToPath(new URL('../../../repos-template/', import.meta.url));
export const examplesDir = fileURLToPath(new URL('../../../examples/', import.meta.url));

export const DEFAULT_LISTEN = '127.0.0.1:8470';

/** `host:port`, `:port` or `port` -> { host, port }. */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:(.*):)?(\d{1,5})$/.exec(listen.trim());
  if (!m || Number(m[2]) > 65535) throw new Error(`"${listen}" is not host:port`);
  const host = (m[1] ?? '').replace(/^\[|\]$/g, '') || '127.0.0.1';
  return { host, port: Number(m[2]) };
}

export function urlFor(listen: string): string {
  const { host, port } = parseListen(listen);
  const h = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `http://${h}:${port}`;
}
