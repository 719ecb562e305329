/**
 * Reads the rc.2 bundle (`application/vnd.margo.bundle.v1+tar+gzip`: `<deploymentId>.yaml` at the
 * archive root) into memory, never onto disk. Only what a bundle may hold is accepted: regular
 * files with a plain `<id>.yaml` name at the root, each once, header checksums right, sizes within
 * the archive, and the whole inflated size bounded (a gzip bomb stops at the bound). Anything else
 * refuses the whole bundle: an archive is not partly trusted.
 */
import { gunzipSync } from 'node:zlib';
import { MargoError } from '@margo-gitops/spec';

/** Largest inflated bundle accepted (deployment documents are a few KB each). */
export const MAX_BUNDLE_BYTES = 32 * 1024 * 1024;
const BLOCK = 512;
const NAME = /^[A-Za-z0-9._~-]{1,253}\.yaml$/;

function refuse(message: string): MargoError {
  return new MargoError('AGENT_API_ANSWER_INVALID', `bundle: ${message}`);
}

function field(h: Buffer, off: number, len: number): string {
  const s = h.subarray(off, off + len).toString('utf8');
  const nul = s.indexOf('\0');
  return nul === -1 ? s : s.slice(0, nul);
}

function octal(h: Buffer, off: number, len: number, what: string): number {
  const t = field(h, off, len).trim();
  if (!/^[0-7]{1,12}$/.test(t)) throw refuse(`${what} is not an octal number`);
  return parseInt(t, 8);
}

/** Inflates and reads a bundle: document bytes by deploymentId (the name without `.yaml`). */
export function readBundle(tgz: Buffer, maxBytes = MAX_BUNDLE_BYTES): Map<string, Buffer> {
  let tar: Buffer;
  try {
    tar = gunzipSync(tgz, { maxOutputLength: maxBytes });
  } catch (e) {
    throw refuse(`not a gzip stream within ${maxBytes} bytes (${(e as Error).message})`);
  }
  const out = new Map<string, Buffer>();
  let off = 0;
  for (;;) {
    if (off + BLOCK > tar.length) throw refuse('truncated (no end-of-archive blocks)');
    const h = tar.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) break;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
    if (octal(h, 148, 8, 'checksum') !== sum) throw refuse(`header checksum wrong at offset ${off}`);
    const type = field(h, 156, 1);
    const prefix = field(h, 345, 155);
    const name = field(h, 0, 100);
    if (type !== '0' && type !== '')
      throw refuse(
        `entry ${JSON.stringify(name.slice(0, 100))} is not a regular file (type ${JSON.stringify(type)})`,
      );
    if (prefix || !NAME.test(name))
      throw refuse(`entry ${JSON.stringify((prefix + name).slice(0, 200))} is not <id>.yaml at the root`);
    const size = octal(h, 124, 12, 'size');
    const start = off + BLOCK;
    if (start + size > tar.length) throw refuse(`entry ${name} runs past the end of the archive`);
    const id = name.slice(0, -'.yaml'.length);
    if (out.has(id)) throw refuse(`entry ${name} appears twice`);
    out.set(id, Buffer.from(tar.subarray(start, start + size)));
    off = start + Math.ceil(size / BLOCK) * BLOCK;
  }
  return out;
}
