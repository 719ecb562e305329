import { createHash } from 'node:crypto';

/** Fixed namespace of margo-gitops deployment ids (UUIDv5). Never change it: ids would change. */
export const DEPLOYMENT_ID_NAMESPACE = '4f3a1c2e-8d6b-5e7f-9a0b-1c2d3e4f5a6b';

const NS_BYTES = Buffer.from(DEPLOYMENT_ID_NAMESPACE.replace(/-/g, ''), 'hex');

/**
 * The stable deployment id of deployment `name` on device `deviceId`: a UUIDv5 (SHA-1) over a
 * fixed namespace and `<deviceId>/<name>`, so re-renders keep the id.
 *
 * @example
 * deploymentIdFor('edge-1', 'web'); // always the same UUID
 */
export function deploymentIdFor(deviceId: string, name: string): string {
  const h = createHash('sha1').update(NS_BYTES).update(`${deviceId}/${name}`, 'utf8').digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}
