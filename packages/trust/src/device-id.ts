import { DEVICE_ID_RULE, isValidDeviceId as validId, MargoError } from '@margo-gitops/spec';

/**
 * Throws TRUST_DEVICE_ID_INVALID unless `id` can be a certificate common name and a file name.
 *
 * @example
 * assertDeviceId('press-7'); // ok
 */
export function assertDeviceId(id: unknown): asserts id is string {
  if (!validId(id)) {
    throw new MargoError(
      'TRUST_DEVICE_ID_INVALID',
      `device id ${JSON.stringify(String(id).slice(0, 80))} is not valid`,
      {
        data: { deviceId: String(id).slice(0, 80) },
        hint: DEVICE_ID_RULE,
      },
    );
  }
}

/** True when `id` is a valid device id (see assertDeviceId). */
export function isValidDeviceId(id: unknown): id is string {
  return validId(id);
}
