import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

/**
 * The request body, gunzipped in Node when sent gzip (so a corrupt body is a 400, not a git
 * failure); undefined for an encoding other than gzip or identity (the body is drained).
 */
export function decodedBody(req: IncomingMessage): Readable | undefined {
  const encoding = (req.headers['content-encoding'] ?? '').toLowerCase();
  if (encoding === 'gzip' || encoding === 'x-gzip') {
    const gunzip = createGunzip();
    req.on('error', (e) => gunzip.destroy(e));
    return req.pipe(gunzip);
  }
  if (encoding && encoding !== 'identity') {
    req.resume();
    return undefined;
  }
  return req;
}

/** The whole stream, or why not: a stream error (corrupt gzip) or more than `max` bytes. */
export function readAtMost(body: Readable, max: number): Promise<Buffer | 'corrupt' | 'too-large'> {
  return new Promise((resolveRead) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        body.destroy();
        resolveRead('too-large');
      } else chunks.push(c);
    });
    body.on('error', () => resolveRead('corrupt'));
    body.on('end', () => resolveRead(Buffer.concat(chunks)));
  });
}
