import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MargoError } from '@margo-gitops/spec';
import { safeExtract } from './safe-extract.js';

export interface LocationOptions {
  repoFiles: Map<string, Buffer>;
  timeoutMs: number;
}

/** The device's own server and Git token: catalog downloads from that server need the token. */
let serverCredentials: { origin: string; token: string } | undefined;

/**
 * Tells downloads which server the device belongs to (the origin of its Git repository URL) and
 * its Git token. The token is sent (as a Bearer header) only to that origin, never to other
 * hosts, and redirects are then not followed (a redirect must not carry it elsewhere).
 * Called once at agent start; `undefined` forgets them.
 */
export function setServerCredentials(repoUrl: string | undefined, token: string | undefined): void {
  serverCredentials = undefined;
  if (!repoUrl || !token) return;
  try {
    serverCredentials = { origin: new URL(repoUrl).origin, token };
  } catch {
    /* not a URL (a local path): nothing to authenticate against */
  }
}

/** Authorization headers for `url` (only for the device's own server). */
export function downloadHeaders(url: string): Record<string, string> {
  if (!serverCredentials) return {};
  try {
    if (new URL(url).origin !== serverCredentials.origin) return {};
  } catch {
    return {};
  }
  return { authorization: `Bearer ${serverCredentials.token}` };
}

function withoutFragment(location: string): string {
  const i = location.indexOf('#');
  return i < 0 ? location : location.slice(0, i);
}

/** `sha256=<hex>` from a location fragment (`...pkg.tar.gz#sha256=ab12...`), if any. */
export function expectedDigest(location: string, raw: Record<string, unknown>): string | undefined {
  const m = /#sha256=([0-9a-fA-F]{64})$/.exec(location);
  if (m) return m[1]!.toLowerCase();
  const ext = raw['x-margo-gitops-extensions'];
  if (ext && typeof ext === 'object' && typeof (ext as Record<string, unknown>).sha256 === 'string') {
    return ((ext as Record<string, unknown>).sha256 as string).toLowerCase();
  }
  return undefined;
}

/** Safe text for messages: no query string or credentials. */
export function showLocation(location: string): string {
  try {
    const u = new URL(location);
    u.username = '';
    u.password = '';
    u.search = '';
    return u.toString();
  } catch {
    return location;
  }
}

/**
 * Reads a package, key or signature from `http(s)://`, `file://` or a path relative to the root of
 * the device repository (desired commit). Returns null when the location does not exist (404 or
 * missing file); throws AGENT_PACKAGE_UNREACHABLE for network errors.
 */
