/**
 * The registry settings each driver gets from the agent configuration: the device's own server
 * (its repository URL's origin) with the device token, the hosts reached over plain http, and the
 * artifact size limit. The deprecated booleans `ociPlainHttp` (Compose) and `helmPlainHttp` (Helm)
 * of older configurations still mean "plain http to every registry" for their driver.
 */
import type { AgentConfig } from '../config/agent-config.js';
import type { RegistrySettings } from './registry-access.js';

export function driverRegistrySettings(
  c: Pick<
    AgentConfig,
    'repoUrl' | 'token' | 'ociPlainHttp' | 'helmPlainHttp' | 'ociPlainHttpHosts' | 'maxArtifactBytes'
  >,
): { compose: RegistrySettings; helm: RegistrySettings } {
  const server = serverOf(c.repoUrl, c.token);
  const base = (allPlain: boolean): RegistrySettings => ({
    ...(server ? { server } : {}),
    plainHttpHosts: allPlain ? ['*'] : [...c.ociPlainHttpHosts],
    maxArtifactBytes: c.maxArtifactBytes,
  });
  return { compose: base(c.ociPlainHttp), helm: base(c.helmPlainHttp) };
}

/** The server a device repository URL belongs to (`http(s)://host[:port]`), with the token. */
function serverOf(repoUrl: string, token: string | undefined): RegistrySettings['server'] {
  if (!token) return undefined;
  try {
    const u = new URL(repoUrl);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
    return { url: u.origin, token };
  } catch {
    return undefined;
  }
}
