/** `oci://host[:port]/name` references, as `repository:` values and `--registry` options carry them. */
import { MargoError } from '@margo-gitops/spec';
import { isRepositoryName } from '../layout.js';

/**
 * `oci://host[:port]/name[/more]` -> `{ host, name }`; `allowEmptyName` accepts `oci://host[:port]`
 * (a registry root, e.g. `--registry oci://127.0.0.1:5001`). Throws OCI_NAME_INVALID.
 */
export function parseOciRepository(
  ref: string,
  o: { allowEmptyName?: boolean } = {},
): { host: string; name: string } {
  const m = /^oci:\/\/([^/@?#\s]+)(?:\/(.*?))?\/?$/.exec(ref);
  const host = m?.[1];
  const name = m?.[2] ?? '';
  const hostOk = !!host && /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/.test(host);
  if (!hostOk || (name ? !isRepositoryName(name) : !o.allowEmptyName)) {
    throw new MargoError(
      'OCI_NAME_INVALID',
      `${JSON.stringify(ref)} is not an OCI reference (oci://host[:port]/${o.allowEmptyName ? '[name]' : 'name'}, name in lower case)`,
    );
  }
  return { host: host!, name };
}

/** True for loopback hosts, where plain http is the usual choice of test registries. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}
