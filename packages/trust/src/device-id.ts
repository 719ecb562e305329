import { MargoError } from '@margo-gitops/spec';

const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/**
 * Throws TRUST_DEVICE_ID_INVALID unless `id` can be a certificate common name and a file name.
 *
 * @example
 * assertDeviceId('press-7'); // ok
 */
export function assertDeviceId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !DEVICE_ID.test(id) || id.includes('..')) {
    throw new MargoError(
      'TRUST_DEVICE_ID_INVALID',
      `device id ${JSON.stringify(String(id).slice(0, 80))} is not valid`,
      {
        data: { deviceId: String(id).slice(0, 80) },
      },
    );
  }
}

/** True when `id` is a valid device id (see assertDeviceId). */
export function isValidDeviceId(id: unknown): id is string {
  return typeof id === 'string' && DEVICE_ID.test(id) && !id.includes('..');
}
