/**
 * The one definition of a device id, shared by every package: it must be usable as a certificate
 * common name, a file name, a Git repository name (`devices/<id>.git`) and a URL path segment.
 * 1-63 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit, no `..`, and not ending
 * in `.git` or `.lock`.
 */
export const DEVICE_ID_PATTERN_SOURCE = '^(?!.*\\.\\.)(?!.*\\.(?:git|lock)$)[A-Za-z0-9][A-Za-z0-9._-]{0,62}$';
export const DEVICE_ID_PATTERN = new RegExp(DEVICE_ID_PATTERN_SOURCE);
/** How to write a valid id, for error hints. */
export const DEVICE_ID_RULE =
  'use 1-63 of A-Z a-z 0-9 . _ -, starting with a letter or digit, without "..", not ending in .git or .lock';

/** True when `id` is a valid device id. */
export function isValidDeviceId(id: unknown): boolean {
  return typeof id === 'string' && DEVICE_ID_PATTERN.test(id);
}