export async function readLocation(location: string, o: LocationOptions): Promise<Buffer | null> {
  const loc = withoutFragment(location);
  if (/^https?:\/\//i.test(loc)) {
    let res: Response;
    const headers = downloadHeaders(loc);
    try {
      res = await fetch(loc, {
        signal: AbortSignal.timeout(o.timeoutMs),
        headers,
        redirect: headers.authorization ? 'error' : 'follow',
      });
    } catch (e) {
      throw new MargoError(
        'AGENT_PACKAGE_UNREACHABLE',
        `cannot download ${showLocation(loc)}: ${(e as Error).message}`,
        { cause: e, retry: 'backoff' },
      );
    }
    if (res.status === 404 || res.status === 410) return null;
    if (!res.ok)
      throw new MargoError(
        'AGENT_PACKAGE_UNREACHABLE',
        `cannot download ${showLocation(loc)}: HTTP ${res.status}${res.status === 401 || res.status === 403 ? ' (the server refused the device token for this file)' : ''}`,
        { retry: 'backoff' },
      );
    return Buffer.from(await res.arrayBuffer());
  }
  if (/^file:/i.test(loc)) {
    const p = fileURLToPath(loc);
    return existsSync(p) && statSync(p).isFile() ? readFileSync(p) : null;
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(loc)) {
    throw new MargoError(
      'AGENT_PACKAGE_UNREACHABLE',
      `unsupported location scheme in ${showLocation(loc)} (use http, https, file or a repository path)`,
    );
  }
  const rel = posix.normalize(loc.replace(/^\.?\//, ''));
  if (rel.startsWith('..'))
    throw new MargoError('AGENT_PACKAGE_UNREACHABLE', `${loc} points outside the device repository`);
  return o.repoFiles.get(rel) ?? null;
}

/**
 * Verifies a detached OpenPGP signature (armored or binary) of `data` with the public key(s).
 * Throws AGENT_SIGNATURE_INVALID.
 */
export async function verifyDetachedSignature(
  data: Buffer,
  signature: Buffer,
  key: Buffer,
  what: string,
): Promise<void> {
  const openpgp = await import('openpgp'); // loaded only for signed packages
  try {
    const text = key.toString('utf8');
    const verificationKeys = text.includes('-----BEGIN PGP')
      ? await openpgp.readKeys({ armoredKeys: text })
      : await openpgp.readKeys({ binaryKeys: new Uint8Array(key) });
    const sigText = signature.toString('utf8');
    const sig = sigText.includes('-----BEGIN PGP')
      ? await openpgp.readSignature({ armoredSignature: sigText })
      : await openpgp.readSignature({ binarySignature: new Uint8Array(signature) });
    const message = await openpgp.createMessage({ binary: new Uint8Array(data) });
    const result = await openpgp.verify({ message, signature: sig, verificationKeys });
    if (!result.signatures.length) throw new Error('no signature found');
    await result.signatures[0]!.verified;
  } catch (e) {
    throw new MargoError(
      'AGENT_SIGNATURE_INVALID',
      `signature of ${what} does not verify: ${(e as Error).message}`,
      { cause: e },
    );
  }
}

export interface ObtainedPackage {
  bytes: Buffer;
  sha256: string;
  signed: boolean;
}

/**
 * Downloads a Compose package, checks its digest (when one is given) and its detached signature
 * (`<packageLocation>.sig`, else `.asc`) when `keyLocation` is set.
 */
export async function obtainPackage(
  packageLocation: string,
  keyLocation: string | undefined,
  raw: Record<string, unknown>,
  o: LocationOptions,
): Promise<ObtainedPackage> {
  const bytes = await readLocation(packageLocation, o);
  if (!bytes)
    throw new MargoError(
      'AGENT_PACKAGE_UNREACHABLE',
      `package not found at ${showLocation(packageLocation)}`,
      { retry: 'backoff' },
    );
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const want = expectedDigest(packageLocation, raw);
  if (want && want !== sha256) {
    throw new MargoError(
      'AGENT_CHECKSUM_MISMATCH',
      `package ${showLocation(packageLocation)} has sha256 ${sha256}, expected ${want}`,
    );
  }
  if (!keyLocation) return { bytes, sha256, signed: false };
  const key = await readLocation(keyLocation, o);
  if (!key)
    throw new MargoError(
      'AGENT_PACKAGE_UNREACHABLE',
      `signing key not found at ${showLocation(keyLocation)}`,
      { retry: 'backoff' },
    );
  const wantKey = expectedDigest(keyLocation, {});
  if (wantKey) {
    const keySha = createHash('sha256').update(key).digest('hex');
    if (keySha !== wantKey)
      throw new MargoError(
        'AGENT_CHECKSUM_MISMATCH',
        `signing key ${showLocation(keyLocation)} has sha256 ${keySha}, expected ${wantKey}`,
      );
  }
  const base = withoutFragment(packageLocation);
  const sig = (await readLocation(`${base}.sig`, o)) ?? (await readLocation(`${base}.asc`, o));
  if (!sig)
    throw new MargoError(
      'AGENT_SIGNATURE_INVALID',
      `keyLocation is set but no signature was found at ${showLocation(base)}.sig or .asc`,
    );
  await verifyDetachedSignature(bytes, sig, key, showLocation(packageLocation));
  return { bytes, sha256, signed: true };
}

export const COMPOSE_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];

function findComposeRoot(dir: string): string | null {
  if (COMPOSE_FILES.some((f) => existsSync(join(dir, f)))) return dir;
  const entries = readdirSync(dir).filter((e) => !e.startsWith('.'));
  if (entries.length === 1 && statSync(join(dir, entries[0]!)).isDirectory())
    return findComposeRoot(join(dir, entries[0]!));
  return null;
}

/** Default bound of an unpacked Compose package (a gzip bomb must not fill the disk). */
export const DEFAULT_MAX_UNPACKED_BYTES = 2 * 1024 * 1024 * 1024;

/**
 * Unpacks a tar(.gz) package into `dest` (replaced atomically by rename; nothing outside it, see
 * safe-extract.ts) and returns the folder holding the compose file. Throws AGENT_PACKAGE_INVALID,
 * AGENT_ARTIFACT_PATH_OUTSIDE, AGENT_ARTIFACT_TOO_LARGE.
 */
export async function unpackPackage(
  bytes: Buffer,
  dest: string,
  o: { maxUnpackedBytes?: number; what?: string } = {},
): Promise<{ root: string; composeFile: string }> {
  mkdirSync(join(dest, '..'), { recursive: true });
  const archive = `${dest}.download-${process.pid}`;
  writeFileSync(archive, bytes);
  try {
    return await unpackPackageFile(archive, dest, o);
  } finally {
    rmSync(archive, { force: true });
  }
}

/** `unpackPackage` of a package already in a file (a verified OCI layer). */
export async function unpackPackageFile(
  archive: string,
  dest: string,
  o: { maxUnpackedBytes?: number; what?: string } = {},
): Promise<{ root: string; composeFile: string }> {
  await safeExtract(archive, dest, {
    maxUnpackedBytes: o.maxUnpackedBytes ?? DEFAULT_MAX_UNPACKED_BYTES,
    what: o.what ?? 'package',
  });
  const root = findComposeRoot(dest);
  if (!root) {
    rmSync(dest, { recursive: true, force: true });
    throw new MargoError('AGENT_PACKAGE_INVALID', `package has no ${COMPOSE_FILES.join(' / ')} at its root`);
  }
  const composeFile = COMPOSE_FILES.find((f) => existsSync(join(root, f)))!;
  return { root, composeFile };
}
