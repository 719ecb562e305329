/**
 * A content-addressed cache of verified blobs on disk (`<dir>/sha256/<hex>`). A blob is copied
 * from the source into a temporary file while hashed, and moved into place only when its sha256
 * and size are right, so what the cache holds was checked once and is served from the file
 * afterwards (with Range) without reading the source again. Memory stays flat: bytes stream.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { MargoError } from '@margo-gitops/spec';

export class VerifiedBlobStore {
  private readonly inFlight = new Map<string, Promise<string>>();

  constructor(readonly dir: string) {}

  /** Where a verified blob lives once cached. */
  pathOf(digest: string): string {
    return join(this.dir, 'sha256', digest.slice('sha256:'.length));
  }

  /**
   * The path of the verified blob `digest` of `size` bytes, copying it from `open()` first when
   * it is not cached. Throws OCI_DIGEST_MISMATCH (and caches nothing) when the bytes are wrong.
   * Concurrent calls for one digest share one copy.
   */
  async ensure(digest: string, size: number, open: () => Promise<Readable>): Promise<string> {
    const path = this.pathOf(digest);
    const st = await stat(path).catch(() => undefined);
    if (st?.isFile() && st.size === size) return path;
    let p = this.inFlight.get(digest);
    if (!p) {
      p = this.copy(digest, size, open, path).finally(() => this.inFlight.delete(digest));
      this.inFlight.set(digest, p);
    }
    return p;
  }

  private async copy(
    digest: string,
    size: number,
    open: () => Promise<Readable>,
    path: string,
  ): Promise<string> {
    const tmpDir = join(this.dir, 'tmp');
    await mkdir(tmpDir, { recursive: true });
    await mkdir(join(this.dir, 'sha256'), { recursive: true });
    const tmp = join(tmpDir, `${randomBytes(8).toString('hex')}.part`);
    const hash = createHash('sha256');
    let n = 0;
    const count = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        n += chunk.length;
        cb(null, chunk);
      },
    });
    try {
      await pipeline(await open(), count, createWriteStream(tmp, { mode: 0o600 }));
      const got = `sha256:${hash.digest('hex')}`;
      if (got !== digest || n !== size)
        throw new MargoError(
          'OCI_DIGEST_MISMATCH',
          `blob ${digest} (${size} bytes) read as ${got} (${n} bytes); not served`,
        );
      await rename(tmp, path);
      return path;
    } catch (e) {
      await unlink(tmp).catch(() => {});
      throw e;
    }
  }
}
