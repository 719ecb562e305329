import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { MargoError } from '@margo-gitops/spec';

/**
 * SHA-256 of a token as lower-case hex: the only form in which margo-gitops stores tokens.
 * (Tokens are 256-bit random values, so a fast hash is enough; no salt is needed.)
 *
 * @example
 * hashToken('mge_x7...'); // '9f86d0...'
 */
export function hashToken(plaintext: string): string {
  return createHash('sha256').update(plaintext, 'utf8').digest('hex');
}

/** Constant-time comparison of a plaintext token against a stored hash. */
export function tokenMatchesHash(plaintext: string, hash: string): boolean {
  const a = Buffer.from(hashToken(plaintext), 'hex');
  const b = Buffer.from(hash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * A new random token `<prefix>_<43 base64url chars>` (256 bits). The prefix makes leaked tokens
 * recognisable by secret scanners (`mge` enrolment, `mgc` client secret, `mgt` git, ...).
 *
 * @example
 * generateToken('mgt'); // 'mgt_Qm9...'
 */
export function generateToken(prefix: string): string {
  if (!/^[a-z][a-z0-9]{0,15}$/.test(prefix))
    throw new MargoError(
      'USAGE_ERROR',
      `token prefix ${JSON.stringify(prefix)} must be lower-case letters and digits`,
    );
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}
