/**
 * Which registry gets which credentials (pure). A component's `repository: oci://host[:port]/name`
 * is fetched:
 * - from the device's own server (host == host of the agent's server URL): that URL's scheme and
 *   the device's margo token (Basic), so the server's embedded registry needs no setup;
 * - from any other host: https (plain http only for hosts configured for it), with the
 *   deployment's MARGO_REGISTRY_* credentials only when their `server` is that very host.
 * The device token never leaves for another host, and a deployment's credentials never reach a
 * registry they were not given for.
 */
import type { RegistryCredentials } from './driver.js';

export interface RegistrySettings {
  /** The device's server (origin of its repository URL) and its token. */
  server?: { url: string; token: string };
  /** `host[:port]` reached over plain http (loopback test registries); `*` = every host. */
  plainHttpHosts: readonly string[];
  /** Largest artifact layer accepted, bytes. */
  maxArtifactBytes: number;
}

export type CredentialSource = 'device-token' | 'deployment' | 'anonymous';

export interface RegistryAccess {
  /** `host[:port]` as named by the repository (lower case). */
  host: string;
  /** `http://host` or `https://host`: the registry root (the client appends `/v2/...`). */
  baseUrl: string;
  credentials?: { username: string; password: string };
  /** Where the credentials come from (for messages; never the secret). */
  source: CredentialSource;
}

/** Default largest artifact layer (the same default as the server's push limit). */
export const DEFAULT_MAX_ARTIFACT_BYTES = 512 * 1024 * 1024;

/** Settings with defaults filled in (no server: only deployment credentials, https everywhere). */
export function registrySettings(o: Partial<RegistrySettings> = {}): RegistrySettings {
  return {
    ...(o.server ? { server: o.server } : {}),
    plainHttpHosts: o.plainHttpHosts ?? [],
    maxArtifactBytes: o.maxArtifactBytes ?? DEFAULT_MAX_ARTIFACT_BYTES,
  };
}

/** User name sent with the device token (the embedded registry ignores it, like git). */
export const DEVICE_REGISTRY_USER = 'device';

/** `host[:port]` of a registry server as users write it: `https://h:1/`, `h:1`, `H:1/ns` -> `h:1`. */
export function registryHost(server: string): string {
  return server
    .trim()
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')
    .replace(/\/.*$/, '')
    .toLowerCase();
}

/** The same host, with a default port (443 for https, 80 for http) written or not. */
function sameHost(a: string, b: string, scheme: 'http' | 'https'): boolean {
  const strip = (h: string) => h.replace(scheme === 'https' ? /:443$/ : /:80$/, '');
  return strip(a) === strip(b);
}

/** How to reach the registry of `host` and with which credentials. */
export function registryAccess(
  host: string,
  settings: RegistrySettings,
  deploymentCredentials?: RegistryCredentials,
): RegistryAccess {
  const h = host.toLowerCase();
  const server = settings.server ? parseServer(settings.server.url) : undefined;
  if (server && settings.server && sameHost(h, server.host, server.scheme)) {
    return {
      host: h,
      baseUrl: `${server.scheme}://${h}`,
      credentials: { username: DEVICE_REGISTRY_USER, password: settings.server.token },
      source: 'device-token',
    };
  }
  const plain = settings.plainHttpHosts.some((p) => p === '*' || registryHost(p) === h);
  const scheme = plain ? 'http' : 'https';
  const creds =
    deploymentCredentials && sameHost(registryHost(deploymentCredentials.server), h, scheme)
      ? { username: deploymentCredentials.username, password: deploymentCredentials.password }
      : undefined;
  return {
    host: h,
    baseUrl: `${scheme}://${h}`,
    ...(creds ? { credentials: creds } : {}),
    source: creds ? 'deployment' : 'anonymous',
  };
}

function parseServer(url: string): { host: string; scheme: 'http' | 'https' } | undefined {
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
    return { host: u.host.toLowerCase(), scheme: u.protocol === 'http:' ? 'http' : 'https' };
  } catch {
    return undefined;
  }
}
