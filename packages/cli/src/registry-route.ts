/**
 * `margo serve`'s embedded OCI registry (`/v2/`): the catalog's artifacts (CatalogLayoutSource)
 * served read-only by @margo-gitops/oci's handler, with margo tokens as Basic passwords like the
 * Git server. admin, operator and publisher tokens read everything; a device token reads only the
 * repositories its desired state references at this server's host (and the images bundled with
 * those applications), 403 DENIED otherwise without saying whether the repository exists.
 */
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { tokenFromHeader, type TokenVerifier } from '@margo-gitops/git';
import { createRegistryHandler, type RegistryAccess } from '@margo-gitops/oci';
import { isValidDeviceId, type FailureRateLimiter } from '@margo-gitops/spec';
import { CatalogLayoutSource } from './catalog-registry.js';
import { DeviceReferences } from './device-references.js';

export interface CatalogRegistryOptions {
  dataDir: string;
  tokens: TokenVerifier;
  /** Failed authentications per address (shared with the Git server and the catalog files). */
  failures?: FailureRateLimiter;
  /** Default: a reader of `<dataDir>/repos/devices` of its own. */
  references?: DeviceReferences;
  /** The server's public URL (its host[:port] is the registry host devices are given). */
  publicUrl: () => string;
  warn?: (message: string) => void;
}

/**
 * May a device whose desired state references `refs` (`<host>/<repository>`) read `repository` on
 * `host`? The referenced repositories, and `<appId>/images/*` of an application it references
 * (the container images bundled with it, which its Compose files name).
 */
export function deviceMayRead(refs: ReadonlySet<string>, host: string, repository: string): boolean {
  if (refs.has(`${host}/${repository}`)) return true;
  const m = /^([^/]+)\/images\//.exec(repository);
  if (!m) return false;
  for (const r of refs) if (r.startsWith(`${host}/${m[1]}/`)) return true;
  return false;
}

export function catalogRegistryHandler(o: CatalogRegistryOptions) {
  const references = o.references ?? new DeviceReferences(join(o.dataDir, 'repos', 'devices'));
  const source = new CatalogLayoutSource(join(o.dataDir, 'repos', 'catalog.git'), o.warn);
  const authorize = async (req: IncomingMessage, repository: string | undefined): Promise<RegistryAccess> => {
    const address = req.socket.remoteAddress ?? 'unknown';
    const blocked = o.failures?.retryAfterSeconds(address) ?? 0;
    if (blocked > 0) return { allow: false, status: 429, retryAfterSeconds: blocked };
    const t = tokenFromHeader(req.headers.authorization);
    const info = t ? o.tokens.verify(t) : undefined;
    if (!info) {
      if (t) o.failures?.fail(address);
      return { allow: false, status: 401 };
    }
    if (info.role !== 'device' || repository === undefined) return { allow: true };
    const id = info.deviceId ?? '';
    let host: string;
    try {
      host = new URL(o.publicUrl()).host.toLowerCase();
    } catch {
      return { allow: false, status: 403 };
    }
    if (isValidDeviceId(id) && deviceMayRead(await references.ociRepositories(id), host, repository))
      return { allow: true };
    return {
      allow: false,
      status: 403,
      message: `the desired state of device ${id} does not reference this repository`,
    };
  };
  return createRegistryHandler({
    source,
    cacheDir: join(o.dataDir, 'cache', 'oci-blobs'),
    authorize,
    ...(o.warn ? { onWarning: o.warn } : {}),
  });
}
